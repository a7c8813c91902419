#!/usr/bin/python3
"""Golden optimiser trajectories from torch.optim for tests/train/test_update_rule.cpp.

Run with the system interpreter that has torch (the pyenv python3 has none):

    /usr/bin/python3 scripts/golden/make_optimizer_golden.py

It builds tiny float64 MLPs (6-5-4-3: relu + softmax cross-entropy (mean), and
tanh + squared error) and small CNNs (nn.Conv2d with stride and padding,
max and average pooling, flatten, linear layers), takes 3 steps of each
optimiser on one fixed batch and writes tests/fixtures/golden/optimizer_steps.json
with the initial parameters, the batch and the parameters after every step.
The MLPs are drawn first from the seed, so adding the CNNs (format version 2)
left their numbers unchanged.

    /usr/bin/python3 scripts/golden/make_optimizer_golden.py [OUT] [--mlp-from OLD.json]

--mlp-from keeps the MLP entries of an earlier file byte for byte after
checking that they agree with the ones just computed to 1e-12 relative (the
test's tolerance): the committed MLP entries were computed on another machine,
and this one's BLAS reproduces them only to about 1.5e-13 relative (summation
order), so without the option every MLP number would change in its last
digits for no reason.

Conventions match sibp (ALGORITHMS.md sections 1, 5): samples are columns in
sibp, rows here (a CNN sample flattened in (C, H, W) order); a torch Linear
weight is (out, in), the same as sibp's W, and a Conv2d weight
[out, in, kh, kw] is written as the rows (out, in*kh*kw), also sibp's W; the
squared error is 1/2 ||f - y||^2 summed over outputs, mean over samples. An
MLP entry has "widths" and "hidden_activation"; a CNN entry "arch" (sibp's
--arch syntax) and "input" (CxHxW) instead.
Floats are written with repr(), which round-trips float64 exactly.

    /usr/bin/python3 scripts/golden/make_optimizer_golden.py --registry [OUT]

writes tests/fixtures/golden/registry_steps.json instead: the same networks and
batches, stepped by the optimisers of REGISTRY (torch.optim.AdamW, RMSprop, ...),
each case with the --algo name and the run option settings (config.json keys)
that tests/train/test_registry_golden.cpp hands to the algorithm registry. A new
registered optimiser gets its golden steps from one more REGISTRY row.

    /usr/bin/python3 scripts/golden/make_optimizer_golden.py --schedule [OUT]

writes tests/fixtures/golden/schedule_steps.json for tests/train/test_schedule.cpp:
the step schedules of `sibp train --schedule/--warmup` as torch.optim.lr_scheduler
computes them (CosineAnnealingLR with T_max = the run's iterations and LinearLR
warm-up stepped once per iteration, MultiStepLR stepped once per epoch, chained
by multiplying the optimiser's lr): (a) the lr of every step of several
schedules, and (b) trajectories of registered optimisers on the relu MLP over
2 epochs of 3 mini-batches taken in order, each case with its --algo name,
settings, --schedule and --warmup.
"""
import json
import os
import sys

import torch

FORMAT_VERSION = 2
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

# name, torch.optim class, keyword arguments: the golden steps of registered
# algorithms (--registry), replayed through the registry by their --algo name.
REGISTRY = [
    ("adamw", "AdamW", dict(lr=0.01)),
    ("adamw_tuned", "AdamW", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("rmsprop", "RMSprop", dict(lr=0.01)),
    ("rmsprop_momentum", "RMSprop", dict(lr=0.01, momentum=0.9)),
    ("rmsprop_centered", "RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("rmsprop_centered_momentum_decay", "RMSprop", dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1)),
]


def registry_settings(opt):
    """The --algo name and run option settings of a torch.optim optimiser: every
    hyper-parameter it has, under sibp's config.json keys."""
    d = opt.defaults
    s = {"lr": d["lr"], "eps": d["eps"], "weight_decay": d["weight_decay"]}
    if "betas" in d:
        s["beta1"], s["beta2"] = d["betas"]
    for key in ("alpha", "momentum", "centered"):
        if key in d:
            s[key] = d[key]
    return type(opt).__name__.lower(), s


NETWORKS = [
    ("relu_ce", "relu", "cross-entropy"),
    ("tanh_squared", "tanh", "squared"),
]

# name, sibp --arch text, the same in PyTorch modules (built by cnn_model), input shape, classes, loss.
CNNS = [
    ("cnn_relu_ce", "conv(3,3,stride=2,pad=1) relu maxpool(2,stride=1) conv(2,2) tanh avgpool(2,stride=1) dense(3)",
     (2, 7, 7), 3, "cross-entropy"),
    ("cnn_sigmoid_squared", "conv(2,3,pad=1) sigmoid avgpool(2) flatten dense(4) leaky_relu dense(3)",
     (1, 6, 6), 3, "squared"),
]


def cnn_model(name):
    nn = torch.nn
    if name == "cnn_relu_ce":
        # 2x7x7 -> conv 3x4x4 -> maxpool 3x3x3 -> conv 2x2x2 -> avgpool 2x1x1 -> (flatten) -> 3
        return nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2, stride=1),
                             nn.Conv2d(3, 2, 2), nn.Tanh(), nn.AvgPool2d(2, stride=1), nn.Flatten(),
                             nn.Linear(2, 3)).double()
    # 1x6x6 -> conv 2x6x6 -> avgpool 2x3x3 -> flatten 18 -> 4 -> 3
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(18, 4), nn.LeakyReLU(0.01), nn.Linear(4, 3)).double()


