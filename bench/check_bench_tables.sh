#!/usr/bin/env bash
# Test of run_forward_bench.sh's printing (SECTIONS=none, OUT set by the caller to recorded runs):
# it must exit 0 and print each table and each goal's verdict as the recorded figures give it.
# bench/testdata/forward-amd-epyc.jsonl: a full run (0.5B bf16 at 512 tokens 392.7 tok/s, 89% of
# its ceiling; at 8192 286.3 tok/s, 65%; exact 164.1 against fp32 173.1 tok/s; no 7B run at 28
# layers; attention rows of the bf16 and fp32 kernels), then a later SECTIONS=torch run, whose
# rows are the last at 512 tokens: bf16 385.4 tok/s (87%), exact 191.1, fp32 187.0, PyTorch's
# fp32 with log-probs 135.2 and bf16 254.6 tok/s; then a SECTIONS=torch8k run: bf16 286.3 tok/s
# (64%), exact 140.8, PyTorch fp32 28.2 and bf16 36.8 tok/s with log-probs; then a
# SECTIONS=three7b run: one 7B-shaped model (28 layers) alone at 29.0 tok/s, then three in one
# run at 27.4-28.9 tok/s with peak RSS 17.15 GiB; then bench_forward at 7B, 28 layers, 2048
# tokens, bf16: on the F32 form of the checkpoint (28.2 tok/s, 92%, 15.23 GiB), then on the BF16
# form (28.6 tok/s, 92%, 14.21 GiB), the last row at that shape; then a SECTIONS=three7b run with
# THREE_DTYPES="bf16 bf16 f32": one model alone at 30.0 tok/s, then three (c stored as F32) at
# 29.3-29.8 tok/s with peak RSS 17.13 GiB; then the two 7B bench_forward rows again after packing
# gave pages back block by block: F32 form 28.8 tok/s (91%, 13.74 GiB), BF16 form 28.5 (92%, 13.73);
# then the two 28-layer 7B rows of a later full run, the first with the share of the ceiling that
# counts the attention's products too: 2048 tokens 28.9 tok/s (94%, 97% with attention), 8192
# tokens 25.8 tok/s (83%, 92%), peak RSS 14.33 GiB.
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
expect "| 0.5B bf16, 512 tokens, 2 threads | ≥ 80% of the ceiling | 87% (385.4 tok/s): met |"
expect "| 0.5B bf16, 8192 tokens, 2 threads | ≥ 60% of the ceiling | 64% (286.3 tok/s): met |"
expect "| 7B bf16, 28 layers, 2048 tokens | ≥ 80% of the ceiling | 94% (28.9 tok/s; 97% counting the attention's products): met |"
expect "| qwen2-7b | 28 | 2048 | 2 | bf16 (F32 weights rounded to bf16) (avx512_bf16) | 28.2 |"
expect "| qwen2-7b | 28 | 2048 | 2 | bf16 (F32 weights rounded to bf16) (avx512_bf16) | 28.8 | 71.20 (71.20-71.20) | 31.7 (448) | 91% | – | 0.2% | 13.74 |  |"
expect "| 7B bf16, 28 layers, 8192 tokens | peak RSS ≤ weights + 2 GiB | 14.33 GiB, weights 14.19: met |"
expect "| qwen2-7b | 28 | 8192 | 2 | bf16 (avx512_bf16) | 25.8 | 317.35 (317.35-317.35) | 31.2 (441) | 83% | 92% | 0.1% | 14.33 |  |"
expect "| exact (fp32, fast attention) against fp32, 0.5B, 512 tokens | ≥ 3x | 1.02x (191.1 / 187.0 tok/s): NOT met |"
expect "| exact against PyTorch fp32 with log-probs, 0.5B, 512 tokens | ≥ 2x | 1.41x (191.1 / 135.2 tok/s): NOT met |"
expect "| bf16 against PyTorch bf16 with log-probs, 0.5B, 512 tokens | ≥ 3x | 1.51x (385.4 / 254.6 tok/s): NOT met |"
expect "| qwen2-0.5b | 24 | 512 | 2 | bf16 | 1.13.0a0 | 290.0 | 254.6 | – | bf16 385.4 tok/s, peak RSS 1.20 GiB: 1.51x |"
expect "| qwen2-0.5b | 24 | 8192 | 2 | fp32 | 1.13.0a0 | 28.0 | 28.2 | 17.01 | exact 140.8 tok/s, peak RSS 1.24 GiB: 4.99x |"
expect "| qwen2-0.5b | 14 (2) × 64 | 512 | 2 | bf16 | 2.19 |"
expect "| qwen2-0.5b | 14 (2) × 64 | 512 | 2 | fp32 | 2.83 |"
expect "| 3 | qwen2-7b | 28 | 2 × 4023 | bf16 (avx512_bf16) | a 27.4 (26), b 28.6 (29), c 28.9 (28) | 74.2 | 17.15 | 45.5 | 16:57.05 |"
expect "| 3 | qwen2-7b | 28 | 2 × 4023 | bf16 (avx512_bf16) | a 29.4 (22), b 29.8 (23), c (F32) 29.3 (22) | 75.9 | 17.13 | 57.0 | 16:06.85 |"
expect "| three 7B models (28 layers, bf16) in one run | each ≥ 90% of one model's tok/s; peak RSS < 22 GiB | slowest 98% (29.3 / 30.0 tok/s), peak RSS 17.13 GiB: met |"
[[ $fail -eq 0 ]] || { echo "$out" >&2; exit 1; }
echo "run_forward_bench.sh tables and goals: as recorded"
