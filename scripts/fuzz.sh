#!/usr/bin/env bash
# Builds the 'fuzz' preset (clang, libFuzzer + ASan + UBSan) and runs each fuzz target for
# SECONDS (default 30) on a scratch copy of its seed corpus under build/fuzz/run/, so the checked-in
# corpus stays as it is. Exits non-zero on any finding and prints where the input that caused it
# was written. FUZZ_TARGETS="config dataset" runs a subset. See docs/fuzzing.md.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}

# target:max_len (bytes). Headers and tokenizer.json seeds are a few KB; encode inputs stay short
# so a run spends its time on many texts rather than a few long words.
all_targets=(safetensors_header:65536 config:8192 dataset:16384 tokenizer_json:16384
             tokenizer_encode:4096)
selected=${FUZZ_TARGETS:-}

cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j"$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_root=build/fuzz/run
failed=()
printf '%-20s %8s %12s %8s %8s  %s\n' target seconds executions exec/s corpus result
for spec in "${all_targets[@]}"; do
  name=${spec%%:*}
  max_len=${spec#*:}
  if [ -n "$selected" ] && [[ " $selected " != *" $name "* ]]; then continue; fi
  dir=$run_root/$name
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp fuzz/corpus/"$name"/* "$dir/corpus/"
  start=$(date +%s)
  status=ok
  if ! build/fuzz/fuzz_"$name" "$dir/corpus" -max_total_time="$seconds" -max_len="$max_len" \
      -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
      >"$dir/log" 2>&1; then
    status=FINDING
    failed+=("$name")
  fi
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  n_corpus=$(find "$dir/corpus" -type f | wc -l)
  printf '%-20s %8s %12s %8s %8s  %s\n' "$name" "$elapsed" "${execs:-?}" "${rate:-?}" "$n_corpus" \
    "$status"
  if [ "$status" != ok ]; then
    echo "---- $name: last lines of $dir/log"
    tail -n 40 "$dir/log"
    for f in "$dir"/artifacts/*; do
      [ -e "$f" ] && echo "---- $name: input written to $f (reproduce: build/fuzz/fuzz_$name $f)"
    done
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no findings (${seconds} s per target)"
