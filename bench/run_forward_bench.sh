#!/usr/bin/env bash
# Reproduces the performance tables of docs/performance.md with one command:
#   bench/run_forward_bench.sh [BUILD_DIR]        (default build/ci; needs the built benches)
# Runs bench_matmul on both shapes, then bench_forward over shape × layers × tokens × threads
# (bf16, all per-token statistics), plus the fp32 and exact passes for comparison; appends every JSON line to
# $OUT (default bench-results/forward-<UTC time>.jsonl) and prints the Markdown tables, then the
# performance issue's goals that its rows show (met / NOT met / not run).
# About 10 minutes on an idle 2-core machine; the random checkpoints (0.9 GB, 3.1 GB and 4.0 GB)
# stay in /tmp for reuse. "long" adds 8192 and 16384 tokens for the 0.5B shape and "full7b" the 7B
# shape at its full 28 layers (a 15 GB checkpoint, written streamed) at 2048 and 8192 tokens: on a
# CPU without bf16 matrix support these run the fp32 kernels and take hours, so they are left to
# AMX/AVX512-BF16 machines there. "torch" measures the notebook stack beside us: the 0.5B shape at
# 512 tokens in each of our precisions, then the same checkpoint and ids in plain PyTorch
# (bench/torch_forward.py, transformers' eager operations; fp32 and bf16, forward alone and with
# log-probs), alternated, twice; it needs Debian's PyTorch (scripts/install-deps.sh --torch; the
# interpreter is $TORCH_PYTHON, default /usr/bin/python3) and says so where it is missing.
# "torch8k" (not in the default: about 20 minutes) does the same at 8192 tokens, once each, a
# process per PyTorch precision so that each peak RSS is its own.
# "three7b" (not in the default: 46 GB of disk, some 25 minutes on AVX512-BF16, hours without
# bf16 support) measures the three-model goal: three 7B-shaped checkpoints (28 layers, BF16,
# streamed, each in its own directory with the demo's real-vocabulary tokenizer) over
# $THREE_TEXTS (2) synthetic traces of about $THREE_TOKENS (4096) tokens, `logitscope run
# --precision bf16` first with one model, then with all three, each under /usr/bin/time -v: each
# model's forward rate against the one model's alone, the peak RSS, the file-system reads.
# $THREE_LAYERS (28) and $THREE_DIR (/tmp/lsc_three7b-L<layers>) change the shape and place;
# $THREE_DTYPES ("bf16 bf16 bf16") the stored dtype of a, b and c: "bf16 bf16 f32" is the study's
# case of an RL checkpoint saved in F32 (30 GB at 28 layers; run at bf16 from its rounded copies).
# SECTIONS="matmul attention small large long full7b fp32 torch" (the default) runs a part, e.g.
# to keep each run short on a shared machine; SECTIONS=none only prints the tables of $OUT.
# Results are only as good as the machine's quietness: the load average is recorded at the start.
set -euo pipefail
BUILD=${1:-build/ci}
mkdir -p bench-results
OUT=${OUT:-bench-results/forward-$(date -u +%Y%m%dT%H%M%SZ).jsonl}
SECTIONS=${SECTIONS:-matmul attention small large long full7b fp32 torch}
: >> "$OUT"
echo "bench: appending to $OUT (sections: $SECTIONS; load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
run() { "$BUILD/bench/bench_forward" "$@" | tee -a "$OUT"; }

if has matmul; then
  for th in 2 1; do
    OMP_NUM_THREADS=$th "$BUILD/bench/bench_matmul" --model all --reps 5 | tee -a "$OUT"
  done
fi
if has attention; then
  for T in 512 2048; do
    "$BUILD/bench/bench_attention" --tokens "$T" --threads 2 --reps 5 | tee -a "$OUT"
  done
fi
if has small; then
  for th in 2 1; do
    for T in 512 2048; do
      run --shape 0.5b --tokens "$T" --threads "$th" --reps 3
    done
  done
fi
if has large; then
  for L in 2 4; do
    for T in 512 2048; do
      run --shape 7b --layers "$L" --tokens "$T" --threads 2 --reps 3
    done
  done
  run --shape 7b --layers 2 --tokens 512 --threads 1 --reps 3
fi
if has long; then
  for T in 8192 16384; do
    run --shape 0.5b --tokens "$T" --threads 2 --reps 1
  done
fi
if has full7b; then
  for T in 2048 8192; do
    run --shape 7b --layers 28 --tokens "$T" --threads 2 --reps 1
  done
