#!/usr/bin/env bash
# Reproduces the performance table of docs/performance.md with one command:
#   bench/run_forward_bench.sh [BUILD_DIR]        (default build/ci; needs the built benches)
# Runs bench_matmul on both shapes, then bench_forward over shape × layers × tokens × threads
# (bf16, all per-token statistics), plus the fp32 pass for comparison; writes every JSON line to
# bench-results/forward-<UTC time>.jsonl and prints the Markdown table. About 10 minutes on a
# quiet 2-core machine; the random checkpoints (0.9 GB and 2.7-4.6 GB) stay in /tmp for reuse.
# Results on a shared machine are only as good as its quietness: check `uptime` first.
set -euo pipefail
BUILD=${1:-build/ci}
mkdir -p bench-results
OUT=bench-results/forward-$(date -u +%Y%m%dT%H%M%SZ).jsonl
echo "bench: writing $OUT (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2

for th in 1 2; do
  OMP_NUM_THREADS=$th "$BUILD/bench/bench_matmul" --model all --reps 5 | tee -a "$OUT"
done
run() { "$BUILD/bench/bench_forward" "$@" | tee -a "$OUT"; }
for th in 2 1; do
  for T in 512 2048; do
    run --shape 0.5b --tokens "$T" --threads "$th" --reps 3
  done
done
for L in 2 4; do
  for T in 512 2048; do
    run --shape 7b --layers "$L" --tokens "$T" --threads 2 --reps 2
  done
done
run --shape 7b --layers 2 --tokens 512 --threads 1 --reps 2
run --shape 0.5b --tokens 512 --threads 2 --reps 1 --precision fp32

python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
fw = [r for r in rows if r["name"] == "forward"]
if fw:
    r0 = fw[0]
    print(f"\nCPU: {r0['cpu']}, commit {r0['commit']}, {r0['compiler']}\n")
    print("| shape | layers | tokens | threads | precision (ISA) | tok/s (p10-p90 of s) | GEMM ceiling tok/s | % of ceiling | stats share | peak RSS GiB | RSS extrapolated to 28 layers GiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in fw:
        ext = r.get("peak_rss_28_layers_gib_extrapolated")
        print(f"| {r['shape']} | {r['layers']} | {r['tokens']} | {r['threads']} | {r['precision']} ({r['isa']}) | "
              f"{r['tok_s']:.1f} ({r['p10_s']:.2f}-{r['p90_s']:.2f} s) | {r['ceiling_tok_s']:.1f} | "
              f"{100*r['frac_of_ceiling']:.0f}% | {100*r['stats_share']:.1f}% | {r['peak_rss_gib']:.2f} | "
              f"{'' if ext is None else f'{ext:.2f}'} |")
mm = [r for r in rows if r["name"] == "matmul"]
if mm:
    print("\n| model | product | M×N×K | threads | oneDNN plain | oneDNN packed | logitscope blocked (GFLOP/s) |")
    print("|---|---|---|---|---|---|---|")
    key = {}
    for r in mm:
        key.setdefault((r["model"], r["proj"], r["m"], r["n"], r["k"], r["threads"]), {})[r["variant"]] = r["gflops"]
    for (model, proj, m, n, k, th), v in key.items():
        f = lambda name: f"{v[name]:.0f}" if name in v else "-"
        print(f"| {model} | {proj} | {m}×{n}×{k} | {th} | {f('onednn_plain')} | {f('onednn_packed')} | {f('logitscope_blocked')} |")
PY
