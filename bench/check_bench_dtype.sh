#!/usr/bin/env bash
# bench_forward --dtype f32 against --dtype bf16 at --precision bf16, on a one-layer 0.5B shape
# (the real vocabulary): the F32 checkpoint holds the BF16 one's values widened, so rounding its
# matrices back must give the same logits (the same checksum over every statistic), recorded as
# rounded; and the F32 file is twice the BF16 one. Exit 77 (skip) without bf16 hardware.
# usage: check_bench_dtype.sh BENCH_FORWARD
set -euo pipefail
BENCH=$1
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
field() { python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"; }
args=(--shape 0.5b --layers 1 --tokens 96 --reps 1 --ceiling 0 --precision bf16)
bf16=$("$BENCH" "${args[@]}" --dir "$D/bf16" 2>/dev/null)
f32=$("$BENCH" "${args[@]}" --dtype f32 --dir "$D/f32" 2>/dev/null)
if [ "$(field precision <<< "$bf16")" != bf16 ]; then
  echo "skipped: no AMX or AVX512-BF16 on this CPU (bf16 runs $(field precision <<< "$bf16"))"
  exit 77
fi
fail=0
[ "$(field precision <<< "$f32")" = "bf16 (F32 weights rounded to bf16)" ] || { echo "F32 precision: $(field precision <<< "$f32")"; fail=1; }
[ "$(field checksum <<< "$f32")" = "$(field checksum <<< "$bf16")" ] || { echo "checksums differ: bf16 $(field checksum <<< "$bf16"), f32 $(field checksum <<< "$f32")"; fail=1; }
b=$(stat -c %s "$D/bf16/model.safetensors") f=$(stat -c %s "$D/f32/model.safetensors")
python3 -c "import sys; sys.exit(0 if abs($f / $b - 2) < 0.01 else 1)" || { echo "file sizes: bf16 $b, f32 $f"; fail=1; }
[ $fail = 0 ] && echo "bf16 and f32 checkpoints: checksum $(field checksum <<< "$bf16"), the same"
exit $fail
