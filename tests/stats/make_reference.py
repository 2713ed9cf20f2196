#!/usr/bin/python3
"""Reference values for tests/stats/ from SciPy 1.10 / scikit-learn 1.2 (Debian python3-scipy,
python3-sklearn). Run with Debian's interpreter:  /usr/bin/python3 tests/stats/make_reference.py
Writes tests/stats/reference.json next to this script: the inputs and SciPy's outputs. CI reads the
JSON only; rerun this script only to regenerate it (inputs are fixed by seeds below)."""
import json
import os
import warnings

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

warnings.simplefilter("ignore")
rng = np.random.RandomState(20261129)


def fl(a):
    return [float(v) for v in np.asarray(a, dtype=float).ravel()]


def res(fn, *args, **kw):
    """statistic/pvalue, or defined = False where SciPy raises or returns NaN."""
    try:
        r = fn(*args, **kw)
    except ValueError as e:
        return {"defined": False, "error": str(e)}
    s, p = float(r[0]), float(r[1])
    if np.isnan(s) or np.isnan(p):
        return {"defined": False, "error": "nan"}
    return {"defined": True, "statistic": s, "pvalue": p}


out = {"versions": {"scipy": scipy.__version__, "sklearn": sklearn.__version__,
                    "numpy": np.__version__}}

