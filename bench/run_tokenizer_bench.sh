#!/usr/bin/env bash
# Tokenizer throughput, logitscope vs Hugging Face tokenizers (npm @anush008/tokenizers), side by
# side on the same ~8 MB of reasoning-style records, in one run. Prints each JSON line, then a
# summary with the speed ratio, and fails if the two produced different ids.
#   bench/run_tokenizer_bench.sh [TOKENIZER_JSON] [REPS]
# Needs a build (BUILD, default build/release, else build/ci) and `npm ci` in bench/ (done here
# when node_modules is missing; the lock file pins the package and its integrity hash).
set -euo pipefail
cd "$(dirname "$0")/.."
tokenizer=${1:-../shared/fixtures/tokenizers/qwen2.5/tokenizer.json}
reps=${2:-7}
build=${BUILD:-}
if [[ -z "$build" ]]; then
  for b in build/release build/ci; do [[ -x $b/bench/bench_tokenizer ]] && build=$b && break; done
fi
[[ -n "$build" && -x $build/bench/bench_tokenizer ]] || { echo "build bench_tokenizer first (cmake --preset release)" >&2; exit 1; }
[[ -d bench/node_modules/@anush008/tokenizers ]] || (cd bench && npm ci --no-audit --no-fund >/dev/null)

records=$(mktemp /tmp/lsc_tok_bench.XXXXXX.jsonl)
trap 'rm -f "$records"' EXIT
ours=$("$build/bench/bench_tokenizer" --tokenizer "$tokenizer" --reps "$reps" --write-jsonl "$records")
ref=$(node bench/tokenizer_reference.mjs "$tokenizer" "$records" "$reps" records,text)
echo "$ours"
echo "$ref"
python3 - "$ours" "$ref" <<'PY'
import json, sys
rows = [json.loads(l) for part in sys.argv[1:] for l in part.splitlines() if l.strip()]
enc = {(r["impl"].split()[0], r["mode"]): r for r in rows if r["bench"] == "tokenizer_encode"}
ok = True
for mode in ("records", "text"):
    a, b = enc.get(("logitscope", mode)), enc.get(("hf-tokenizers", mode))
    if not a or not b:
        continue
    same = a["ids_fnv1a"] == b["ids_fnv1a"] and a["n_tokens"] == b["n_tokens"]
    ok = ok and same
    print(f"encode {mode:8s}: logitscope {a['mb_per_s']:8.1f} MB/s (p10-p90 {a['text_bytes']/1e6/a['p90_s']:.1f}-"
          f"{a['text_bytes']/1e6/a['p10_s']:.1f}), hf-tokenizers {b['mb_per_s']:6.1f} MB/s, "
          f"ratio {a['mb_per_s']/b['mb_per_s']:.1f}x (CPU time: {a['mb_per_cpu_s']:.1f} vs {b['mb_per_cpu_s']:.1f} MB/s), "
          f"ids {'identical' if same else 'DIFFERENT'} "
          f"({a['n_tokens']} tokens)")
sys.exit(0 if ok else 1)
PY
