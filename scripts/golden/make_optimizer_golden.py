#!/usr/bin/python3
"""Golden optimiser trajectories from torch.optim for tests/train/test_update_rule.cpp.

Run with the system interpreter that has torch (the pyenv python3 has none):

    /usr/bin/python3 scripts/golden/make_optimizer_golden.py

It builds tiny float64 MLPs (6-5-4-3: relu + softmax cross-entropy (mean), and
tanh + squared error), takes 3 steps of each optimiser on one fixed batch and
writes tests/fixtures/golden/optimizer_steps.json with the initial
parameters, the batch and the parameters after every step.

Conventions match sibp (ALGORITHMS.md section 1): samples are columns in
sibp, rows here; a torch Linear weight is (out, in), the same as sibp's W;
the squared error is 1/2 ||f - y||^2 summed over outputs, mean over samples.
Floats are written with repr(), which round-trips float64 exactly.
"""
import json
import os
import sys

import torch

FORMAT_VERSION = 1
WIDTHS = [6, 5, 4, 3]
BATCH = 5
STEPS = 3

OPTIMIZERS = [
    ("sgd", "sgd", dict(lr=0.1)),
    ("momentum", "sgd", dict(lr=0.1, momentum=0.9)),
    ("nesterov", "sgd", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd_weight_decay", "sgd", dict(lr=0.1, weight_decay=0.05)),
    ("nesterov_weight_decay", "sgd", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("adam", "adam", dict(lr=0.01)),
    ("adam_weight_decay", "adam", dict(lr=0.01, weight_decay=0.1)),
]

NETWORKS = [
    ("relu_ce", "relu", "cross-entropy"),
    ("tanh_squared", "tanh", "squared"),
]


def make_model(activation):
    layers = []
    for i in range(len(WIDTHS) - 1):
        layers.append(torch.nn.Linear(WIDTHS[i], WIDTHS[i + 1]).double())
        if i + 2 < len(WIDTHS):
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def params_json(model):
    return [{"W": lin.weight.detach().tolist(), "b": lin.bias.detach().tolist()} for lin in linears(model)]


def loss_fn(kind, out, target):
    if kind == "cross-entropy":
        return torch.nn.functional.cross_entropy(out, target, reduction="mean")
    return 0.5 * ((out - target) ** 2).sum(dim=1).mean()


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden",
        "optimizer_steps.json")
    torch.manual_seed(20240601)
    networks = []
    for net_name, activation, loss_kind in NETWORKS:
        model = make_model(activation)
        # Larger than PyTorch's default init so every layer's gradient matters.
        with torch.no_grad():
            for lin in linears(model):
                lin.weight.copy_(0.5 * torch.randn_like(lin.weight))
                lin.bias.copy_(0.5 * torch.randn_like(lin.bias))
        initial = params_json(model)
        X = torch.randn(BATCH, WIDTHS[0], dtype=torch.float64)
        if loss_kind == "cross-entropy":
            labels = torch.tensor([0, 2, 1, 2, 0])
            target = labels
            Y = torch.nn.functional.one_hot(labels, WIDTHS[-1]).double()
        else:
            Y = torch.randn(BATCH, WIDTHS[-1], dtype=torch.float64)
            target = Y
        cases = []
        for opt_name, opt_kind, kwargs in OPTIMIZERS:
            m = make_model(activation)
            with torch.no_grad():
                for lin, p in zip(linears(m), initial):
                    lin.weight.copy_(torch.tensor(p["W"], dtype=torch.float64))
                    lin.bias.copy_(torch.tensor(p["b"], dtype=torch.float64))
            opt = (torch.optim.SGD if opt_kind == "sgd" else torch.optim.Adam)(m.parameters(), **kwargs)
            steps = []
            for _ in range(STEPS):
                opt.zero_grad()
                loss = loss_fn(loss_kind, m(X), target)
                loss.backward()
                opt.step()
                steps.append({"loss_before": loss.item(), "params": params_json(m)})
            options = {"kind": opt_kind, "lr": kwargs["lr"], "momentum": kwargs.get("momentum", 0.0),
                       "nesterov": kwargs.get("nesterov", False),
                       "weight_decay": kwargs.get("weight_decay", 0.0)}
            cases.append({"name": opt_name, "options": options, "steps": steps})
        networks.append({
            "name": net_name, "widths": WIDTHS, "hidden_activation": activation, "loss": loss_kind,
            "X_samples": X.tolist(),  # (m, d0): one row per sample; sibp's X is its transpose
            "Y_samples": Y.tolist(),  # (m, C): one-hot for cross-entropy
            "initial": initial, "cases": cases,
        })
    doc = {
        "format": "sibp-optimizer-golden", "format_version": FORMAT_VERSION,
        "script": "scripts/golden/make_optimizer_golden.py", "torch_version": torch.__version__,
        "dtype": "float64", "adam_defaults": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        "networks": networks,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(out_path), os.path.getsize(out_path), "bytes")


if __name__ == "__main__":
    main()