def make_model(activation):
    layers = []
    for i in range(len(WIDTHS) - 1):
        layers.append(torch.nn.Linear(WIDTHS[i], WIDTHS[i + 1]).double())
        if i + 2 < len(WIDTHS):
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def linears(model):
    """The parametrised layers (Linear, Conv2d), in order."""
    return [m for m in model if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]


def params_json(model):
    # A Conv2d weight [out, in, kh, kw] as (out, in*kh*kw) rows (sibp's W); a Linear weight as it is.
    return [{"W": lin.weight.detach().reshape(lin.weight.shape[0], -1).tolist(), "b": lin.bias.detach().tolist()}
            for lin in linears(model)]


def run_cases(make, initial, X, target, loss_kind, registry=False):
    """3 steps of every optimiser (of REGISTRY if `registry`) from `initial` on (X, target)."""
    cases = []
    for opt_name, opt_kind, kwargs in (REGISTRY if registry else OPTIMIZERS):
        m = make()
        with torch.no_grad():
            for lin, p in zip(linears(m), initial):
                lin.weight.copy_(torch.tensor(p["W"], dtype=torch.float64).reshape(lin.weight.shape))
                lin.bias.copy_(torch.tensor(p["b"], dtype=torch.float64))
        if registry:
            opt = getattr(torch.optim, opt_kind)(m.parameters(), **kwargs)
        else:
            opt = (torch.optim.SGD if opt_kind == "sgd" else torch.optim.Adam)(m.parameters(), **kwargs)
        steps = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = loss_fn(loss_kind, m(X), target)
            loss.backward()
            opt.step()
            steps.append({"loss_before": loss.item(), "params": params_json(m)})
        if registry:
            algo, settings = registry_settings(opt)
            cases.append({"name": opt_name, "algo": algo, "settings": settings, "steps": steps})
            continue
        options = {"kind": opt_kind, "lr": kwargs["lr"], "momentum": kwargs.get("momentum", 0.0),
                   "nesterov": kwargs.get("nesterov", False),
                   "weight_decay": kwargs.get("weight_decay", 0.0)}
        cases.append({"name": opt_name, "options": options, "steps": steps})
    return cases


# --schedule: (a) lr sequences: name, --schedule, --warmup, epochs, batches per epoch, base lr.
SCHEDULE_LRS = [
    ("cosine", "cosine", 0, 3, 4, 0.1),
    ("cosine_warmup", "cosine", 5, 3, 4, 0.1),
    ("cosine_warmup_long", "cosine", 25, 10, 30, 0.5),
    ("multistep", "multistep:2,3:0.5", 0, 4, 3, 0.05),
    ("multistep_warmup", "multistep:1,3:0.1", 4, 4, 3, 0.01),
    ("multistep_warmup_past_milestone", "multistep:1:0.2", 5, 3, 2, 0.3),
    ("constant_warmup", "constant", 6, 2, 5, 0.1),
]
# (b) trajectories: name, --algo, settings (config.json keys), --schedule, --warmup.
SCHEDULE_STEPS = [
    ("momentum_cosine_warmup", "SGD", dict(lr=0.1, momentum=0.9), "cosine", 2),
    ("nesterov_multistep", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True), "multistep:1:0.3", 0),
    ("adam_multistep_warmup", "Adam", dict(lr=0.01), "multistep:1:0.5", 2),
    ("adamw_cosine", "AdamW", dict(lr=0.01, weight_decay=0.1), "cosine", 0),
]
SCHEDULE_EPOCHS = 2
SCHEDULE_BATCHES = 3  # per epoch, of BATCH samples each, in order