fi
if has fp32; then
  run --shape 0.5b --tokens 512 --threads 2 --reps 1 --precision fp32
  run --shape 0.5b --tokens 512 --threads 2 --reps 1 --precision exact
  run --shape 7b --layers 2 --tokens 512 --threads 2 --reps 1 --precision fp32
  # At a real trace's length, where exact's fast attention (AVX-512 without AMX) or split-bf16
  # (AMX) and fp32's reference attention differ most.
  run --shape 0.5b --tokens 8192 --threads 2 --reps 1 --precision fp32
  run --shape 0.5b --tokens 8192 --threads 2 --reps 1 --precision exact
fi
PY=${TORCH_PYTHON:-/usr/bin/python3}
# PyTorch for a torch section, or a line saying why the section is skipped.
torch_ok() {
  "$PY" -c 'import torch' 2>/dev/null && return 0
  echo "bench: $1 section skipped: $PY cannot import torch (scripts/install-deps.sh --torch)" >&2
  return 1
}
# PyTorch's pass on the 0.5B bench checkpoint (written by the 0.5B runs before it).
torch_pass() {
  "$PY" "$(dirname "$0")/torch_forward.py" --dir /tmp/lsc_bench_qwen2-0.5b-L24 --shape qwen2-0.5b --threads 2 "$@" |
    tee -a "$OUT"
}
if has torch && torch_ok torch; then
  lp=$(mktemp -d)
  for round in 1 2; do
    for p in bf16 exact fp32; do
      run --shape 0.5b --tokens 512 --threads 2 --reps 3 --precision "$p"
    done
    torch_pass --tokens 512 --reps 3 --precision fp32 --precision bf16 --logprobs-out "$lp/torch.json"
  done
  # The same 512 ids through `logitscope logits`, each precision against PyTorch's fp32 log-probs:
  # exact and fp32 within the fixtures' 1e-4, bf16 within their bf16 bound (0.5).
  "$PY" -c 'import json, sys; print(" ".join(map(str, json.load(open(sys.argv[1]))["ids"])))' \
    "$lp/torch.json" > "$lp/ids.txt"
  for p in exact fp32 bf16; do
    "$BUILD/logitscope" logits --model /tmp/lsc_bench_qwen2-0.5b-L24 --ids-file "$lp/ids.txt" \
      --precision "$p" --threads 2 --summary "$lp/$p.json"
    tol=1e-4; [ "$p" = bf16 ] && tol=0.5
    "$PY" "$(dirname "$0")/check_torch_logprobs.py" --torch "$lp/torch.json" --summary "$lp/$p.json" --tol "$tol" >&2
  done
  rm -rf "$lp"
fi
if has torch8k && torch_ok torch8k; then
  for p in bf16 exact; do
    run --shape 0.5b --tokens 8192 --threads 2 --reps 1 --precision "$p"
  done
  for p in fp32 bf16; do  # a process each: each peak RSS its own
    torch_pass --tokens 8192 --reps 1 --warmup 0 --precision "$p"
  done
fi
if has three7b && { [ -x /usr/bin/time ] || { echo "bench: three7b section skipped: no /usr/bin/time (scripts/install-deps.sh installs it)" >&2; false; }; }; then
  L=${THREE_LAYERS:-28} T=${THREE_TOKENS:-4096} N=${THREE_TEXTS:-2}
  read -r -a DTYPES <<< "${THREE_DTYPES:-bf16 bf16 bf16}"
  D=${THREE_DIR:-/tmp/lsc_three7b-L$L}
  mkdir -p "$D"
  # The demo's base checkpoint carries a tokenizer with Qwen2's real vocabulary.
  [ -f "$D/demo/checkpoints/base/tokenizer.json" ] || "$BUILD/logitscope" demo --out "$D/demo" --quiet
  i=0
  for m in a b c; do  # distinct files: the page cache cannot share them
    "$BUILD/bench/bench_forward" --shape 7b --layers "$L" --dir "$D/$m" --dtype "${DTYPES[$i]:-bf16}" --tokens 16 \
      --reps 1 --ceiling 0 >/dev/null
    i=$((i + 1))
    cp "$D/demo/checkpoints/base/tokenizer.json" "$D/demo/checkpoints/base/tokenizer_config.json" "$D/$m/"
  done
  # Reasoning-like traces of about T tokens each (about one token per word here), keywords included.
  python3 - "$T" "$N" > "$D/traces.jsonl" <<'GEN'
import json, random, sys
T, N = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(7)
parts = ["Wait, let me check this step again.", "So the sum is {a} + {b} = {c}.", "Hmm, actually that is not right.",
         "Therefore the next term is {c}.", "Let me think about the case where n = {a}.", "However, {b} is odd, so we divide by {a}.",
         "Aha, the pattern repeats every {b} steps.", "We multiply both sides by {a} and get {c}."]
