#!/usr/bin/env bash
# The GPU check, one prepared command for a machine with an NVIDIA GPU (H100/H200: sm_90):
#   1. builds logitscope with the CUDA backend (Release; LSC_CUDA_ARCH, default 90) — or, with
#      LSC_GPU_BUNDLE=FILE, unpacks the binaries, libraries and fixtures that scripts/gpu-bundle.sh
#      prepared on a build machine (for a GPU machine without the build's Debian packages);
#   2. runs the backend's tests: the cuda ones (GPU vs the fixtures and the CPU, the demo on the
#      GPU vs the CPU, resume) must run, not skip;
#   3. benchmarks bench_forward --device cuda on the 0.5B and 7B (28 layers; streamed synthetic
#      checkpoints in /tmp) shapes at 2048 and 8192 tokens, bf16 with every statistic, and exact
#      for the 0.5B at 2048: tokens/s and the share of cuBLASLt's bf16 GEMM rate on the same
#      shapes measured in the same run; then Hugging Face transformers computing the same
#      teacher-forced log-probs on the same GPU (bench/transformers_logprobs.py);
#   4. writes OUT/summary.json and OUT/summary.md (the figures for README) beside the logs.
# usage: scripts/gpu-check.sh [OUT]      (default: $OUT, else ./gpu-check-results)
#        SECTIONS="tests bench transformers" (default: all three) runs a part.
# Exit status: 0 when every test passed and nothing skipped; 1 otherwise (the logs say what).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-${OUT:-$ROOT/gpu-check-results}}
mkdir -p "$OUT"
SECTIONS=${SECTIONS:-tests bench transformers}
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
log() { echo "gpu-check: $*" | tee -a "$OUT/gpu-check.log" >&2; }
status=0
log "start $(date -u +%FT%TZ) in $ROOT, sections: $SECTIONS"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || log "nvidia-smi failed (see nvidia-smi.txt)"

# Where libcublasLt.so.13 is (the CUDA toolkit's, or the nvidia-cublas wheel's).
cublas_dir() {
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64; do
    if [ -e "$d/libcublasLt.so.13" ]; then echo "$d"; return; fi
  done
  python3 -c 'import glob, os, sys
for p in sys.path:
    for f in glob.glob(os.path.join(p, "nvidia", "*", "lib", "libcublasLt.so.13")):
        print(os.path.dirname(f)); sys.exit()' 2>/dev/null
}

if [ -n "${LSC_GPU_BUNDLE:-}" ]; then
  B=/tmp/lsc-gpu-bundle
  rm -rf "$B" && mkdir -p "$B" && tar -xJf "$LSC_GPU_BUNDLE" -C "$B" || { log "cannot unpack $LSC_GPU_BUNDLE"; exit 1; }
  LOGITSCOPE=$B/bin/logitscope GPU_TEST=$B/bin/gpu_test GPU_CLI_TEST=$B/bin/gpu_cli_test BENCH=$B/bin/bench_forward
  export LD_LIBRARY_PATH="$B/lib:$(cublas_dir):${LD_LIBRARY_PATH:-}"
  export LSC_FIXTURES=$B/fixtures
  log "bundle $LSC_GPU_BUNDLE: $(cat "$B/BUILD_INFO" 2>/dev/null)"
else
  BUILD=$ROOT/build/gpu
  log "building in $BUILD (sm_${LSC_CUDA_ARCH:-90})"
  if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLSC_CUDA=ON \
           -DCMAKE_CUDA_ARCHITECTURES="${LSC_CUDA_ARCH:-90}" &&
         cmake --build "$BUILD" -j"$(nproc)" --target logitscope gpu_test gpu_cli_test bench_forward; } \
       > "$OUT/build.log" 2>&1; then
    log "build failed:"; tail -40 "$OUT/build.log" >&2; exit 1
  fi
  LOGITSCOPE=$BUILD/logitscope GPU_TEST=$BUILD/tests/gpu/gpu_test GPU_CLI_TEST=$BUILD/tests/gpu/gpu_cli_test
  BENCH=$BUILD/bench/bench_forward
  export LSC_FIXTURES=${LSC_FIXTURES:-$ROOT/../shared/fixtures}
fi
export LSC_BINARY=$LOGITSCOPE LSC_DEMO_DIR=$ROOT/data/demo