class TorchSchedule:
    """The schedulers of a --schedule and --warmup on `opt`, chained by multiplying its lr."""

    def __init__(self, opt, schedule, warmup, total):
        sched = torch.optim.lr_scheduler
        self.per_iteration, self.per_epoch = [], []
        if warmup > 1:
            self.per_iteration.append(sched.LinearLR(opt, start_factor=1.0 / warmup, end_factor=1.0,
                                                     total_iters=warmup - 1))
        if schedule == "cosine":
            self.per_iteration.append(sched.CosineAnnealingLR(opt, T_max=total, eta_min=0))
        elif schedule.startswith("multistep:"):
            _, milestones, gamma = schedule.split(":")
            self.per_epoch.append(sched.MultiStepLR(opt, milestones=[int(e) for e in milestones.split(",")],
                                                    gamma=float(gamma)))

    def after_step(self, epoch_done):
        for s in self.per_iteration:
            s.step()
        if epoch_done:
            for s in self.per_epoch:
                s.step()


def schedule_algo(opt):
    """The --algo name of a torch.optim.SGD, Adam or AdamW optimiser."""
    d = opt.defaults
    if isinstance(opt, torch.optim.SGD):
        return "nesterov" if d["nesterov"] else "momentum" if d["momentum"] else "sgd"
    return type(opt).__name__.lower()


def schedule_settings(opt):
    """Every hyper-parameter of a torch.optim.SGD, Adam or AdamW optimiser, under sibp's config.json keys."""
    d = opt.defaults
    s = {"lr": d["lr"], "weight_decay": d["weight_decay"]}
    if isinstance(opt, torch.optim.SGD):
        s["momentum"], s["nesterov"] = d["momentum"], d["nesterov"]
    else:
        s["beta1"], s["beta2"] = d["betas"]
        s["eps"] = d["eps"]
    return s


def schedule_lrs():
    """(a): the lr of every step of each SCHEDULE_LRS schedule."""
    cases = []
    for name, schedule, warmup, epochs, batches, lr in SCHEDULE_LRS:
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([p], lr=lr)
        chain = TorchSchedule(opt, schedule, warmup, epochs * batches)
        lrs = []
        for i in range(epochs * batches):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            chain.after_step((i + 1) % batches == 0)
        cases.append({"name": name, "schedule": schedule, "warmup": warmup, "epochs": epochs,
                      "batches_per_epoch": batches, "lr": lr, "lrs": lrs})
    return cases


def schedule_trajectories():
    """(b): the relu MLP trained by each SCHEDULE_STEPS case over SCHEDULE_EPOCHS
    epochs of SCHEDULE_BATCHES batches (in order), the parameters after every step."""
    torch.manual_seed(20261207)
    model = make_model("relu")
    with torch.no_grad():
        for lin in linears(model):
            lin.weight.copy_(0.5 * torch.randn_like(lin.weight))
            lin.bias.copy_(0.5 * torch.randn_like(lin.bias))
    initial = params_json(model)
    n = BATCH * SCHEDULE_BATCHES
    X = torch.randn(n, WIDTHS[0], dtype=torch.float64)
    labels = torch.randint(0, WIDTHS[-1], (n,))
    cases = []
    for name, kind, kwargs, schedule, warmup in SCHEDULE_STEPS:
        m = make_model("relu")
        with torch.no_grad():
            for lin, p in zip(linears(m), initial):
                lin.weight.copy_(torch.tensor(p["W"], dtype=torch.float64))
                lin.bias.copy_(torch.tensor(p["b"], dtype=torch.float64))
        opt = getattr(torch.optim, kind)(m.parameters(), **kwargs)
        chain = TorchSchedule(opt, schedule, warmup, SCHEDULE_EPOCHS * SCHEDULE_BATCHES)
        steps = []
        for i in range(SCHEDULE_EPOCHS * SCHEDULE_BATCHES):
            k = i % SCHEDULE_BATCHES
            rows = slice(k * BATCH, (k + 1) * BATCH)
            opt.zero_grad()
            loss = loss_fn("cross-entropy", m(X[rows]), labels[rows])
            loss.backward()
            lr = opt.param_groups[0]["lr"]
            opt.step()
            chain.after_step(k + 1 == SCHEDULE_BATCHES)
            steps.append({"lr": lr, "loss_before": loss.item(), "params": params_json(m)})
        cases.append({"name": name, "algo": schedule_algo(opt), "settings": schedule_settings(opt),
                      "schedule": schedule, "warmup": warmup, "steps": steps})
    return {"name": "relu_ce", "widths": WIDTHS, "hidden_activation": "relu", "loss": "cross-entropy",
            "epochs": SCHEDULE_EPOCHS, "batch": BATCH, "X_samples": X.tolist(),
            "Y_samples": torch.nn.functional.one_hot(labels, WIDTHS[-1]).double().tolist(),
            "initial": initial, "cases": cases}