for t in range(N):
    words, answer = 0, []
    while words < 0.79 * T:  # about 1.26 tokens per counted word (digits are single tokens)
        a, b = rnd.randint(2, 99), rnd.randint(2, 99)
        s = rnd.choice(parts).format(a=a, b=b, c=a + b)
        answer.append(s)
        words += len(s.split()) + 2
    print(json.dumps({"query": f"Problem {t}: find the sum of the series.", "answer": " ".join(answer), "level": 1 + t % 5,
                      "is_correct": t % 2 == 0}))
GEN
  for k in 1 3; do
    models=(--model a="$D/a")
    [ "$k" = 3 ] && models+=(--model b="$D/b" --model c="$D/c")
    rm -rf "$D/out-$k"
    /usr/bin/time -v -o "$D/time-$k.txt" "$BUILD/logitscope" run "${models[@]}" --data "$D/traces.jsonl" \
      --out "$D/out-$k" --precision bf16 --threads 2 --progress-interval 60
    python3 - "$D/time-$k.txt" "$D/out-$k/results.sqlite" "$L" "$N" <<'ROW' | tee -a "$OUT"
import json, re, sqlite3, sys
time_v, db, layers, texts = open(sys.argv[1]).read(), sqlite3.connect(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
field = lambda name: re.search(re.escape(name) + r": (\S+)", time_v).group(1)
meta = dict(db.execute("SELECT key, value FROM meta"))
timing = json.loads(meta["timing_json"])
precision, isa = db.execute("SELECT precision, isa FROM models WHERE model_idx = 0").fetchone()
stored = dict(db.execute("SELECT name, dtypes FROM models"))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({"name": "run_models", "cpu": cpu, "precision": precision, "isa": isa, "shape": "qwen2-7b",
                  "layers": layers, "models": len(timing["models"]), "texts": texts,
                  "tokens_per_text": timing["models"][0]["forward_tokens"] // texts,
                  "peak_rss_gib": int(field("Maximum resident set size (kbytes)")) / 2**20,
                  "fs_read_gb": int(field("File system inputs")) * 512 / 1e9, "wall": field("Elapsed (wall clock) time (h:mm:ss or m:ss)"),
                  "measure_s": timing["measure_s"],
                  "per_model": [{"name": m["name"], "tok_s": m["tokens_per_second"], "prepare_s": m["prepare_s"],
                                 "dtypes": stored.get(m["name"], "?")} for m in timing["models"]]}))
ROW
  done
fi

python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def table(caption, *cols):
    """A Markdown table's caption, header and separator lines."""
    print(caption)
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
fw = [r for r in rows if r["name"] == "forward"]
if fw:
    r0 = fw[0]
    table(f"\nCPU: {r0['cpu']} (ISA {r0['isa']}, bf16 {r0.get('bf16_impl', '?')}), commit {r0['commit']}, {r0['compiler']}\n", "shape", "layers", "tokens", "threads", "precision (ISA)", "tok/s", "s per pass: median (p10-p90)", "GEMM ceiling tok/s (GFLOP/s)", "% of ceiling", "% with attention", "stats share", "peak RSS GiB", "extrapolated to 28 layers GiB")
    for r in fw:
        ext = r.get("peak_rss_28_layers_gib_extrapolated")
        # a run with --ceiling 0 has no ceiling fields
        ceil = f"{r['ceiling_tok_s']:.1f} ({r['ceiling_gflops']:.0f})" if "ceiling_tok_s" in r else "–"
        frac = f"{100*r['frac_of_ceiling']:.0f}%" if "frac_of_ceiling" in r else "–"
        # the attention's products counted at the GEMM rate too (rows from before it was recorded: –)
        fatt = f"{100*r['frac_of_ceiling_with_attention']:.0f}%" if "frac_of_ceiling_with_attention" in r else "–"
        print(f"| {r['shape']} | {r['layers']} | {r['tokens']} | {r['threads']} | {'' if r['precision'].startswith(r.get('precision_requested', r['precision'])) else r['precision_requested'] + ' → '}{r['precision']} ({r['isa']}) | "
              f"{r['tok_s']:.1f} | {r['median_s']:.2f} ({r['p10_s']:.2f}-{r['p90_s']:.2f}) | "
              f"{ceil} | "
              f"{frac} | {fatt} | {100*r['stats_share']:.1f}% | {r['peak_rss_gib']:.2f} | "
              f"{'' if ext is None else f'{ext:.2f}'} |")
