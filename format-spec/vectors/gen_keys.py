#!/usr/bin/env python3
"""Generates keys.json from ../key-derivation.md alone: a second implementation of the key
derivation, independent of the C# code, using only the Python standard library.
Run: python3 gen_keys.py > keys.json"""
import hashlib
import json
import re
import struct

ELEMENT = {"f32": 1, "f16": 2, "bf16": 3}
PAIRING = {"none": 0, "adjacent": 1, "split-half": 2}


def tag(text):
    raw = text.encode("ascii")
    assert len(raw) <= 16
    return raw + b"\0" * (16 - len(raw))


def fingerprint(model_id, layout):
    mid = model_id.encode("utf-8")
    assert 1 <= len(mid) <= 255
    rope = layout["rope"]
    data = tag("kvtier.fp.v1") + struct.pack("<H", len(mid)) + mid
    data += struct.pack("<III", layout["layers"], layout["kvHeads"], layout["headDim"])
    data += struct.pack("<BB", ELEMENT[layout["elementType"]], PAIRING[rope["pairing"]])
    data += struct.pack("<I", rope["rotaryDims"]) + struct.pack("<d", float(rope["theta"]))
    data += struct.pack("<B", 1 if layout["keysAfterRope"] else 0)
    assert len(data) == 45 + len(mid)
    return hashlib.sha256(data).digest()


def root(fp, namespace):
    ns = namespace.encode("utf-8")
    assert len(ns) <= 255
    return hashlib.sha256(tag("kvtier.root.v1") + fp + struct.pack("<H", len(ns)) + ns).digest()


def tokens_bytes(chunk):
    return struct.pack("<I", len(chunk)) + b"".join(struct.pack("<I", t) for t in chunk)


def chunks(tokens, size):
    return [tokens[i:i + size] for i in range(0, len(tokens), size)]


def case(name, model_id, layout, namespace, chunk_tokens, tokens):
    fp = fingerprint(model_id, layout)
    h = r = root(fp, namespace)
    prefix, segment = [], []
    for c in chunks(tokens, chunk_tokens):
        h = hashlib.sha256(tag("kvtier.prefix.v1") + h + tokens_bytes(c)).digest()
        prefix.append(h.hex())
        segment.append(hashlib.sha256(tag("kvtier.seg.v1") + r + tokens_bytes(c)).digest().hex())
    return {
        "name": name, "modelId": model_id, "layout": layout, "namespace": namespace,
        "chunkTokens": chunk_tokens, "tokens": tokens,
        "expected": {"fingerprint": fp.hex(), "root": r.hex(), "prefixKeys": prefix, "segmentKeys": segment},
    }


def layout(layers, kv_heads, head_dim, element, pairing, theta, rotary, after):
    return {"layers": layers, "kvHeads": kv_heads, "headDim": head_dim, "elementType": element,
            "rope": {"pairing": pairing, "theta": theta, "rotaryDims": rotary}, "keysAfterRope": after}


STORIES = layout(5, 4, 8, "f32", "adjacent", 10000.0, 8, True)
LLAMA3_8B = layout(32, 8, 128, "f16", "split-half", 500000.0, 128, True)
ONCE = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376]

cases = [
    case("stories260K, shared namespace, trailing partial chunk", "stories260K", STORIES, "", 4, ONCE),
    case("stories260K, tenant namespace", "stories260K", STORIES, "tenant-a", 4, ONCE),
    case("exact multiple of the chunk size: no partial chunk", "stories260K", STORIES, "", 4, ONCE[:8]),
    case("single token", "stories260K", STORIES, "", 256, [1]),
    case("8B-class layout, default chunk size, 600 tokens", "meta-llama/Meta-Llama-3-8B", LLAMA3_8B, "", 256,
         [(i * 7919 + 13) % 128256 for i in range(600)]),
    case("bf16, no RoPE, non-ASCII namespace, extreme token ids", "alibi-model",
         layout(2, 1, 64, "bf16", "none", 0.0, 0, False), "mandant-ü-東京", 3, [0, 2147483647, 5, 7, 1]),
    case("partial rotary dims, keys stored before RoPE", "phi-like",
         layout(3, 2, 128, "f16", "split-half", 10000.0, 64, False), "", 2, [9, 8, 7, 6, 5]),
    case("same tokens as the first case, other model id", "stories260K-v2", STORIES, "", 4, ONCE),
]

text = json.dumps({
    "spec": "format-spec/key-derivation.md",
    "generator": "format-spec/vectors/gen_keys.py",
    "cases": cases,
}, indent=1, ensure_ascii=False)
# Keep token lists on one line each so that the file stays readable.
text = re.sub(r"\[\s*(\d+(?:,\s*\d+)*)\s*\]", lambda m: "[" + ", ".join(m.group(1).split()).replace(",,", ",") + "]", text)
print(text)
