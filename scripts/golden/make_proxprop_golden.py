#!/usr/bin/python3
"""Golden ProxProp steps for tests/train/test_proxprop.cpp.

Proximal Backpropagation: T. Frerix, T. Moellenhoff, M. Moeller, D. Cremers,
ICLR 2018 (arXiv 1706.04638). The update is the one of ALGORITHMS.md section 4,
written here independently in PyTorch, float64:

  1. forward with the current parameters, keep F_{l-1} and G_l;
  2. autograd of the batch-MEAN cross-entropy gives delta_l = d(mean loss)/dG_l
     (all layers at the OLD parameters);
  3. every hidden layer: theta = [W b], A = [F_{l-1}; 1^T], target T = G_l - delta_l,
        theta* = argmin 1/2 ||theta A - T||^2 + 1/(2 tau) ||theta - theta^k||^2
     exactly (normal equations, solved jointly for W and b), or by N steps of
     conjugate gradient on those normal equations, one independent CG per row
     of theta (one output unit), started at theta^k: either textbook CG, or
     the reference implementation's variant (github.com/tfrerix/proxprop,
     ProxProp.py, conjugate_gradient_block: eps = 1e-6 added to the
     denominators of alpha and beta, and a stop once the largest squared row
     residual is below tol^2 = 1e-4 times the mean initial one);
  4. hidden layers report theta^k - theta* as their gradient, the output layer
     its plain back-propagated gradient; torch.optim.SGD applies them.

Run with the system interpreter, which has torch:
    /usr/bin/python3 scripts/golden/make_proxprop_golden.py
It writes tests/fixtures/golden/proxprop_steps.json. Matrices are stored as
lists of rows; samples are columns (X is d0 x m) as in the C++ code.
"""
import json
import os

import torch

FORMAT_VERSION = 2
SCRIPT = "scripts/golden/make_proxprop_golden.py"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "tests", "fixtures", "golden", "proxprop_steps.json")

torch.set_default_dtype(torch.float64)

# Two ProxProp (hidden, ReLU) layers, one plain output layer. With BATCH = 8 the
# first layer has more unknowns per row (13) than samples and the second fewer (6),
# so the C++ side's sample-space and parameter-space CG are both checked.
WIDTHS = [12, 5, 4, 3]
BATCH = 8
TAU = 0.5
STEPS = 2


def prox_exact(theta_k, A, T, tau):
    # theta (A A^T + I/tau) = T A^T + theta_k/tau, i.e. (A A^T + I/tau) theta^T = ...
    n = A.shape[0]
    M = A @ A.T + torch.eye(n) / tau
    rhs = T @ A.T + theta_k / tau
    return torch.linalg.solve(M, rhs.T).T


def prox_cg(theta_k, A, T, tau, iters, reference=False, tol=1e-2, eps=1e-6):
    # Each row r of theta solves (A A^T + I/tau) x = A T_r^T + theta_k_r/tau: rows
    # are independent problems that share the matrix, so each keeps its own
    # alpha and beta. Textbook: a fixed iteration count, no tolerance test.
    # reference=True: the reference's CG semantics (rows of theta as its columns
    # of X): eps in the denominators of alpha and beta, and its early stop.
    # Returns the iterate and the number of steps made.
    def apply(X):  # rows of X times the symmetric matrix
        return (X @ A) @ A.T + X / tau
    B = T @ A.T + theta_k / tau
    X = theta_k.clone()
    R = B - apply(X)
    P = R.clone()
    rs = (R * R).sum(dim=1, keepdim=True)
    scale = rs.mean()
    for k in range(1, iters + 1):
        AP = apply(P)
        pAp = (P * AP).sum(dim=1, keepdim=True)
        if reference:
            alpha = rs / (pAp + eps)
        else:
            alpha = torch.where(pAp > 0, rs / pAp, torch.zeros_like(rs))
        X = X + alpha * P
        if k == iters:
            break
        R = R - alpha * AP
        rs_new = (R * R).sum(dim=1, keepdim=True)
        if reference and rs_new.max() < tol ** 2 * scale:
            break
        if reference:
            beta = rs_new / (rs + eps)
        else:
            beta = torch.where(rs > 0, rs_new / rs, torch.zeros_like(rs))
        P = R + beta * P
        rs = rs_new
    return X, k


STOPS = {}  # case name -> CG iterations of the reference variant's last solve