mm = [r for r in rows if r["name"] == "matmul"]
if mm:
    table("\nbf16 matrix products, GFLOP/s (median of 5):\n", "model", "product", "M×N×K", "threads", "oneDNN plain", "oneDNN packed", "logitscope tiles, plain", "logitscope tiles, packed (used)")
    key = {}
    for r in mm:
        key.setdefault((r["model"], r["proj"], r["m"], r["n"], r["k"], r["threads"]), {})[r["variant"]] = r["gflops"]
    for (model, proj, m, n, k, th), v in key.items():
        f = lambda name: f"{v[name]:.0f}" if name in v else "-"
        print(f"| {model} | {proj} | {m}×{n}×{k} | {th} | {f('onednn_plain')} | {f('onednn_packed')} | {f('logitscope_blocked')} | {f('logitscope_packed')} |")
tr = [r for r in rows if r["name"] == "torch"]
if tr:
    table("\nThe notebook stack on the same machine: plain PyTorch running transformers' eager Qwen2 operations (bench/torch_forward.py) on the same checkpoint and ids, median of its reps:\n", "shape", "layers", "tokens", "threads", "precision", "torch", "forward tok/s", "with log-probs tok/s", "peak RSS GiB", "ours (the last run before it at this length) ÷ with log-probs")
    for r in tr:
        ours = "exact" if r["precision"] == "fp32" else "bf16"
        o = [f for f in rows[:rows.index(r)] if f["name"] == "forward" and f["shape"] == r["shape"] and f["layers"] == r["layers"]
             and f["tokens"] == r["tokens"] and f["threads"] == r["threads"]
             and f.get("precision_requested", f["precision"]) == ours]
        x = f"{ours} {o[-1]['tok_s']:.1f} tok/s, peak RSS {o[-1]['peak_rss_gib']:.2f} GiB: {o[-1]['tok_s'] / r['logprobs_tok_s']:.2f}x" if o else "–"
        rss = f"{r['peak_rss_gib']:.2f}" if "peak_rss_gib" in r else "–"
        print(f"| {r['shape']} | {r['layers']} | {r['tokens']} | {r['threads']} | {r['precision']} | {r['torch']} | "
              f"{r['forward_tok_s']:.1f} | {r['logprobs_tok_s']:.1f} | {rss} | {x} |")
at = [r for r in rows if r["name"] == "attention"]
if at:
    table("\nAttention alone, one layer, each kernel (bf16: bf16 tiles; fp32: the exact precision's fast one; exact: the fp32 precision's reference arithmetic), against the fp32 FMA peak measured in the same run:\n", "shape", "heads (kv) × d", "tokens", "threads", "kernel", "ms per layer", "GFLOP/s", "% of fp32 FMA peak")
    for r in at:
        print(f"| {r['shape']} | {r['heads']} ({r['kv_heads']}) × {r['head_dim']} | {r['tokens']} | {r['threads']} | "
              f"{r.get('kernel', '?')} | {1e3*r['median_s']:.2f} | {r['gflops']:.0f} | {100*r['frac_of_fma_peak']:.0f}% |")
rm_rows = [r for r in rows if r["name"] == "run_models"]
if rm_rows:
    table(f"\nWhole runs (`logitscope run`, bf16, under /usr/bin/time -v; CPU: {rm_rows[0]['cpu']}):\n", "models", "shape", "layers", "texts × tokens", "precision (ISA)", "forward tok/s per model (packing s)", "measuring s", "peak RSS GiB", "read from disk GB", "wall")
    for r in rm_rows:
        per = ", ".join(f"{m['name']}{' (' + m['dtypes'] + ')' if m.get('dtypes', 'BF16') != 'BF16' else ''} {m['tok_s']:.1f} ({m['prepare_s']:.0f})" for m in r["per_model"])
        print(f"| {r['models']} | {r['shape']} | {r['layers']} | {r['texts']} × {r['tokens_per_text']} | {r['precision']} ({r['isa']}) | {per} | "
              f"{r['measure_s']:.1f} | {r['peak_rss_gib']:.2f} | {r['fs_read_gb']:.1f} | {r['wall']} |")

# The performance issue's goals that this file's rows can show. The last matching row counts.
def last(shape, layers, tokens, precision, threads=2):
    m = [r for r in fw if r["shape"] == shape and r["layers"] == layers and r["tokens"] == tokens
         and r["threads"] == threads and r.get("precision_requested", r["precision"]) == precision]
    return m[-1] if m else None
