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


def arch_seeds():
    # Three bytes choose the input shape (fuzz_arch.cpp): channels 1 + b0 % 8
    # (b0 >= 128 also asks for 1 + b1 % 16 classes), height 1 + b1 % 64,
    # width 1 + b2 % 64. The rest is the --arch or --layers text.
    mnist, cifar, vec = bytes([0, 27, 27]), bytes([2, 31, 31]), bytes([0, 0, 0])
    texts = {
        "lenet": (mnist, "conv(32,5,pad=2) relu maxpool(2) conv(64,5,pad=2) relu maxpool(2) flatten dense(1024) relu dense(10)"),
        "cifar": (cifar, "conv(16,3,stride=2,pad=1) tanh avgpool(2,stride=1) dense(10)"),
        "implied-flatten": (mnist, "conv(4,3) maxpool(3, stride=2) dense(10) sigmoid"),
        "mlp": (mnist, "dense(500) leaky_relu dense(10)"),
        "leaky-dash": (mnist, "dense(5) leaky-relu dense(3) identity"),
        "classes-match": (bytes([130, 9, 27]), "dense(20) relu dense(10)"),
        "classes-differ": (bytes([130, 3, 27]), "dense(20) relu dense(10)"),
        "kernel-too-big": (mnist, "conv(2,29) dense(10)"),
        "pad-grows": (mnist, "conv(1,1,pad=1024) conv(1,1,pad=1024) dense(2)"),
        "max-units": (mnist, "conv(1048576,1024,pad=1024) dense(1048576)"),
        "over-limit": (mnist, "dense(1048577)"),
        "no-params": (mnist, "maxpool(2) flatten"),
        "image-output": (mnist, "conv(3,3)"),
        "two-acts": (mnist, "dense(3) relu relu"),
        "act-first": (mnist, "relu dense(3)"),
        "act-after-pool": (mnist, "conv(3,3) maxpool(2) relu dense(2)"),
        "unbalanced": (mnist, "conv(3,(3)) dense(2"),
        "close-first": (mnist, ") dense(2)"),
        "repeated-key": (mnist, "conv(3,3,pad=1,pad=2) dense(2)"),
        "spaces": (mnist, "  conv( 3 , 3 , stride = 2 )\t dense( 10 )\n"),
        "signs": (mnist, "dense(+3) dense(-3) dense(0x10) dense(1e3)"),
        "empty": (mnist, ""),
        "widths": (vec, "784-500-10"),
        "widths-trailing-dash": (vec, "784-16-10-"),
        "widths-one": (vec, "784"),
        "widths-zero": (vec, "784-0-10"),
        "widths-big": (vec, "1048576-1048576-1048576"),
        "widths-overflow": (vec, "99999999999999999999-10"),
        "widths-double-dash": (vec, "784--10"),
    }
    return {name: prefix + text.encode() for name, (prefix, text) in texts.items()}


def config_seeds():
    def js(v):
        return json.dumps(v, indent=1).encode()

    seeds = {
        "default.json": js({}),
        "written-sgd.json": js({"data": "mnist", "layers": "784-500-10", "act": "relu", "loss": "cross-entropy",
                                "init": "normal:0.05", "dtype": "f32", "algo": "sgd", "lr": 0.1, "momentum": 0,
                                "nesterov": False, "weight_decay": 0, "epochs": 5, "batch": 100, "seed": 1,
                                "eval_every": 0, "threads": 1, "software": {"name": "sibp", "version": "0.1"},
                                "data_shape": [1, 28, 28]}),
        "sibp.json": js({"algo": "sibp", "eta": 0.5, "lambda": "1,0.5", "solver": "reference", "solver_iters": 3,
                         "update": "joint", "quirks": ["armijo-jump", "skip-unit-step"]}),
        "sibp-compat.json": js({"algo": "sibp", "compat": "authors", "lambda": 2}),
        "proxprop.json": js({"algo": "proxprop", "tau": 0.1, "prox_solver": "exact", "prox_iters": 2,
                             "prox_cg": "textbook", "outer": "adam", "beta1": 0.8}),
        "adam-momentum.json": js({"algo": "adam", "momentum": 0.9}),
        "arch.json": js({"arch": "conv(8,3,pad=1) relu maxpool(2) dense(10)", "data": "cifar10:/tmp/c", "dtype": "f64"}),
        "arch-null.json": js({"arch": None, "lr": None}),
        "wrap-epochs.json": b'{"epochs": 4294967298}',
        "negative-seed.json": b'{"seed": -1}',
        "big-seed.json": b'{"seed": 18446744073709551616}',
        "float-int.json": b'{"batch": 2.0}',
        "threads.json": b'{"threads": 1000}',
        "overflow.json": b'{"lr": 1e400}',
        "array.json": b'[{"lr": 1}]',
        "unknown-key.json": b'{"learning_rate": 0.1}',
        "bad-layers.json": b'{"layers": "784-16-10-"}',
        "huge-layers.json": b'{"layers": "784-100000000-10"}',
        "layers-mismatch.json": b'{"layers": "10-10"}',
        "quirk-types.json": b'{"algo": "sibp", "quirks": [1]}',
        "deep.json": b'{"arch": ' + b"[" * 70 + b"]" * 70 + b"}",
        "duplicate-key.json": b'{"lr": 0.1, "lr": 0.2}',
    }
    return seeds