# ---- paired: Wilcoxon, paired t -------------------------------------------------------------
paired = []
def add_paired(name, x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    d = x - y
    case = {"name": name, "x": fl(x), "y": fl(y),
            "wilcoxon": res(stats.wilcoxon, x, y), "ttest_rel": res(stats.ttest_rel, x, y)}
    nz = d[d != 0]
    if nz.size:  # matched-pairs rank-biserial, numpy formula (Kerby 2014)
        r = stats.rankdata(np.abs(nz))
        case["rank_biserial"] = float((r[nz > 0].sum() - r[nz < 0].sum()) / r.sum())
    if d.size > 1 and d.std(ddof=1) > 0:
        case["d_z"] = float(d.mean() / d.std(ddof=1))
    paired.append(case)

add_paired("exact_n10_distinct", rng.normal(0.3, 1, 10), rng.normal(0, 1, 10))
x = np.round(rng.normal(0.5, 1, 14), 1); y = np.round(rng.normal(0, 1, 14), 1)
y[x == y] += 0.05
add_paired("exact_n14_ties", x, y)                       # tied |d|, no zeros: SciPy stays exact
add_paired("exact_halfinteger_rplus", [1, 2, 3, 4, 5, 6], [0, 0, 1, 2, 8, 3])  # |d| 1,2,2,2,3,3
add_paired("exact_n50", rng.normal(0.2, 1, 50), rng.normal(0, 1, 50))
add_paired("exact_center", [1, 2, -3, 4, -5, 6, -7], [0] * 7)
x = np.round(rng.normal(0.3, 1, 20), 1); y = x.copy(); y[::3] = np.round(rng.normal(0, 1, 7), 1)
add_paired("zeros_n20_approx", x, y)                     # zeros → approx even though n ≤ 50
add_paired("approx_n51", rng.normal(0.1, 1, 51), rng.normal(0, 1, 51))
add_paired("approx_n200_ties", np.round(rng.normal(0.1, 1, 200), 1), np.round(rng.normal(0, 1, 200), 1))
add_paired("all_zero", [1, 2, 3, 4], [1, 2, 3, 4])
add_paired("n1", [3.0], [1.0])
add_paired("n2", [3.0, 1.0], [1.0, 2.5])
out["paired"] = paired

# ---- Friedman ---------------------------------------------------------------------------------
fried = []
for name, groups in [
    ("k3_n12_ties", [np.round(rng.normal(m, 1, 12), 0) for m in (0, 0.5, 1)]),
    ("k4_n30", [rng.normal(m, 1, 30) for m in (0, 0.2, 0.1, 0.4)]),
    ("k3_n5", [[1, 2, 3, 4, 5], [2, 3, 4, 5, 6], [3, 1, 5, 7, 2]]),
    ("k3_partial_ties", [[1, 1, 2, 3], [1, 2, 2, 4], [1, 3, 2, 1]]),
]:
    fried.append({"name": name, "groups": [fl(g) for g in groups],
                  "result": res(stats.friedmanchisquare, *groups)})
out["friedman"] = fried

# ---- two samples: Mann-Whitney, Welch, Cliff's delta, Cohen's d -------------------------------
two = []
def add_two(name, x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    case = {"name": name, "x": fl(x), "y": fl(y),
            "mannwhitneyu": res(stats.mannwhitneyu, x, y),
            "welch": res(stats.ttest_ind, x, y, equal_var=False)}
    if x.size and y.size:
        diff = np.sign(x[:, None] - y[None, :])
        case["cliffs_delta"] = float(diff.mean())
        n1, n2 = x.size, y.size
        if n1 + n2 >= 3:
            sp = np.sqrt(((n1 - 1) * x.var(ddof=1 if n1 > 1 else 0) +
                          (n2 - 1) * y.var(ddof=1 if n2 > 1 else 0)) / (n1 + n2 - 2))
            if sp > 0:
                case["cohens_d"] = float((x.mean() - y.mean()) / sp)
    two.append(case)

add_two("exact_5_7", rng.normal(0, 1, 5), rng.normal(1, 1, 7))
add_two("exact_8_20", rng.normal(0, 1, 8), rng.normal(0.8, 1, 20))
add_two("exact_3_40", rng.normal(1, 1, 3), rng.normal(0, 1, 40))
add_two("asym_ties_6_9", np.round(rng.normal(0, 1, 6)), np.round(rng.normal(0.5, 1, 9)))
add_two("asym_12_15_ties", np.round(rng.normal(0, 1, 12), 1), np.round(rng.normal(0.6, 1, 15), 1))
add_two("asym_40_55", rng.normal(0, 1, 40), rng.normal(0.3, 1.5, 55))
add_two("asym_9_9", rng.normal(0, 1, 9), rng.normal(0.9, 1, 9))
add_two("all_equal", [2.0] * 6, [2.0] * 5)
add_two("welch_3_50", rng.normal(0, 2, 3), rng.normal(1, 1, 50))
add_two("one_constant", [1.0, 1.0, 1.0, 1.0], [0.5, 1.5, 2.0, 0.7, 1.1])
add_two("empty_y", [1.0, 2.0, 3.0], [])
add_two("exact_20_6_n1_gt_n2", [0.1 * i for i in range(20)], [0.033 + 0.37 * i for i in range(6)])
out["two_sample"] = two

# ---- correlations vs level ----------------------------------------------------------------------
corr = []
def add_corr(name, x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    corr.append({"name": name, "x": fl(x), "y": fl(y),
                 "spearmanr": res(stats.spearmanr, x, y),
                 "kendalltau": res(stats.kendalltau, x, y)})

add_corr("exact_n12", rng.normal(0, 1, 12), rng.normal(0, 1, 12))
a = rng.normal(0, 1, 33); add_corr("exact_n33", a, a + rng.normal(0, 1.5, 33))
a = rng.normal(0, 1, 40); add_corr("asym_n40_noties", a, a + rng.normal(0, 2, 40))
lev = rng.randint(1, 6, 100).astype(float)
add_corr("levels_n100", lev, 0.2 * lev + rng.normal(0, 1, 100))
lev = rng.randint(1, 6, 25).astype(float)
add_corr("levels_n25_ties_both", lev, np.round(0.3 * lev + rng.normal(0, 1, 25)))
add_corr("perfect_n8", [1, 2, 3, 4, 5, 6, 7, 8], [2, 4, 5, 9, 11, 12, 20, 21])
add_corr("n40_one_discordant", list(range(40)), list(range(38)) + [39, 38])
add_corr("n100_one_discordant", list(range(100)), list(range(98)) + [99, 98])  # exact, c = 1
add_corr("n200_no_discordant", list(range(200)), list(range(200)))  # exact, 2/200! underflows to 0
add_corr("constant_y", [1, 2, 3, 4, 5], [3, 3, 3, 3, 3])
out["correlation"] = corr

# ---- 2x2 tables ------------------------------------------------------------------------------
tables = []
for t in [[[8, 2], [1, 5]], [[3, 1], [1, 3]], [[0, 5], [5, 0]], [[20, 15], [12, 30]],
          [[100, 50], [40, 90]], [[1, 9], [11, 3]], [[5, 5], [5, 5]], [[2, 7], [8, 2]],
          [[0, 10], [3, 7]], [[30, 1], [25, 9]], [[0, 0], [4, 5]]]:
    tables.append({"table": t, "fisher_exact": res(stats.fisher_exact, t),
                   "chi2_contingency": res(lambda tt: stats.chi2_contingency(tt)[:2], t)})
out["tables"] = tables

# ---- BH q-values (textbook step-up, numpy; scipy 1.10 has no false_discovery_control) ----------
def bh(p):
    p = np.asarray(p, float)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    q = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out_q = np.empty(m)
    out_q[order] = np.minimum(q, 1.0)
    return out_q
bh_cases = []
for p in [[0.01, 0.04, 0.03, 0.005, 0.5, 0.04, 0.9], list(rng.uniform(0, 0.2, 25)), [0.8, 0.9, 0.95]]:
    bh_cases.append({"p": fl(p), "q": fl(bh(p))})
out["bh"] = bh_cases

# ---- PCA (StandardScaler + PCA(svd_solver='full')) and silhouette ------------------------------
pcas = []
for name, X in [("n40_p6_correlated", rng.normal(0, 1, (40, 3)) @ rng.normal(0, 1, (3, 6)) + 0.3 * rng.normal(0, 1, (40, 6))),
                ("n12_p4", rng.normal(0, 1, (12, 4)) * [1, 10, 0.1, 3]),
                ("n5_p8_wide", rng.normal(0, 1, (5, 8)))]:
    Z = StandardScaler().fit_transform(X)
    p = PCA(svd_solver="full").fit(Z)
    pcas.append({"name": name, "X": [fl(r) for r in X],
                 "explained_variance": fl(p.explained_variance_),
                 "explained_variance_ratio": fl(p.explained_variance_ratio_),
                 "components": [fl(r) for r in p.components_],
                 "scores": [fl(r) for r in p.transform(Z)]})
out["pca"] = pcas

sils = []
X = np.vstack([rng.normal(c, 0.7, (10, 3)) for c in (0, 2, 4)])
sils.append({"name": "three_blobs", "X": [fl(r) for r in X], "labels": [i // 10 for i in range(30)],
             "silhouette": float(silhouette_score(X, [i // 10 for i in range(30)]))})
lab = list(rng.randint(0, 4, 30)); lab[0] = 4  # label 4 is a singleton cluster
sils.append({"name": "random_labels_singleton", "X": [fl(r) for r in X], "labels": [int(v) for v in lab],
             "silhouette": float(silhouette_score(X, lab))})
out["silhouette"] = sils

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote reference.json with scipy", scipy.__version__, "sklearn", sklearn.__version__)
