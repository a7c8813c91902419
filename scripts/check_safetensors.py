#!/usr/bin/python3
"""Independent check that a sibp model file is a standard safetensors file
that PyTorch can use.

Parses FILE with struct + json exactly as the published format describes
(https://github.com/huggingface/safetensors#format) -- without the
`safetensors` package, so a bug shared with it cannot hide -- loads the
tensors into a torch module made of `nn.Linear` layers in an
`nn.ModuleList` called `layers` via `load_state_dict(strict=True)`, runs a
forward pass on the input samples and prints the outputs as JSON:

    {"dtype": "F32", "layers": "784-500-10", "hidden": "relu",
     "output": "identity", "outputs": [[...], ...]}   # one list per sample

Usage: check_safetensors.py FILE --input INPUT.json
  INPUT.json is a JSON list of samples, each a list of d_0 numbers.

Exit codes: 0 success, 1 malformed file, 2 usage error, 3 torch missing.
Run it with /usr/bin/python3 (Debian's python3-torch), not a pyenv python.
"""
import argparse
import json
import struct
import sys

DTYPES = {"F32": ("<f4", 4), "F64": ("<f8", 8)}


def fail(msg, code=1):
    print("check_safetensors: " + msg, file=sys.stderr)
    sys.exit(code)


def parse(path):
    """Returns (metadata dict, {name: numpy array}) after checking the format."""
    import numpy as np

    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail(f"{path}: {len(blob)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        fail(f"{path}: header length {n} exceeds the file")
    header_bytes = blob[8 : 8 + n]
    if not header_bytes.startswith(b"{"):
        fail(f"{path}: header does not start with '{{'")
    header = json.loads(header_bytes.decode("utf-8"))
    data = blob[8 + n :]
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        fail(f"{path}: __metadata__ must map strings to strings")
    tensors = {}
    spans = []
    for name, entry in header.items():
        if entry["dtype"] not in DTYPES:
            fail(f"{path}: tensor {name}: dtype {entry['dtype']} not handled by this check")
        np_dtype, size = DTYPES[entry["dtype"]]
        shape = entry["shape"]
        begin, end = entry["data_offsets"]
        count = 1
        for d in shape:
            count *= d
        if not (0 <= begin <= end <= len(data)) or end - begin != count * size:
            fail(f"{path}: tensor {name}: data_offsets {begin},{end} do not fit shape {shape}")
        spans.append((begin, end, name))
        # C order (row-major), as the format specifies.
        tensors[name] = np.frombuffer(data, dtype=np_dtype, count=count, offset=begin).reshape(shape).copy()
    # The format requires the tensors to cover the data area without holes.
    cursor = 0
    for begin, end, name in sorted(spans):
        if begin != cursor:
            fail(f"{path}: tensor {name} starts at {begin}, expected {cursor}")
        cursor = end
    if cursor != len(data):
        fail(f"{path}: {len(data) - cursor} trailing bytes after the last tensor")
    return metadata, tensors, 8 + n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--input", required=True, help="JSON list of samples (lists of d_0 numbers)")
    args = ap.parse_args()
    try:
        import numpy as np  # noqa: F401
        import torch
        from torch import nn
    except ImportError as e:
        fail(f"cannot import torch/numpy with {sys.executable}: {e} (install python3-torch)", 3)

    metadata, tensors, data_start = parse(args.file)
    widths = [int(w) for w in metadata["sibp.layers"].split("-")]
    dtypes = {str(t.dtype) for t in tensors.values()}
    torch_dtype = torch.float64 if dtypes == {"float64"} else torch.float32

    def activation(name):
        return {
            "relu": nn.ReLU(),
            "leaky-relu": nn.LeakyReLU(0.01),
            "tanh": nn.Tanh(),
            "sigmoid": nn.Sigmoid(),
            "identity": nn.Identity(),
        }[name]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(
                nn.Linear(widths[i], widths[i + 1], dtype=torch_dtype) for i in range(len(widths) - 1)
            )
            L = len(self.layers)
            self.acts = [activation(metadata["sibp.hidden"]) for _ in range(L - 1)]
            self.acts.append(activation(metadata["sibp.output"]))

        def forward(self, x):
            for layer, act in zip(self.layers, self.acts):
                x = act(layer(x))
            return x

    net = Net()
    state = {k: torch.from_numpy(v).to(torch_dtype) for k, v in tensors.items()}
    # strict=True: every name must be exactly a PyTorch parameter name, and
    # every shape must match nn.Linear's [out_features, in_features].
    net.load_state_dict(state, strict=True)

    with open(args.input) as f:
        x = torch.tensor(json.load(f), dtype=torch_dtype)
    with torch.no_grad():
        y = net(x)
    print(
        json.dumps(
            {
                "dtype": "F64" if torch_dtype == torch.float64 else "F32",
                "layers": metadata["sibp.layers"],
                "hidden": metadata["sibp.hidden"],
                "output": metadata["sibp.output"],
                "data_start": data_start,
                "outputs": y.tolist(),
            }
        )
    )


if __name__ == "__main__":
    main()