def experiment_seeds():
    def js(v):
        return json.dumps(v, indent=1).encode()

    base = {"data": "mnist", "layers": "784-10", "epochs": 1}
    seeds = {
        "compare.json": js({"name": "c", "description": "d", "kind": "compare", "base": base, "seeds": [1, 2],
                            "target_accuracy": 0.9,
                            "runs": [{"label": "sgd", "algo": "sgd", "lr": 0.1},
                                     {"label": "sibp 1", "algo": "sibp", "eta": 1, "lambda": "1"},
                                     {"label": "prox", "algo": "proxprop", "tau": 0.05}]}),
        "sweep-values.json": js({"name": "s", "kind": "sweep", "base": base, "seeds": [3],
                                 "sweeps": [{"label": "lr", "base": {"algo": "sgd"}, "param": "lr",
                                             "values": [1, 0.1, 0.01]}]}),
        "sweep-grid.json": js({"name": "s", "kind": "sweep", "seeds": [0],
                               "sweeps": [{"label": "eta", "base": {"algo": "sibp"}, "param": "eta",
                                           "grid": {"from": 0.01, "to": 100, "points": 5}},
                                          {"label": "lambda", "base": {"algo": "sibp"}, "param": "lambda",
                                           "values": [0.5, 2]}]}),
        "grid-points-wrap.json": js({"name": "s", "kind": "sweep", "seeds": [1],
                                     "sweeps": [{"label": "a", "param": "lr",
                                                 "grid": {"from": 0.1, "to": 1, "points": 4294967298}}]}),
        "grid-too-many.json": js({"name": "s", "kind": "sweep", "seeds": [1],
                                  "sweeps": [{"label": "a", "param": "lr",
                                              "grid": {"from": 1e-300, "to": 1e300, "points": 1001}}]}),
        "label-dotdot.json": js({"name": "c", "kind": "compare", "seeds": [1], "runs": [{"label": ".."}]}),
        "label-dot.json": js({"name": "c", "kind": "compare", "seeds": [1], "runs": [{"label": "."}]}),
        "label-folder-clash.json": js({"name": "c", "kind": "compare", "seeds": [1],
                                       "runs": [{"label": "a b"}, {"label": "a/b"}]}),
        "run-key-wrong-algo.json": js({"name": "c", "kind": "compare", "seeds": [1],
                                       "runs": [{"label": "a", "algo": "sgd", "eta": 1}]}),
        "bad-second-run.json": js({"name": "c", "kind": "compare", "seeds": [1],
                                   "runs": [{"label": "a"}, {"label": "b", "act": "nope"}]}),
        "seed-in-run.json": js({"name": "c", "kind": "compare", "seeds": [1], "runs": [{"label": "a", "seed": 2}]}),
        "seeds-repeat.json": js({"name": "c", "kind": "compare", "seeds": [1, 1], "runs": [{"label": "a"}]}),
        "seeds-negative.json": b'{"name": "c", "kind": "compare", "seeds": [-1], "runs": [{"label": "a"}]}',
        "overflow.json": b'{"name": "c", "kind": "compare", "seeds": [1], "runs": [{"label": "a", "lr": 1e400}]}',
        "values-repeat.json": js({"name": "s", "kind": "sweep", "seeds": [1],
                                  "sweeps": [{"label": "a", "param": "lr", "values": [0.1, 0.1]}]}),
        "param-not-number.json": js({"name": "s", "kind": "sweep", "seeds": [1],
                                     "sweeps": [{"label": "a", "param": "act", "values": [1]}]}),
        "param-in-base.json": js({"name": "s", "kind": "sweep", "seeds": [1],
                                  "sweeps": [{"label": "a", "base": {"lr": 1}, "param": "lr", "values": [1]}]}),
        "array.json": b"[]",
        "empty-object.json": b"{}",
    }
    for name in sorted(os.listdir(os.path.join(ROOT, "..", "experiments"))):
        if name.endswith(".json"):
            with open(os.path.join(ROOT, "..", "experiments", name), "rb") as f:
                seeds["experiments-" + name] = f.read()
    return seeds


def run_folder_seeds():
    # Edits of an interrupted run's folder (fuzz_run_folder.cpp):
    # [target][kind][n][payload]; targets 0-3 the generation's checkpoint,
    # model, metrics.csv, metrics.json, 4 config.json, 5 .state, 6-7 the
    # top-level links, 8 the generation folder.
    def op(target, kind, payload=b""):
        return bytes([target, kind, len(payload)]) + payload

    seeds = {"untouched": b""}
    names = ["checkpoint", "model", "metrics-csv", "metrics-json", "config", "state", "top-metrics", "top-model",
             "generation"]
    for t, name in enumerate(names):
        seeds["remove-" + name] = op(t, 4)
        seeds["victim-link-" + name] = op(t, 5, b"\x01")
        seeds["other-run-" + name] = op(t, 6)
        if t < 5:
            seeds["flip-" + name] = op(t, 0, b"\x10\x01\x80\x40")
            seeds["truncate-" + name] = op(t, 3, b"\x80")
    seeds["ref-link-config"] = op(4, 5, b"\x00")
    seeds["config-lr"] = op(4, 1, b'{"data": "mnist", "lr": 0.5}')
    seeds["insert-config"] = op(4, 2, b"\xf0 ")
    seeds["two-edits"] = op(1, 6) + op(0, 6)
    return seeds


GENERATORS = {
    "idx": idx_seeds,
    "csv": csv_seeds,
    "cifar10": cifar_seeds,
    "safetensors": safetensors_seeds,
    "reference_manifest": manifest_seeds,
    "json": json_seeds,
    "data_spec": data_spec_seeds,
    "arch": arch_seeds,
    "config": config_seeds,
    "experiment": experiment_seeds,
    "run_folder": run_folder_seeds,
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
