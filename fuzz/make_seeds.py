#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses into fuzz/corpus/<name>/.

Small valid inputs of every format and malformed ones (truncated, wrong
magic, overflowing sizes, trailing bytes, deep nesting, NaN values, ...), so a
fuzzing run starts from every branch the readers have. Deterministic: run it
again and the files come out byte-identical. Standard library only:

    python3 fuzz/make_seeds.py

Inputs a fuzzing run found (crashes once fixed, slow units) are added by hand
as corpus/<name>/regress-<what>; this script leaves such files alone.
"""
import gzip
import json
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")
FIXTURES = os.path.join(ROOT, "..", "tests", "fixtures", "sibp-reference")


def gz(data: bytes) -> bytes:
    # mtime 0: the same bytes on every run.
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx_images(n, rows, cols, pixels=None):
    if pixels is None:
        pixels = bytes((i * 7) % 256 for i in range(n * rows * cols))
    return struct.pack(">IIII", 0x803, n, rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def idx_seeds():
    img = idx_images(2, 2, 3)
    lab = idx_labels([3, 1, 4])
    return {
        "images.idx": img,
        "labels.idx": lab,
        "images.idx.gz": gz(img),
        "labels.idx.gz": gz(lab),
        "two-members.gz": gz(img[:9]) + gz(img[9:]),
        "gz-trailing-garbage.gz": gz(lab) + b"garbage",
        "gz-trailing-zeros.gz": gz(lab) + b"\0" * 8,
        "gz-truncated.gz": gz(img)[:-5],
        "gz-bad-crc.gz": gz(lab)[:-8] + b"\x00\x00\x00\x00" + gz(lab)[-4:],
        "plain-trailing-byte.idx": lab + b"x",
        "truncated-header.idx": img[:10],
        "truncated-payload.idx": img[:-1],
        "wrong-magic.idx": struct.pack(">II", 0x802, 1) + b"\0",
        "zero-rows.idx": idx_images(2, 0, 5, b""),
        "zero-images.idx": idx_images(0, 28, 28, b""),
        # 2^20 x 2^22 x 2^22 bytes wraps to 0 in 64 bits.
        "overflow-dims.idx": struct.pack(">IIII", 0x803, 1 << 20, 1 << 22, 1 << 22),
        "huge-dims.idx": struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        "huge-labels.idx": struct.pack(">II", 0x801, 0xFFFFFFFF) + b"\1\2",
        "empty": b"",
        "gzip-magic-only": b"\x1f\x8b",
    }


def csv_seeds():
    return {
        "header.csv": b"label,a,b\n0,1.5,2\n1,-3,4e2\n",
        "no-header.csv": b"2,0.5,0.25\n0,1,1\n",
        "bom.csv": b"\xef\xbb\xbf0,1.0\n1,2.0\n",
        "bom-header.csv": b"\xef\xbb\xbflabel,x\n1,2\n",
        "crlf.csv": b"label,x\r\n0,1\r\n\r\n1,2\r\n",
        "spaces.csv": b" 1 , 2.5 ,\t3\n",
        "ragged.csv": b"0,1,2\n1,2\n",
        "nan.csv": b"0,nan\n",
        "inf.csv": b"0,1e400\n",
        "float-overflow.csv": b"0,1e39\n",
        "label-256.csv": b"256,1\n",
        "label-negative.csv": b"-1,1\n",
        "label-fraction.csv": b"1.5,1\n",
        "label-only.csv": b"1\n2\n",
        "only-header.csv": b"label,x\n",
        "empty.csv": b"",
        "blank-lines.csv": b"\n\n  \n",
        "plus-sign.csv": b"+1,+2\n",
        "binary.csv": bytes(range(256)),
    }


def cifar_record(label, first=0):
    return bytes([label]) + bytes((first + k) % 256 for k in range(3072))


def cifar_seeds():
    return {
        "one-record.bin": cifar_record(3),
        "two-records.bin": cifar_record(9) + cifar_record(0, 5),
        "label-10.bin": cifar_record(10),
        "empty.bin": b"",
        "short.bin": cifar_record(1)[:3072],
        "record-and-a-bit.bin": cifar_record(1) + b"\1",
    }


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def f64(values):
    return struct.pack("<%dd" % len(values), *values)


def safetensors(header, data):
    text = json.dumps(header, separators=(",", ":")).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(text)) + text + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def safetensors_seeds():
    # A 3 -> 2 network: W row-major [2, 3], b [2].
    plain = {"layers.0.weight": entry("F32", [2, 3], 0, 24), "layers.0.bias": entry("F32", [2], 24, 32)}
    data = f32([1, 2, 3, 4, 5, 6, 7, 8])
    meta = {"__metadata__": {"sibp.layers": "3-2", "sibp.hidden": "relu", "sibp.output": "identity",
                             "sibp.loss": "cross-entropy", "sibp.version": "0.1.0",
                             "sibp.norm.mean": "[0,0,0]", "sibp.norm.inv_std": "[1,1,1]"}}
    two = {"layers.0.weight": entry("F64", [2, 3], 0, 48), "layers.0.bias": entry("F64", [2], 48, 64),
           "layers.1.weight": entry("F64", [1, 2], 64, 80), "layers.1.bias": entry("F64", [1], 80, 88)}
    nan = float("nan")
    inf = float("inf")
    return {
        "plain.safetensors": safetensors(plain, data),
        "metadata.safetensors": safetensors({**meta, **plain}, data),
        "f64-two-layers.safetensors": safetensors(two, f64(list(range(11)))),
        "nan.safetensors": safetensors(plain, f32([1, nan, 3, 4, 5, 6, 7, inf])),
        "f64-overflows-float.safetensors": safetensors(
            {"layers.0.weight": entry("F64", [2, 3], 0, 48), "layers.0.bias": entry("F64", [2], 48, 64)},
            f64([1e300, 2, 3, 4, 5, 6, 7, 8])),
        "bad-layers-meta.safetensors": safetensors({"__metadata__": {"sibp.layers": "3-x"}, **plain}, data),
        "unknown-activation.safetensors": safetensors({"__metadata__": {"sibp.hidden": "swish"}, **plain}, data),
        "overlap.safetensors": safetensors(
            {"layers.0.weight": entry("F32", [2, 3], 0, 24), "layers.0.bias": entry("F32", [2], 16, 24)}, data),
        "hole.safetensors": safetensors(
            {"layers.0.weight": entry("F32", [2, 3], 0, 24), "layers.0.bias": entry("F32", [2], 28, 36)},
            data + b"\0" * 4),
        "trailing.safetensors": safetensors(plain, data + b"\0\0\0\0"),
        "shape-overflow.safetensors": safetensors(
            {"layers.0.weight": entry("F32", [2**62, 2**62], 0, 24), "layers.0.bias": entry("F32", [2], 24, 32)}, data),
        "bf16.safetensors": safetensors({"layers.0.weight": entry("BF16", [2, 3], 0, 12)}, b"\0" * 12),
        "chain-mismatch.safetensors": safetensors(
            {**plain, "layers.1.weight": entry("F32", [1, 3], 32, 44), "layers.1.bias": entry("F32", [1], 44, 48)},
            data + f32([1, 2, 3, 4])),
        "header-array.safetensors": safetensors(b"[1,2]", b""),
        "header-deep.safetensors": safetensors(b"[" * 100 + b"]" * 100, b""),
        "header-1e400.safetensors": safetensors(b'{"a":1e400}', b""),
        "header-bad-utf8.safetensors": safetensors(b'{"\xff":1}', b""),
        "header-length-huge": struct.pack("<Q", 2**63) + b"{}",
        "short": b"abc",
    }


def manifest_seeds():
    seeds = {}
    for case in sorted(os.listdir(FIXTURES)):
        path = os.path.join(FIXTURES, case, "manifest.json")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                seeds[case + ".json"] = f.read()
    files = [{"name": n, "shape": s, "dtype": "<f8", "order": "F"}
             for n, s in [("X.bin", [3, 2]), ("Y.bin", [2, 2]), ("W1_before.bin", [2, 3]), ("b1_before.bin", [2, 1])]]
    base = {"layers": [3, 2], "eta": 0.5, "lambda": 1, "files": files}

    def variant(**changes):
        m = dict(base)
        m.update(changes)
        return json.dumps(m).encode()

    seeds.update({
        "small.json": json.dumps(base).encode(),
        "lambda-per-layer.json": variant(**{"lambda": [1]}),
        "lambda-wrong-count.json": variant(**{"lambda": [1, 2, 3]}),
        "eta-negative.json": variant(eta=-1),
        "eta-string.json": variant(eta="0.5"),
        "layers-one.json": variant(layers=[3]),
        "layers-zero.json": variant(layers=[3, 0]),
        "layers-huge.json": variant(layers=[2**63 - 1, 2**64 - 1]),
        "files-not-array.json": variant(files={}),
        "file-bad-dtype.json": variant(files=[{"name": "X.bin", "shape": [3, 2], "dtype": ">f4", "order": "F"}]),
        "file-bad-shape.json": variant(files=[{"name": "X.bin", "shape": [-1, 2], "dtype": "<f8", "order": "F"}]),
        "file-no-name.json": variant(files=[{"shape": [1, 1], "dtype": "<f8", "order": "F"}]),
        "missing-eta.json": json.dumps({"layers": [3, 2], "lambda": 1, "files": []}).encode(),
        "not-object.json": b"[1, 2, 3]",
        "number-overflow.json": b'{"layers": [3, 2], "eta": 1e400}',
        "deep.json": b'{"layers": ' + b"[" * 80 + b"]" * 80 + b"}",
        "truncated.json": json.dumps(base).encode()[:40],
    })
    return seeds


def json_seeds():
    return {
        "object.json": b'{"a": 1, "b": [true, false, null], "c": {"d": "e\\u00e9\\n"}}',
        "array.json": b"[1, -2.5e-3, 1e308, 18446744073709551615, -9223372036854775808]",
        "string.json": b'"\\"[{\\\\"',
        "overflow.json": b"1e400",
        "negative-overflow.json": b"[-1e400]",
        "big-integer.json": b"123456789012345678901234567890",
        "deep-64.json": b"[" * 64 + b"]" * 64,
        "deep-65.json": b"[" * 65 + b"]" * 65,
        "deep-objects.json": b'{"a":' * 70 + b"1" + b"}" * 70,
        "unbalanced.json": b"]]]][[[[",
        "bad-utf8.json": b'"\xff\xfe"',
        "control-char.json": b'"a\x01b"',
        "bom.json": b'\xef\xbb\xbf{"a": 1}',
        "comment.json": b'{"a": 1 /* no */}',
        "trailing.json": b"[1] x",
        "truncated.json": b'{"layers.0.weight": ',
        "empty.json": b"",
        "escapes.json": b'"\\ud83d\\ude00 \\ud800"',
    }


def data_spec_seeds():
    specs = ["mnist", "mnist:test", "fashion-mnist:train", "cifar10:/x/cifar-10-batches-bin", "idx:rel/dir:test",
             "idx:train", "idx:./train", "csv:a.csv", "csv:a.csv,b.csv:test", "csv:", "csv:,b.csv", "csv:a,b,c",
             "mnist:foo", "unknown", ":test", "", "cifar10:", "mnist:train:test"]
    return {"spec-%02d" % i: s.encode() for i, s in enumerate(specs)}


GENERATORS = {
    "idx": idx_seeds,
    "csv": csv_seeds,
    "cifar10": cifar_seeds,
    "safetensors": safetensors_seeds,
    "reference_manifest": manifest_seeds,
    "json": json_seeds,
    "data_spec": data_spec_seeds,
}


def main():
    for name, make in GENERATORS.items():
        folder = os.path.join(CORPUS, name)
        os.makedirs(folder, exist_ok=True)
        # Regenerate the seeds; keep the regression inputs added by hand.
        for old in os.listdir(folder):
            if not old.startswith("regress-"):
                os.remove(os.path.join(folder, old))
        for file_name, data in make().items():
            with open(os.path.join(folder, file_name), "wb") as f:
                f.write(data)
        print("%-20s %3d seeds" % (name, len(os.listdir(folder))))


if __name__ == "__main__":
    main()
