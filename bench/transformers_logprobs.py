#!/usr/bin/env python3
"""Hugging Face transformers computing the teacher-forced log-probs that bench_forward --device cuda
measures, on the same synthetic checkpoint and token ids, on the same GPU: the comparison of the
GPU check (scripts/gpu-check.sh). Prints one JSON line per (tokens) on stdout.

usage: transformers_logprobs.py --dir CHECKPOINT --tokens 2048 [--tokens 8192] [--reps 3]
"""
import argparse
import json
import time

import torch
import transformers
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tokens", type=int, action="append", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--shape", default="")
    a = ap.parse_args()
    try:
        model = AutoModelForCausalLM.from_pretrained(a.dir, dtype=torch.bfloat16)
    except TypeError:  # transformers before 4.56 names it torch_dtype
        model = AutoModelForCausalLM.from_pretrained(a.dir, torch_dtype=torch.bfloat16)
    model = model.cuda().eval()
    vocab = model.config.vocab_size
    for T in a.tokens:
        ids = torch.tensor([[(t * 7919 + 13) % vocab for t in range(T)]], device="cuda")

        def logprobs():
            with torch.no_grad():
                logits = model(ids).logits[0]
                lp = torch.log_softmax(logits.float(), dim=-1)
                return lp[:-1].gather(1, ids[0, 1:, None])[:, 0]

        def forward_only():
            with torch.no_grad():
                return model(ids).logits

        out = {"name": "transformers", "shape": a.shape, "tokens": T, "torch": torch.__version__,
               "transformers": transformers.__version__, "gpu": torch.cuda.get_device_name(0),
               "attn_implementation": getattr(model.config, "_attn_implementation", "?")}
        for key, fn in (("logprobs", logprobs), ("forward", forward_only)):
            fn()
            torch.cuda.synchronize()
            times = []
            for _ in range(a.reps):
                t0 = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            times.sort()
            out[key + "_s"] = times[len(times) // 2]
            out[key + "_tok_s"] = T / times[len(times) // 2]
        print(json.dumps(out), flush=True)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