def proxprop_grads(Ws, bs, X, labels, solver, iters, tau):
    """Sets .grad of every parameter as ProxProp reports it; returns the mean loss."""
    L = len(Ws)
    F = [X]
    G = [None]
    for l in range(L):
        g = Ws[l] @ F[-1] + bs[l][:, None]
        g.retain_grad()
        G.append(g)
        F.append(torch.relu(g) if l < L - 1 else g)
    # cross_entropy wants samples as rows; the mean over the batch is torch's default.
    loss = torch.nn.functional.cross_entropy(F[L].T, labels)
    for p in Ws + bs:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for l in range(1, L):  # hidden layers 1..L-1 (paper: ProxProp layers)
            delta = G[l].grad
            A = torch.cat([F[l - 1], torch.ones(1, F[l - 1].shape[1])], dim=0)
            Tl = G[l] - delta
            theta_k = torch.cat([Ws[l - 1], bs[l - 1][:, None]], dim=1)
            if solver == "exact":
                theta = prox_exact(theta_k, A, Tl, tau)
            elif solver == "cg-textbook":
                theta, _ = prox_cg(theta_k, A, Tl, tau, iters)
            else:
                theta, STOPS[l] = prox_cg(theta_k, A, Tl, tau, iters, reference=True)
            d = theta_k - theta
            Ws[l - 1].grad = d[:, :-1].clone()
            bs[l - 1].grad = d[:, -1].clone()
        # the output layer keeps the plain gradient autograd left in .grad
    return loss.item()


def tolist(t):
    return t.detach().tolist()


def main():
    gen = torch.Generator().manual_seed(20180430)
    W0 = [torch.randn(WIDTHS[l + 1], WIDTHS[l], generator=gen) * 0.5 for l in range(len(WIDTHS) - 1)]
    b0 = [torch.randn(WIDTHS[l + 1], generator=gen) * 0.5 for l in range(len(WIDTHS) - 1)]
    batches = []
    for _ in range(STEPS):
        X = torch.randn(WIDTHS[0], BATCH, generator=gen)
        labels = torch.randint(0, WIDTHS[-1], (BATCH,), generator=gen)
        Y = torch.nn.functional.one_hot(labels, WIDTHS[-1]).T.to(torch.float64)
        batches.append((X, labels, Y))

    outers = [
        {"name": "sgd", "kind": "sgd", "lr": 1.0, "momentum": 0.0, "nesterov": False},
        {"name": "nesterov", "kind": "sgd", "lr": 1.0, "momentum": 0.95, "nesterov": True},
    ]
    # (solver, N, which CG); N = 40 lets the reference variant's early stop end the solves
    solvers = [("exact", 0, None), ("cg-textbook", 3, "textbook"), ("cg-reference", 3, "reference"),
               ("cg-reference", 40, "reference")]
    cases = []
    for solver, iters, cg in solvers:
        for outer in outers:
            if iters == 40 and outer["name"] != "sgd":
                continue
            STOPS.clear()
            Ws = [w.clone().requires_grad_() for w in W0]
            bs = [b.clone().requires_grad_() for b in b0]
            opt = torch.optim.SGD(Ws + bs, lr=outer["lr"], momentum=outer["momentum"],
                                  nesterov=outer["nesterov"])
            steps = []
            for X, labels, _ in batches:
                loss = proxprop_grads(Ws, bs, X, labels, solver, iters, TAU)
                opt.step()
                steps.append({"loss": loss, "W": [tolist(w) for w in Ws], "b": [tolist(b) for b in bs]})
            case = {
                "name": f"{solver}{iters if cg else ''}_{outer['name']}",
                "solver": "cg" if cg else solver, "prox_iters": iters, "tau": TAU, "outer": outer,
                "steps": steps,
            }
            if cg:
                case["prox_cg"] = cg
            if cg == "reference":
                case["last_solve_iterations"] = [STOPS[l] for l in sorted(STOPS)]
            cases.append(case)

    doc = {
        "format_version": FORMAT_VERSION,
        "script": SCRIPT,
        "torch_version": torch.__version__,
        "dtype": "float64",
        "paper": "Frerix et al., Proximal Backpropagation, ICLR 2018, arXiv 1706.04638",
        "network": {"widths": WIDTHS, "hidden": "relu", "output": "identity", "loss": "cross-entropy"},
        "W0": [tolist(w) for w in W0],
        "b0": [tolist(b) for b in b0],
        "batches": [{"X": tolist(X), "Y": tolist(Y)} for X, _, Y in batches],
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, OUT)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
