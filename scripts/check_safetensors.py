#!/usr/bin/python3
"""Independent check that sibp model files are standard safetensors files
that PyTorch can use, in both directions.

Read (sibp -> PyTorch):

    check_safetensors.py FILE --input INPUT.json

parses FILE with struct + json exactly as the published format describes
(https://github.com/huggingface/safetensors#format) -- without the
`safetensors` package, so a bug shared with it cannot hide --, builds an
`nn.Sequential` of the layers that the file's `sibp.arch` / `sibp.input`
metadata describe (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten,
nn.Linear and the activations; files of sibp 0.1 with `sibp.layers`,
`sibp.hidden`, `sibp.output` become the same Sequential of nn.Linear
layers), renames sibp's `layers.<i>.weight` (the i-th parametrised layer) to
the Sequential's own key, loads them with `load_state_dict(strict=True)`
(every shape must be exactly nn.Linear's [out, in] or nn.Conv2d's
[out, in, k, k]), runs a forward pass on the input samples and prints JSON:

    {"dtype": "F32", "arch": "...", "input": "1x8x8", "modules": [...],
     "data_start": N, "outputs": [[...], ...]}        # one list per sample

Write (PyTorch -> sibp):

    check_safetensors.py --export OUT --arch TEXT --input-shape CxHxW
                         --dtype F32|F64 --seed S --input INPUT.json

builds the same kind of Sequential from TEXT, draws its parameters with
torch.manual_seed(S) (PyTorch's default initialisation, then scaled so that
every layer matters), saves its state dict under sibp's names
(`layers.<i>.weight`, `layers.<i>.bias`) as a safetensors file WITHOUT sibp
metadata (the reader must be told the architecture), and prints the outputs
of PyTorch's forward pass as above.

INPUT.json is a JSON list of samples, each a flat list of C*H*W numbers in
PyTorch's (C, H, W) order (sibp's vector layout).

Exit codes: 0 success, 1 malformed file, 2 usage error, 3 torch missing.
Run it with /usr/bin/python3 (Debian's python3-torch), not a pyenv python.
"""
import argparse
import json
import re
import struct
import sys

DTYPES = {"F32": ("<f4", 4), "F64": ("<f8", 8)}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "leaky-relu", "identity")


def fail(msg, code=1):
    print("check_safetensors: " + msg, file=sys.stderr)
    sys.exit(code)


def parse(path):
    """Returns (metadata dict, {name: numpy array}, data start) after checking the format."""
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


def write(path, tensors, metadata=None):
    """Writes {name: numpy array} as a safetensors file (8-byte aligned data area)."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name, a in tensors.items():
        dtype = {"float32": "F32", "float64": "F64"}[str(a.dtype)]
        raw = a.astype("<" + a.dtype.str[1:], copy=False).tobytes(order="C")
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def parse_shape(text):
    dims = [int(d) for d in re.split("[x,]", text)]
    if len(dims) == 1:
        return (dims[0], 1, 1)
    if len(dims) != 3:
        fail(f"input shape '{text}': expected C or CxHxW", 2)
    return tuple(dims)


def parse_arch(text):
    """The `--arch` syntax (src/nn/architecture.hpp) as a list of
    (kind, args dict, activation) with kind in conv, maxpool, avgpool, flatten, dense."""
    words = re.findall(r"[a-z_\-]+(?:\([^)]*\))?", text)
    layers = []
    for w in words:
        if w in ACTIVATIONS:
            layers[-1][2] = w.replace("-", "_")
            continue
        m = re.fullmatch(r"([a-z]+)(?:\(([^)]*)\))?", w)
        kind, inside = m.group(1), m.group(2)
        positional, keywords = [], {}
        for a in (inside.split(",") if inside else []):
            a = a.strip()
            if "=" in a:
                k, v = a.split("=")
                keywords[k.strip()] = int(v)
            else:
                positional.append(int(a))
        if kind == "conv":
            args = {"units": positional[0], "kernel": positional[1], "stride": keywords.get("stride", 1),
                    "pad": keywords.get("pad", 0)}
        elif kind in ("maxpool", "avgpool"):
            args = {"kernel": positional[0], "stride": keywords.get("stride", positional[0])}
        elif kind == "dense":
            args = {"units": positional[0]}
        elif kind == "flatten":
            args = {}
        else:
            fail(f"unknown layer '{w}' in '{text}'", 2)
        layers.append([kind, args, "identity"])
    return layers


def mlp_arch(widths, hidden, output):
    return [["dense", {"units": w}, hidden if i + 2 < len(widths) else output] for i, w in enumerate(widths[1:])]


# sibp's leaky ReLU slope (kLeakySlope, src/nn/activation.hpp).
LEAKY_RELU_SLOPE = 0.01


def activation_classes():
    """sibp's activation names -> torch.nn module classes (nn.LeakyReLU with LEAKY_RELU_SLOPE)."""
    from torch import nn

    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}


def activation_module(name):
    """The torch.nn module of sibp activation `name` (relu, tanh, sigmoid, leaky_relu)."""
    cls = activation_classes()[name]
    return cls(LEAKY_RELU_SLOPE) if name == "leaky_relu" else cls()