def frac_goal(what, r, goal):
    if r is None or "frac_of_ceiling" not in r:
        return f"| {what} | ≥ {100*goal:.0f}% of the ceiling | not run |"
    f = r["frac_of_ceiling"]
    att = f"; {100*r['frac_of_ceiling_with_attention']:.0f}% counting the attention's products" if "frac_of_ceiling_with_attention" in r else ""
    return f"| {what} | ≥ {100*goal:.0f}% of the ceiling | {100*f:.0f}% ({r['tok_s']:.1f} tok/s{att}): {'met' if f >= goal else 'NOT met'} |"
if fw or rm_rows:
    isa = fw[0]["isa"] if fw else rm_rows[0]["isa"]
    table("\nGoals of the performance issue (ISA " + isa + "; the AMX figures are the ones that count):\n", "goal", "target", "this run")
    print(frac_goal("0.5B bf16, 512 tokens, 2 threads", last("qwen2-0.5b", 24, 512, "bf16"), 0.80))
    print(frac_goal("0.5B bf16, 8192 tokens, 2 threads", last("qwen2-0.5b", 24, 8192, "bf16"), 0.60))
    print(frac_goal("7B bf16, 28 layers, 2048 tokens", last("qwen2-7b", 28, 2048, "bf16"), 0.80))
    r = last("qwen2-7b", 28, 8192, "bf16")
    if r is None:
        print("| 7B bf16, 28 layers, 8192 tokens | peak RSS ≤ weights + 2 GiB | not run |")
    else:
        ok = r["peak_rss_gib"] <= r["weights_gib"] + 2
        print(f"| 7B bf16, 28 layers, 8192 tokens | peak RSS ≤ weights + 2 GiB | {r['peak_rss_gib']:.2f} GiB, weights {r['weights_gib']:.2f}: {'met' if ok else 'NOT met'} |")
    e, f = last("qwen2-0.5b", 24, 512, "exact"), last("qwen2-0.5b", 24, 512, "fp32")
    if e is None or f is None:
        print("| exact against fp32, 0.5B, 512 tokens | ≥ 3x | not run |")
    else:
        x = e["tok_s"] / f["tok_s"]
        how = e["precision"] if e["precision"].startswith("exact") else f"exact → {e['precision']}"
        print(f"| {how} against fp32, 0.5B, 512 tokens | ≥ 3x | {x:.2f}x ({e['tok_s']:.1f} / {f['tok_s']:.1f} tok/s): {'met' if x >= 3 else 'NOT met'} |")
    # Three 7B models in one run against the first of them alone, the same traces.
    three = [r for r in rm_rows if r["models"] == 3 and r["layers"] == 28]
    # The one-model run of the same machine and traces, before the three-model one.
    one = [r for r in rm_rows[:rm_rows.index(three[-1])] if r["models"] == 1 and
           all(r[k] == three[-1][k] for k in ("cpu", "isa", "layers", "texts", "tokens_per_text"))] if three else []
    what = "three 7B models (28 layers, bf16) in one run"
    target = "each ≥ 90% of one model's tok/s; peak RSS < 22 GiB"
    if not three or not one:
        print(f"| {what} | {target} | not run |")
    else:
        t, o = three[-1], one[-1]["per_model"][0]["tok_s"]
        worst = min(m["tok_s"] for m in t["per_model"]) / o
        ok = worst >= 0.9 and t["peak_rss_gib"] < 22
        print(f"| {what} | {target} | slowest {100*worst:.0f}% ({min(m['tok_s'] for m in t['per_model']):.1f} / {o:.1f} tok/s), "
              f"peak RSS {t['peak_rss_gib']:.2f} GiB: {'met' if ok else 'NOT met'} |")
    # Against the notebook stack: our pass (all statistics) against PyTorch's with log_softmax +
    # gather, the study's measurement, at the same length on the same machine.
    tr = [r for r in rows if r["name"] == "torch" and r["tokens"] == 512 and r["layers"] == 24 and r["threads"] == 2]
    for ours, theirs, goal in (("exact", "fp32", 2), ("bf16", "bf16", 3)):
        o, t = last("qwen2-0.5b", 24, 512, ours), [r for r in tr if r["precision"] == theirs]
        what = f"{ours} against PyTorch {theirs} with log-probs, 0.5B, 512 tokens"
        if o is None or not t:
            print(f"| {what} | ≥ {goal}x | not run |")
        else:
            x = o["tok_s"] / t[-1]["logprobs_tok_s"]
            print(f"| {what} | ≥ {goal}x | {x:.2f}x ({o['tok_s']:.1f} / {t[-1]['logprobs_tok_s']:.1f} tok/s): {'met' if x >= goal else 'NOT met'} |")
PY
