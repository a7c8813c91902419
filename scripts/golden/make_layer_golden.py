#!/usr/bin/python3
"""Golden forward passes and gradients of PyTorch's layers for
tests/nn/test_layer_golden.cpp (ALGORITHMS.md section 5).

Run with the system interpreter that has torch (the pyenv python3 has none):

    /usr/bin/python3 scripts/golden/make_layer_golden.py

It builds small float64 nn.Sequential models out of nn.Conv2d (with stride,
padding, 2 or 3 input channels), nn.MaxPool2d, nn.AvgPool2d (stride equal to,
smaller and larger than the kernel), nn.Flatten, nn.Linear and the
activations (ReLU, LeakyReLU(0.01), Tanh, Sigmoid), draws their parameters
and a batch from a fixed seed, and records for each model: the input batch,
the labels, the parameters, the logits, the mean softmax cross-entropy, its
gradient w.r.t. every parameter and w.r.t. the input. It writes
tests/fixtures/golden/layer_steps.json.

Conventions, so the C++ side reads everything directly:
- "arch" is the model in sibp's --arch syntax (src/nn/architecture.hpp) and
  "input" the sample shape CxHxW; sibp's network is NetworkSpec::build(arch,
  input). A flatten sibp implies before a dense layer is an explicit
  nn.Flatten here.
- "X_samples" and "input_grad_samples" are (m, C*H*W): one row per sample,
  PyTorch's (C, H, W) order flattened, i.e. sibp's batch X (C*H*W, m)
  transposed.
- For parametrised layer i (in order), "params"[i]["W"] is the weight as a
  list of rows with every dimension after the first flattened in order:
  nn.Linear's [out, in] as it is, nn.Conv2d's [out, in, kh, kw] as
  (out, in*kh*kw), which is sibp's W. "b" is the bias. "grads" likewise.
- "outputs_samples" is (m, classes), the logits.
Floats are written with repr(), which round-trips float64 exactly.
"""
import json
import os
import re
import sys

import torch
from torch import nn

FORMAT_VERSION = 1
SCRIPT = "scripts/golden/make_layer_golden.py"
BATCH = 3

# name, --arch text (sibp), input shape, classes
MODELS = [
    # Strided padded conv over 2 channels, max pool on an odd size (PyTorch floors), explicit flatten.
    ("conv_stride_pad_maxpool", "conv(4,3,stride=2,pad=1) relu maxpool(2) flatten dense(5) tanh dense(3)",
     (2, 9, 9), 3),
    # 3 channels; overlapping average pool (stride 1 < kernel 2); conv with stride 2 and no padding;
    # overlapping max pool; the flatten before dense(4) implied.
    ("sigmoid_avgpool_leaky", "conv(3,3,pad=1) sigmoid avgpool(2,stride=1) conv(2,2,stride=2) leaky_relu "
     "maxpool(2,stride=1) dense(4)", (3, 8, 8), 4),
    # A first pooling layer with stride 2 < kernel 3; padding 2 larger than half the kernel 2.
    ("first_avgpool_wide_pad", "avgpool(3,stride=2) conv(3,2,pad=2) tanh flatten dense(3)", (2, 7, 7), 3),
    # Average pool with stride 3 > kernel 2 (pixels no window reads); linear conv; 1x1 output channels.
    ("gapped_avgpool_linear_conv", "avgpool(2,stride=3) conv(5,3) dense(3) relu dense(2)", (3, 8, 8), 2),
    # Dense layers reading an image input directly (nn.Flatten first in PyTorch).
    ("dense_on_image", "dense(6) relu dense(3)", (2, 3, 3), 3),
]


def parse_arch(text):
    """sibp's --arch syntax as [(kind, args, activation)]."""
    layers = []
    for w in re.findall(r"[a-z_\-]+(?:\([^)]*\))?", text):
        if w in ("relu", "tanh", "sigmoid", "leaky_relu", "identity"):
            layers[-1][2] = w
            continue
        m = re.fullmatch(r"([a-z]+)(?:\(([^)]*)\))?", w)
        kind, inside = m.group(1), m.group(2)
        pos, kw = [], {}
        for a in (inside.split(",") if inside else []):
            if "=" in a:
                k, v = a.split("=")
                kw[k] = int(v)
            else:
                pos.append(int(a))
        layers.append([kind, (pos, kw), "identity"])
    return layers


def build(text, shape):
    """The nn.Sequential of `text` on samples of `shape` and the Sequential indices of
    its parametrised layers, in order."""
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": lambda: nn.LeakyReLU(0.01)}
    c, h, w = shape
    image = (h, w) != (1, 1)
    modules, params = [], []
    for kind, (pos, kw), act in parse_arch(text):
        if kind == "dense":
            if image:
                modules.append(nn.Flatten())
                c, h, w, image = c * h * w, 1, 1, False
            params.append(len(modules))
            modules.append(nn.Linear(c, pos[0]))
            c = pos[0]
        elif kind == "flatten":
            modules.append(nn.Flatten())
            c, h, w, image = c * h * w, 1, 1, False
        elif kind == "conv":
            k, s, p = pos[1], kw.get("stride", 1), kw.get("pad", 0)
            params.append(len(modules))
            modules.append(nn.Conv2d(c, pos[0], k, stride=s, padding=p))
            c, h, w, image = pos[0], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, True
        else:
            k, s = pos[0], kw.get("stride", pos[0])
            modules.append((nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d)(k, stride=s))
            h, w, image = (h - k) // s + 1, (w - k) // s + 1, True
        if kind in ("dense", "conv") and act != "identity":
            modules.append(acts[act]())
    return nn.Sequential(*modules), params


def rows(t):
    """A parameter as sibp's W: every dimension after the first flattened, as lists of rows."""
    return t.detach().reshape(t.shape[0], -1).tolist()


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden", "layer_steps.json")
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(20261201)
    models = []
    for name, arch, shape, classes in MODELS:
        model, params = build(arch, shape)
        with torch.no_grad():
            for i in params:
                # Larger than PyTorch's default init, so every layer's gradient matters.
                model[i].weight.normal_(0.0, 0.5)
                model[i].bias.normal_(0.0, 0.5)
        X = torch.randn(BATCH, *shape).requires_grad_(True)
        labels = torch.randint(0, classes, (BATCH,))
        logits = model(X if isinstance(model[0], (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten))
                       else X.reshape(BATCH, -1))
        assert logits.shape == (BATCH, classes), (name, logits.shape)
        loss = nn.functional.cross_entropy(logits, labels, reduction="mean")
        loss.backward()
        models.append({
            "name": name, "arch": arch, "input": "x".join(str(d) for d in shape), "classes": classes,
            "loss": "cross-entropy",
            "modules": [type(m).__name__ for m in model],
            "X_samples": X.detach().reshape(BATCH, -1).tolist(),
            "labels": labels.tolist(),
            "params": [{"W": rows(model[i].weight), "b": model[i].bias.detach().tolist()} for i in params],
            "outputs_samples": logits.detach().tolist(),
            "loss_value": loss.item(),
            "grads": [{"W": rows(model[i].weight.grad), "b": model[i].bias.grad.tolist()} for i in params],
            "input_grad_samples": X.grad.reshape(BATCH, -1).tolist(),
        })
    doc = {"format": "sibp-layer-golden", "format_version": FORMAT_VERSION, "script": SCRIPT,
           "torch_version": torch.__version__, "dtype": "float64", "models": models}
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(out_path), os.path.getsize(out_path), "bytes")


if __name__ == "__main__":
    main()