def build(layers, shape, torch_dtype):
    """nn.Sequential of `layers` on samples of `shape`; returns (model, [Sequential index of
    parametrised layer i], module names). Flattens are inserted where sibp implies them: before a
    dense layer whose input is an image; an Unflatten to C x 1 x 1 before a convolution or pooling
    whose input is a vector (sibp reads a vector as such an image)."""
    from torch import nn

    modules, param_index = [], []
    c, h, w = shape
    image = h != 1 or w != 1
    for kind, a, activation in layers:
        if kind == "dense":
            if image:
                modules.append(nn.Flatten())
                c, h, w, image = c * h * w, 1, 1, False
            param_index.append(len(modules))
            modules.append(nn.Linear(c * h * w, a["units"], dtype=torch_dtype))
            c, h, w = a["units"], 1, 1
        elif kind == "flatten":
            modules.append(nn.Flatten())
            c, h, w, image = c * h * w, 1, 1, False
        else:
            if not image:
                # A convolution or pooling reads a vector (the input, or after a dense layer or a
                # flatten) as a C x 1 x 1 image, as sibp does; PyTorch's layers need the 4-D tensor.
                modules.append(nn.Unflatten(1, (c, 1, 1)))
            if kind == "conv":
                param_index.append(len(modules))
                modules.append(nn.Conv2d(c, a["units"], a["kernel"], stride=a["stride"], padding=a["pad"],
                                         dtype=torch_dtype))
                k, s, p = a["kernel"], a["stride"], a["pad"]
                c, h, w = a["units"], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            else:
                k, s = a["kernel"], a["stride"]
                modules.append((nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d)(k, stride=s))
                h, w = (h - k) // s + 1, (w - k) // s + 1
            image = True
        if kind in ("dense", "conv") and activation != "identity":
            modules.append(activation_module(activation))
    # The network's output is a vector of class scores; a trailing image (C x 1 x 1) is flattened.
    if image:
        modules.append(nn.Flatten())
    return nn.Sequential(*modules), param_index, [type(m).__name__ for m in modules]


def forward(model, samples, shape, torch_dtype):
    import torch

    x = torch.tensor(samples, dtype=torch_dtype)
    c, h, w = shape
    first = next(iter(model))
    # Convolutions and pooling read (m, C, H, W); a network starting with a dense layer reads vectors.
    if isinstance(first, (torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.AvgPool2d, torch.nn.Flatten)):
        x = x.reshape(len(samples), c, h, w)
    with torch.no_grad():
        return model(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", help="model file to read (read mode)")
    ap.add_argument("--input", required=True, help="JSON list of samples (flat lists of C*H*W numbers)")
    ap.add_argument("--export", metavar="OUT", help="write a PyTorch model to OUT instead (write mode)")
    ap.add_argument("--arch", help="write mode: the architecture in sibp's --arch syntax")
    ap.add_argument("--input-shape", help="write mode: CxHxW")
    ap.add_argument("--dtype", default="F32", choices=sorted(DTYPES))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        import numpy as np  # noqa: F401
        import torch
    except ImportError as e:
        fail(f"cannot import torch/numpy with {sys.executable}: {e} (install python3-torch)", 3)

    with open(args.input) as f:
        samples = json.load(f)

    if args.export:
        if not args.arch or not args.input_shape:
            fail("--export needs --arch and --input-shape", 2)
        torch_dtype = torch.float64 if args.dtype == "F64" else torch.float32
        shape = parse_shape(args.input_shape)
        torch.manual_seed(args.seed)
        model, param_index, names = build(parse_arch(args.arch), shape, torch_dtype)
        with torch.no_grad():
            for i in param_index:
                # PyTorch's default init shrinks with the fan-in; 2x keeps every layer's
                # contribution visible in the outputs.
                model[i].weight.mul_(2.0)
                model[i].bias.normal_(0.0, 0.3)
        # Saved with PyTorch's own names, then renamed to sibp's: the reader cannot tell.
        state = model.state_dict()
        renamed = {}
        for i, k in enumerate(param_index):
            renamed[f"layers.{i}.weight"] = state[f"{k}.weight"].numpy()
            renamed[f"layers.{i}.bias"] = state[f"{k}.bias"].numpy()
        write(args.export, renamed, {"format": "pt"})
        y = forward(model, samples, shape, torch_dtype)
        print(json.dumps({"dtype": args.dtype, "arch": args.arch, "input": args.input_shape, "modules": names,
                          "outputs": y.tolist()}))
        return

    if not args.file:
        fail("give a model FILE, or --export OUT", 2)
    metadata, tensors, data_start = parse(args.file)
    dtypes = {str(t.dtype) for t in tensors.values()}
    torch_dtype = torch.float64 if dtypes == {"float64"} else torch.float32
    if "sibp.arch" in metadata:
        arch_text = metadata["sibp.arch"]
        layers = parse_arch(arch_text)
        shape = parse_shape(metadata["sibp.input"])
    else:
        widths = [int(w) for w in metadata["sibp.layers"].split("-")]
        layers = mlp_arch(widths, metadata.get("sibp.hidden", "relu").replace("-", "_"),
                          metadata.get("sibp.output", "identity").replace("-", "_"))
        arch_text = metadata["sibp.layers"]
        shape = (widths[0], 1, 1)
    model, param_index, names = build(layers, shape, torch_dtype)
    # sibp's layers.<i> is the i-th parametrised layer; in the Sequential it is module param_index[i].
    state = {}
    for name, v in tensors.items():
        m = re.fullmatch(r"layers\.(\d+)\.(weight|bias)", name)
        if not m or int(m.group(1)) >= len(param_index):
            fail(f"{args.file}: unexpected tensor {name}")
        state[f"{param_index[int(m.group(1))]}.{m.group(2)}"] = torch.from_numpy(v).to(torch_dtype)
    # strict=True: every parameter must be present, and every shape must match
    # nn.Linear's [out_features, in_features] or nn.Conv2d's [out, in, kh, kw].
    model.load_state_dict(state, strict=True)
    y = forward(model, samples, shape, torch_dtype)
    print(json.dumps({"dtype": "F64" if torch_dtype == torch.float64 else "F32", "arch": arch_text,
                      "input": metadata.get("sibp.input", ""), "modules": names, "data_start": data_start,
                      "outputs": y.tolist()}))


if __name__ == "__main__":
    main()