def write_schedule_golden(out_path):
    doc = {"format": "sibp-schedule-golden", "format_version": 1,
           "script": "scripts/golden/make_optimizer_golden.py --schedule", "torch_version": torch.__version__,
           "dtype": "float64", "lr_sequences": schedule_lrs(), "trajectories": schedule_trajectories()}
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.normpath(out_path), os.path.getsize(out_path), "bytes")


def loss_fn(kind, out, target):
    if kind == "cross-entropy":
        return torch.nn.functional.cross_entropy(out, target, reduction="mean")
    return 0.5 * ((out - target) ** 2).sum(dim=1).mean()


def numbers(x):
    """Every number in a JSON value, in a fixed order."""
    if isinstance(x, list):
        for y in x:
            yield from numbers(y)
    elif isinstance(x, dict):
        for k in sorted(x):
            yield from numbers(x[k])
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield float(x)


def keep_mlps_from(path, networks):
    """Replaces the MLP entries of `networks` by those of the file `path`, after
    checking that they are the same numbers to 1e-12 relative."""
    with open(path) as f:
        old = [n for n in json.load(f)["networks"] if "widths" in n]
    new = [n for n in networks if "widths" in n]
    if [n["name"] for n in old] != [n["name"] for n in new]:
        sys.exit(f"--mlp-from {path}: MLP entries {[n['name'] for n in old]}, computed {[n['name'] for n in new]}")
    for o, n in zip(old, new):
        a, b = list(numbers(o)), list(numbers(n))
        worst = max((abs(x - y) / max(abs(y), 1e-300) for x, y in zip(a, b)), default=0.0)
        if len(a) != len(b) or worst > 1e-12:
            sys.exit(f"--mlp-from {path}: entry {o['name']} differs from the computed one ({worst:.3g} relative)")
    return old + [n for n in networks if "widths" not in n]


def main():
    args = sys.argv[1:]
    mlp_from = None
    registry = "--registry" in args
    if registry:
        args.remove("--registry")
    if "--schedule" in args:
        args.remove("--schedule")
        write_schedule_golden(args[0] if args else os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden",
            "schedule_steps.json"))
        return
    if "--mlp-from" in args:
        i = args.index("--mlp-from")
        mlp_from = args[i + 1]
        del args[i:i + 2]
    out_path = args[0] if args else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "golden",
        "registry_steps.json" if registry else "optimizer_steps.json")
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
        cases = run_cases(lambda: make_model(activation), initial, X, target, loss_kind, registry)
        networks.append({
            "name": net_name, "widths": WIDTHS, "hidden_activation": activation, "loss": loss_kind,
            "X_samples": X.tolist(),  # (m, d0): one row per sample; sibp's X is its transpose
            "Y_samples": Y.tolist(),  # (m, C): one-hot for cross-entropy
            "initial": initial, "cases": cases,
        })
    for net_name, arch, shape, classes, loss_kind in CNNS:
        model = cnn_model(net_name)
        with torch.no_grad():
            for lin in linears(model):
                lin.weight.copy_(0.5 * torch.randn_like(lin.weight))
                lin.bias.copy_(0.5 * torch.randn_like(lin.bias))
        initial = params_json(model)
        X = torch.randn(BATCH, *shape, dtype=torch.float64)
        if loss_kind == "cross-entropy":
            labels = torch.tensor([2, 0, 1, 1, 2])
            target = labels
            Y = torch.nn.functional.one_hot(labels, classes).double()
        else:
            Y = torch.randn(BATCH, classes, dtype=torch.float64)
            target = Y
        cases = run_cases(lambda: cnn_model(net_name), initial, X, target, loss_kind, registry)
        networks.append({
            "name": net_name, "arch": arch, "input": "x".join(str(d) for d in shape), "loss": loss_kind,
            "X_samples": X.reshape(BATCH, -1).tolist(),  # (m, C*H*W): sibp's X transposed
            "Y_samples": Y.tolist(),
            "initial": initial, "cases": cases,
        })
    if mlp_from:
        networks = keep_mlps_from(mlp_from, networks)
    if registry:
        doc = {"format": "sibp-registry-golden", "format_version": 1,
               "script": "scripts/golden/make_optimizer_golden.py --registry", "torch_version": torch.__version__,
               "dtype": "float64", "networks": networks}
        with open(out_path, "w") as f:
            json.dump(doc, f, separators=(",", ":"))
            f.write("\n")
        print("wrote", os.path.normpath(out_path), os.path.getsize(out_path), "bytes")
        return
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
