#!/usr/bin/env python3
"""Checks that bench/torch_forward.py, the notebook-stack baseline of the benchmark, computes what
Hugging Face transformers computes, so its speed is the speed of the same work.

  check_torch_logprobs.py --fixtures DIR     every Qwen2/Qwen3 fixture of DIR (the fixtures'
      models/ and expected/), every sequence: the port's fp32 pass against the transformers
      float32 oracle (*.summary.json) within the fixtures' 1e-4, and on BF16 checkpoints its bf16
      pass against transformers' own bf16 run (*.summary.bf16.json) within 0.01 (a tenth of the
      distance between transformers' bf16 and fp32 runs on these fixtures, fixtures/README.md §5:
      the same operations in the same dtypes land far closer; an fp32 step where transformers
      runs bf16, or the reverse, lands farther).
  check_torch_logprobs.py --torch OUT.json --summary LOGITS.json [--precision fp32] [--tol 1e-4]
      torch_forward.py --logprobs-out against `logitscope logits --summary` on the same ids.

Prints one line per comparison; exits 1 when one is outside its tolerance, 77 (a skipped test)
when torch cannot be imported.
"""
import argparse
import json
import os
import sys

try:
    import torch
except ImportError:
    print("skipped: PyTorch is not installed for this python (scripts/install-deps.sh --torch "
          "installs Debian's python3-torch for /usr/bin/python3)")
    sys.exit(77)

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_forward  # noqa: E402


def fixtures(root):
    ok = True
    checked = 0
    for name in sorted(os.listdir(os.path.join(root, "expected"))):
        model_dir = os.path.join(root, "models", name)
        cfg = json.load(open(os.path.join(model_dir, "config.json")))
        if cfg["model_type"] not in ("qwen2", "qwen3") or cfg.get("rope_scaling"):
            print(f"{name}: not a Qwen2/Qwen3 model without RoPE scaling, which the port covers")
            continue
        summaries = sorted(f for f in os.listdir(os.path.join(root, "expected", name))
                           if f.endswith(".summary.json"))
        bf16_checkpoint = cfg.get("torch_dtype") == "bfloat16"
        for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            if precision == "bf16" and not bf16_checkpoint:
                continue
            model = torch_forward.Qwen2(model_dir, dtype)
            for f in summaries:
                path = os.path.join(root, "expected", name, f)
                if precision == "bf16":
                    path = path.replace(".summary.json", ".summary.bf16.json")
                    if not os.path.exists(path):
                        continue
                s = json.load(open(path))
                if len(s["ids"]) < 2:  # one token predicts no next token
                    continue
                ref = [p["logprob_next"] for p in s["positions"] if "logprob_next" in p]
                with torch.no_grad():
                    lp = model.logprobs(torch.tensor(s["ids"])).tolist()
                d = [abs(a - b) for a, b in zip(lp, ref)]
                worst, mean = max(d), sum(d) / len(d)
                tol, tol_mean = (1e-4, 1e-4) if precision == "fp32" else (0.105, 0.005)
                good = len(lp) == len(ref) and worst <= tol and mean <= tol_mean
                ok &= good
                checked += 1
                print(f"{name} {f.split('.')[0]} {precision}: {len(ref)} positions, |Δ log p| max "
                      f"{worst:.3g} mean {mean:.3g} against transformers "
                      f"({'within' if good else 'OUTSIDE'} {tol:g} / {tol_mean:g})")
    if checked == 0:
        print(f"{root}: no fixture compared")
        return False
    return ok


def against_summary(torch_out, summary, precision, tol):
    t = json.load(open(torch_out))
    s = json.load(open(summary))
    lp = t["logprob"][precision]
    ours = [p["logprob"] for p in s["positions"]]
    if s["ids"] != t["ids"] or len(ours) != len(lp):
        print(f"{summary} and {torch_out} are not the same ids")
        return False
    d = [abs(a - b) for a, b in zip(ours, lp)]
    good = max(d) <= tol
    print(f"logitscope {s.get('precision', '?')} against torch {precision}, {len(d)} positions: "
          f"max |Δ log p| {max(d):.3g}, mean {sum(d) / len(d):.3g} "
          f"({'within' if good else 'OUTSIDE'} {tol:g})")
    return good


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixtures")
    ap.add_argument("--torch")
    ap.add_argument("--summary")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(2)
    if a.fixtures:
        ok = fixtures(a.fixtures)
    elif a.torch and a.summary:
        ok = against_summary(a.torch, a.summary, a.precision, a.tol)
    else:
        ap.error("give --fixtures DIR, or --torch OUT.json and --summary LOGITS.json")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