if has tests; then
  for t in "$GPU_TEST" "$GPU_CLI_TEST"; do
    name=$(basename "$t")
    "$t" > "$OUT/$name.txt" 2>&1
    rc=$?
    skipped=$(grep -E '^\[  SKIPPED \] [A-Za-z_/0-9]+\.' "$OUT/$name.txt" | sed 's/ (.*//' | sort -u | wc -l)
    log "$name: exit $rc, $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' "$OUT/$name.txt" | tr '\n' ' ')"
    [ "$rc" -eq 0 ] || status=1
    # On a GPU machine only the no-device test may skip.
    if grep -E '^\[  SKIPPED \] [A-Za-z_/0-9]+\.' "$OUT/$name.txt" | grep -qv 'WithoutADevice'; then
      log "$name: $skipped test(s) skipped on a GPU machine"; status=1
    fi
  done
fi

if has bench; then
  for spec in "0.5b 24 2048 bf16" "0.5b 24 8192 bf16" "0.5b 24 2048 exact" "7b 28 2048 bf16" "7b 28 8192 bf16"; do
    set -- $spec
    log "bench_forward --device cuda --shape $1 --layers $2 --tokens $3 --precision $4"
    "$BENCH" --device cuda --shape "$1" --layers "$2" --tokens "$3" --precision "$4" --reps 3 \
      --dir "/tmp/lsc_bench_qwen2-$1-L$2" >> "$OUT/bench.jsonl" 2>> "$OUT/gpu-check.log" || { log "bench failed: $spec"; status=1; }
  done
fi

if has transformers; then
  for shape in "0.5b 24" "7b 28"; do
    set -- $shape
    if [ -e "/tmp/lsc_bench_qwen2-$1-L$2/config.json" ]; then
      log "transformers log-probs on $1"
      PYTHONUNBUFFERED=1 python3 "$ROOT/bench/transformers_logprobs.py" --dir "/tmp/lsc_bench_qwen2-$1-L$2" --shape "$1" \
        --tokens 2048 --tokens 8192 >> "$OUT/transformers.jsonl" 2>> "$OUT/gpu-check.log" || { log "transformers failed on $1"; status=1; }
    fi
  done
fi

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def lines(name):
    p = os.path.join(out, name)
    return [json.loads(l) for l in open(p) if l.startswith("{")] if os.path.exists(p) else []
bench, hf = lines("bench.jsonl"), lines("transformers.jsonl")
hf_by = {(r["shape"], r["tokens"]): r for r in hf}
rows = []
for r in bench:
    shape = r["shape"].replace("qwen2-", "")
    h = hf_by.get((shape, r["tokens"]))
    rows.append({"shape": shape, "layers": r["layers"], "tokens": r["tokens"], "precision": r["precision"],
                 "device": r.get("device"), "tok_s": r["tok_s"], "frac_of_ceiling": r["frac_of_ceiling"],
                 "ceiling_tflops": r["ceiling_gflops"] / 1e3,
                 "transformers_logprobs_tok_s": h and h["logprobs_tok_s"], "transformers_forward_tok_s": h and h["forward_tok_s"],
                 "x_transformers_logprobs": h and r["tok_s"] / h["logprobs_tok_s"]})
json.dump({"rows": rows, "transformers": hf}, open(os.path.join(out, "summary.json"), "w"), indent=1)
with open(os.path.join(out, "summary.md"), "w") as f:
    dev = rows[0]["device"] if rows else "?"
    f.write(f"GPU: {dev}" + (f"; transformers {hf[0]['transformers']}, torch {hf[0]['torch']}" if hf else "") + "\n\n")
    f.write("| shape | layers | tokens | precision | tok/s | % of cuBLASLt bf16 rate (TFLOP/s) | transformers log-probs tok/s | x |\n")
    f.write("|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        t = r["transformers_logprobs_tok_s"]
        tt = "" if t is None else "%.0f" % t
        x = "" if t is None else "%.2f" % (r["tok_s"] / t)
        f.write("| %s | %s | %s | %s | %.0f | %.0f%% (%.0f) | %s | %s |\n" % (
            r["shape"], r["layers"], r["tokens"], r["precision"], r["tok_s"], 100 * r["frac_of_ceiling"],
            r["ceiling_tflops"], tt, x))
print(open(os.path.join(out, "summary.md")).read())
PY
log "done: status $status"
exit $status
