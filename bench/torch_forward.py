#!/usr/bin/env python3
"""The notebook stack's teacher-forced pass on the CPU, for bench_forward to be measured against.

A Qwen2 forward pass written with plain PyTorch operations, the ones Hugging Face transformers'
eager Qwen2 runs (torch.nn.functional.linear for every projection and the LM head, the RMSNorm in
fp32, RoPE with cos/sin in the activations' dtype, an explicit causal mask and softmax in fp32,
SiLU-gated MLP), on a checkpoint in Hugging Face layout (config.json, model.safetensors, BF16 or
F32 tensors): Debian ships PyTorch but not transformers, and these operations are where its time
goes. The token ids are bench_forward's ((t * 7919 + 13) mod vocab), so the two run the same text.

Per --precision (fp32: the weights widened to fp32, as a notebook loading in float32; bf16: the
weights as stored, activations in bf16, as torch_dtype=torch.bfloat16) it times the forward pass
to the logits and the pass with log_softmax + gather of the observed tokens (the study's
measurement), and prints one JSON line each on stdout (median of --reps after --warmup passes, default 1;
"peak_rss_gib" is the process's peak so far).
--ids-file FILE runs those ids instead (whitespace- or comma-separated, as `logitscope logits
--ids-file`). --logprobs-out FILE writes the observed tokens' log-probs of each precision's
pass at the last length ({"ids": [...], "logprob": {"fp32": [...], ...}}, logprob[i] of token
i+1), for bench/check_torch_logprobs.py to compare with the fixtures or with `logitscope logits
--summary`.

usage: torch_forward.py --dir CHECKPOINT (--tokens 512 [--tokens 2048] | --ids-file FILE)
                        [--precision fp32] [--precision bf16] [--threads 2] [--reps 3] [--warmup 1]
                        [--shape NAME] [--logprobs-out FILE]
"""
import argparse
import json
import mmap
import os
import platform
import resource
import struct
import sys
import time
import warnings

import torch
import torch.nn.functional as F

DTYPES = {"BF16": torch.bfloat16, "F32": torch.float32, "F16": torch.float16}


def fail(msg):
    print(f"torch_forward.py: {msg}", file=sys.stderr)
    sys.exit(2)


def load_safetensors(path):
    """Every tensor of one safetensors file, copied out of a read-only map of the file."""
    try:
        f = open(path, "rb")
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    with f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            fail(f"{path}: {size} bytes, too short for a safetensors header")
        n = struct.unpack("<Q", f.read(8))[0]
        if n > size - 8:
            fail(f"{path}: header of {n} bytes runs past the end of the {size}-byte file")
        header = json.loads(f.read(n))
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] not in DTYPES:
            fail(f"{path}: tensor {name} has dtype {t['dtype']}, expected one of {sorted(DTYPES)}")
        b, e = t["data_offsets"]
        dt = DTYPES[t["dtype"]]
        count = (e - b) // torch.tensor([], dtype=dt).element_size()
        # frombuffer warns that the map is read-only; the tensor is cloned before any use.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = torch.frombuffer(m, dtype=dt, count=count, offset=8 + n + b)
        out[name] = x.reshape(t["shape"]).clone()
    return out


