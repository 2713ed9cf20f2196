#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the shared fixtures
and the tests' own data. Seeds stay small: safetensors headers with their tensors shrunk to at
most 2 per dimension, and trimmed-but-valid tokenizer.json files (the 256 byte characters, the
first merges, a few added tokens) instead of the 4-11 MB originals.

Usage: fuzz/make_corpus.py [--fixtures DIR]   (default: ../shared/fixtures from the repo root)
Files a fuzzer run adds (crash reproducers, inputs kept from long runs) are not touched."""
import argparse
import glob
import hashlib
import json
import os
import struct

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(REPO, "fuzz", "corpus")
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return f.read(n)


def safetensors_file(header, data_bytes):
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + bytes(data_bytes)


def shrink(header):
    """The same tensor names and dtypes, every dimension at most 2, packed in order."""
    out, at = {}, 0
    for name, t in header.items():
        if name == "__metadata__":
            out[name] = t
            continue
        shape = [min(d, 2) for d in t["shape"]]
        n = DTYPE_BYTES[t["dtype"]]
        for d in shape:
            n *= d
        out[name] = {"dtype": t["dtype"], "shape": shape, "data_offsets": [at, at + n]}
        at += n
    return out, at


def safetensors_seeds(fixtures):
    for path in sorted(glob.glob(os.path.join(fixtures, "models", "*", "*.safetensors"))):
        tag = os.path.basename(os.path.dirname(path)) + "-" + os.path.basename(path).split(".")[0]
        raw = read_header(path)
        # The header as written, with no data after it (offsets then point past the end).
        write("safetensors_header", tag + "-header-only", struct.pack("<Q", len(raw)) + raw)
        small, n_data = shrink(json.loads(raw))
        write("safetensors_header", tag + "-shrunk", safetensors_file(small, n_data))
    write("safetensors_header", "empty-table", safetensors_file({}, 0))
    write("safetensors_header", "zero-size-tensor", safetensors_file(
        {"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]},
         "b": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}, 6))


def config_seeds(fixtures):
    for path in sorted(glob.glob(os.path.join(fixtures, "models", "*", "config.json"))):
        write("config", os.path.basename(os.path.dirname(path)) + ".json", open(path, "rb").read())
    linear = {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 96,
              "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 1000,
              "rope_scaling": {"type": "linear", "factor": 2.0}, "use_sliding_window": False}
    write("config", "linear-rope.json", json.dumps(linear))


def trim_tokenizer(path, n_merges, n_added):
    """A valid tokenizer.json with the original pipeline and a small vocabulary: single-character
    tokens (the byte alphabet), the first merges whose parts are kept, and some added tokens."""
    j = json.load(open(path, encoding="utf-8"))
    vocab = j["model"]["vocab"]
    kept = {t for t in vocab if len(t) == 1}
    merges = []
    for m in j["model"]["merges"]:
        left, right = m.split(" ") if isinstance(m, str) else m
        if left in kept and right in kept and left + right in vocab:
            merges.append(m)
            kept.add(left + right)
            if len(merges) == n_merges:
                break
    order = sorted(kept, key=lambda t: vocab[t])
    new_id = {t: i for i, t in enumerate(order)}
    j["model"]["vocab"] = new_id
    j["model"]["merges"] = merges
    added = j["added_tokens"][:n_added]
    remap = {}
    for k, a in enumerate(added):
        remap[a["id"]] = len(order) + k
        a["id"] = len(order) + k
    j["added_tokens"] = added
    pp = j.get("post_processor") or {}
    for st in (pp.get("special_tokens") or {}).values():
        st["ids"] = [remap.get(i, 0) for i in st["ids"]]
    return json.dumps(j, ensure_ascii=False, separators=(",", ":"))


def tokenizer_json_seeds(fixtures):
    write("tokenizer_json", "tiny_tokenizer.json",
          open(os.path.join(REPO, "tests/data/tokenizer/tiny_tokenizer.json"), "rb").read())
    for path in sorted(glob.glob(os.path.join(REPO, "tests/data/bad/tokenizer/*.json"))):
        if os.path.basename(path) != "expected_errors.json":
            write("tokenizer_json", "bad-" + os.path.basename(path), open(path, "rb").read())
    for name in ("qwen2.5", "qwen3", "deepseek-r1-distill-qwen"):
        path = os.path.join(fixtures, "tokenizers", name, "tokenizer.json")
        write("tokenizer_json", name + "-trimmed.json", trim_tokenizer(path, 60, 6))


def dataset_seeds():
    lines = [
        {"query": "q1", "answer": "a1", "level": 3, "is_correct": True, "id": "x", "source": "rl"},
        {"query": "q2", "answer": "a2", "level": "Level 5", "is_correct": 0, "id": 7},
        {"query": "q3", "answer": "a3", "level": 2.0, "is_correct": None},
        {"query": "Wait, $x^2$?", "response": "\u7b49\u4e00\u4e0b", "uid": "u1", "level": None},
    ]
    text = "\n".join(json.dumps(l, ensure_ascii=False) for l in lines) + "\n\n\r\n"
    write("dataset", "fields.jsonl", text)
    bad = '{"answer": "a"}\n{"query": "q", "answer": "a", "level": "hard"}\n' \
          '{"query": "q", "answer": "  "}\n[1, 2]\nnot json\n' \
          '{"query": "q", "answer": "x", "id": "d"}\n{"query": "q", "answer": "y", "id": "d"}\n'
    write("dataset", "bad-lines.jsonl", bad)
    for path in sorted(glob.glob(os.path.join(REPO, "tests/data/**/*.jsonl"), recursive=True)):
        if os.path.getsize(path) < 4096:
            write("dataset", os.path.basename(path), open(path, "rb").read())


def tokenizer_encode_seeds():
    texts = json.load(open(os.path.join(REPO, "tests/data/tokenizer/texts.json"), encoding="utf-8"))
    seen = set()
    for group in texts.values():
        for t in group if isinstance(group, list) else []:
            if t not in seen and len(t.encode()) < 2048:
                seen.add(t)
                write("tokenizer_encode", hashlib.sha1(t.encode()).hexdigest()[:16], t)
    write("tokenizer_encode", "added-tokens", "<|im_start|>user\nHi<|im_end|>\n<|endoftext|>")
    write("tokenizer_encode", "invalid-utf8", b"ab\xff\xc3(\xed\xa0\x80 \xf4\x90\x80\x80")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixtures", default=os.path.join(REPO, "..", "shared", "fixtures"))
    args = ap.parse_args()
    safetensors_seeds(args.fixtures)
    config_seeds(args.fixtures)
    tokenizer_json_seeds(args.fixtures)
    dataset_seeds()
    tokenizer_encode_seeds()


if __name__ == "__main__":
    main()
