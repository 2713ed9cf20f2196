#!/usr/bin/env bash
# Test of run_forward_bench.sh's printing (SECTIONS=none, OUT set by the caller to recorded runs):
# it must exit 0 and print each table and each goal's verdict as the recorded figures give it.
# bench/testdata/forward-amd-epyc.jsonl: 0.5B bf16 at 512 tokens 392.7 tok/s, 89% of its
# ceiling; at 8192 286.3 tok/s, 65%; exact (fp32 products there) 164.1 against fp32 173.1 tok/s;
# no 7B run at 28 layers; attention rows of the bf16 and fp32 kernels.
set -euo pipefail
out=$(bash "$1")
fail=0
expect() {
  if ! grep -qF -- "$1" <<<"$out"; then
    echo "missing from the output: $1" >&2
    fail=1
  fi
}
expect "| qwen2-0.5b | 24 | 512 | 2 | bf16 (avx512_bf16) | 392.7 |"
expect "| 0.5B bf16, 512 tokens, 2 threads | ≥ 80% of the ceiling | 89% (392.7 tok/s): met |"
expect "| 0.5B bf16, 8192 tokens, 2 threads | ≥ 60% of the ceiling | 65% (286.3 tok/s): met |"
expect "| 7B bf16, 28 layers, 2048 tokens | ≥ 80% of the ceiling | not run |"
expect "| 7B bf16, 28 layers, 8192 tokens | peak RSS ≤ weights + 2 GiB | not run |"
expect "| exact → fp32 against fp32, 0.5B, 512 tokens | ≥ 3x | 0.95x (164.1 / 173.1 tok/s): NOT met |"
expect "| qwen2-0.5b | 14 (2) × 64 | 512 | 2 | bf16 | 2.19 |"
expect "| qwen2-0.5b | 14 (2) × 64 | 512 | 2 | fp32 | 2.83 |"
[[ $fail -eq 0 ]] || { echo "$out" >&2; exit 1; }
echo "run_forward_bench.sh tables and goals: as recorded"