class Qwen2:
    def __init__(self, directory, dtype):
        cfg = json.load(open(os.path.join(directory, "config.json")))
        self.hidden = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.kv_heads = cfg.get("num_key_value_heads", self.heads)
        self.head_dim = cfg.get("head_dim") or self.hidden // self.heads
        self.layers = cfg["num_hidden_layers"]
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg.get("rope_theta", 10000.0)
        self.vocab = cfg["vocab_size"]
        self.dtype = dtype
        index = os.path.join(directory, "model.safetensors.index.json")
        if os.path.exists(index):  # sharded: every file the index's weight_map names
            w = {}
            for shard in sorted(set(json.load(open(index))["weight_map"].values())):
                w.update(load_safetensors(os.path.join(directory, shard)))
        else:
            w = load_safetensors(os.path.join(directory, "model.safetensors"))

        def get(name, optional=False):
            if name not in w:
                if optional:
                    return None
                fail(f"{directory}: no tensor {name} in its safetensors files")
            return w.pop(name).to(dtype)

        self.embed = get("model.embed_tokens.weight")
        self.blocks = []
        for i in range(self.layers):
            p = f"model.layers.{i}."
            b = {k: get(p + k) for k in (
                "input_layernorm.weight", "post_attention_layernorm.weight",
                "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                "self_attn.o_proj.weight",
                "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight")}
            # Qwen2 has q/k/v biases; Qwen3 has none and normalizes each head of q and k instead.
            b.update({k: get(p + k, optional=True) for k in (
                "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
                "self_attn.q_norm.weight", "self_attn.k_norm.weight")})
            self.blocks.append(b)
        self.norm = get("model.norm.weight")
        self.lm_head = get("lm_head.weight") if "lm_head.weight" in w else self.embed

    def rms_norm(self, x, weight):
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * h.to(x.dtype)

    def rope(self, T):
        d = self.head_dim
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    @staticmethod
    def rotate(x, cos, sin):
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    def logits(self, ids):
        T = ids.shape[0]
        H, KV, D = self.heads, self.kv_heads, self.head_dim
        cos, sin = self.rope(T)
        mask = torch.full((T, T), torch.finfo(self.dtype).min, dtype=self.dtype).triu(1)
        x = self.embed[ids]
        for b in self.blocks:
            h = self.rms_norm(x, b["input_layernorm.weight"])
            q = F.linear(h, b["self_attn.q_proj.weight"], b["self_attn.q_proj.bias"])
            k = F.linear(h, b["self_attn.k_proj.weight"], b["self_attn.k_proj.bias"])
            v = F.linear(h, b["self_attn.v_proj.weight"], b["self_attn.v_proj.bias"])
            q, k = q.view(T, H, D), k.view(T, KV, D)
            if b["self_attn.q_norm.weight"] is not None:
                q = self.rms_norm(q, b["self_attn.q_norm.weight"])
                k = self.rms_norm(k, b["self_attn.k_norm.weight"])
            q = self.rotate(q.transpose(0, 1), cos, sin)
            k = self.rotate(k.transpose(0, 1), cos, sin)
            v = v.view(T, KV, D).transpose(0, 1)
            k = k.repeat_interleave(H // KV, dim=0)
            v = v.repeat_interleave(H // KV, dim=0)
            s = torch.matmul(q, k.transpose(1, 2)) * D ** -0.5 + mask
            p = F.softmax(s, dim=-1, dtype=torch.float32).to(self.dtype)
            a = torch.matmul(p, v).transpose(0, 1).reshape(T, H * D)
            x = x + F.linear(a, b["self_attn.o_proj.weight"])
            h = self.rms_norm(x, b["post_attention_layernorm.weight"])
            g = F.silu(F.linear(h, b["mlp.gate_proj.weight"])) * F.linear(h, b["mlp.up_proj.weight"])
            x = x + F.linear(g, b["mlp.down_proj.weight"])
        return F.linear(self.rms_norm(x, self.norm), self.lm_head)

    def logprobs(self, ids):
        lp = torch.log_softmax(self.logits(ids).float(), dim=-1)
        return lp[:-1].gather(1, ids[1:, None])[:, 0]


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tokens", type=int, action="append")
    ap.add_argument("--ids-file")
    ap.add_argument("--precision", action="append", choices=("fp32", "bf16"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--shape", default="")
    ap.add_argument("--logprobs-out")
    a = ap.parse_args()
    fixed_ids = None
    if a.ids_file:
        try:
            text = open(a.ids_file).read()
        except OSError as e:
            fail(f"{a.ids_file}: {e.strerror}")
        try:
            fixed_ids = [int(x) for x in text.replace(",", " ").split()]
        except ValueError as e:
            fail(f"{a.ids_file}: expected token ids separated by spaces or commas ({e})")
        a.tokens = [len(fixed_ids)]
    if not a.tokens:
        fail("give --tokens N or --ids-file FILE")
    if a.reps < 1 or a.threads < 1 or min(a.tokens) < 2:
        fail("--reps and --threads must be >= 1 and there must be >= 2 tokens")
    torch.set_num_threads(a.threads)
    saved = {}
    for precision in a.precision or ["fp32"]:
        model = Qwen2(a.dir, torch.float32 if precision == "fp32" else torch.bfloat16)
        for T in a.tokens:
            ids = torch.tensor(fixed_ids or [(t * 7919 + 13) % model.vocab for t in range(T)])
            if int(ids.min()) < 0 or int(ids.max()) >= model.vocab:
                fail(f"{a.ids_file}: token id {int(ids.max()) if int(ids.max()) >= model.vocab else int(ids.min())} "
                     f"outside the vocabulary [0, {model.vocab})")
            out = {"name": "torch", "shape": a.shape, "layers": model.layers, "tokens": T,
                   "threads": a.threads, "precision": precision, "reps": a.reps,
                   "torch": torch.__version__, "cpu": cpu_name(),
                   "mkldnn": bool(torch.backends.mkldnn.is_available())}
            lp = None
            with torch.no_grad():
                for key, fn in (("forward", model.logits), ("logprobs", model.logprobs)):
                    for _ in range(a.warmup):
                        fn(ids)
                    times = []
                    for _ in range(a.reps):
                        t0 = time.perf_counter()
                        r = fn(ids)
                        times.append(time.perf_counter() - t0)
                    times.sort()
                    out[key + "_s"] = times[len(times) // 2]
                    out[key + "_tok_s"] = T / times[len(times) // 2]
                    if key == "logprobs":
                        lp = r
                    del r
            # the process's peak so far: one precision per process gives each precision its own
            out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            print(json.dumps(out), flush=True)
            saved = {"ids": ids.tolist(), "logprob": dict(saved.get("logprob", {}), **{precision: lp.tolist()})}
        del model
    if a.logprobs_out:
        with open(a.logprobs_out, "w") as f:
            json.dump(saved, f)


if __name__ == "__main__":
    main()
