"""A Python run and the command line's run of the same configuration give the
same metrics (all columns but `seconds`) and the same model file bytes."""
import json

import pytest

import sibp
from sibp import _options
from conftest import without_seconds

# One configuration per algorithm family, each as `sibp train` options (keys
# of config.json); the Python calls are derived from the same dicts.
CONFIGS = {
    "sibp-default-solver": dict(layers="64-16-4", algo="sibp", eta=0.3, epochs=2, batch=50, seed=3, eval_every=4),
    "sibp-reference-per-layer-lambda": dict(layers="64-16-4", algo="sibp", eta=1.0, solver="reference",
                                            **{"lambda": "1,0.5"}, epochs=1, batch=40, seed=4),
    "momentum-val-standardize": dict(layers="64-16-4", act="tanh", init="he", algo="momentum", lr=0.05,
                                     val_split=50, standardize=True, grad_norm=True, epochs=2, batch=32, seed=5),
    "conv-adam-f64-diagnostics": dict(arch="conv(4,3,pad=1) relu maxpool(2) dense(4)", algo="adam", dtype="f64",
                                      diagnostics=True, epochs=1, batch=25, seed=2, eval_every=5),
    "proxprop-nesterov": dict(layers="64-16-4", algo="proxprop", tau=0.05, prox_iters=3, lr=0.5, momentum=0.9,
                              nesterov=True, epochs=1, batch=30, seed=6),
}


def cli_args(config):
    args = []
    for key, value in config.items():
        flag = "--" + key.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return args


def python_fit(config, X, y, Xt, yt):
    """net, History of the configuration trained with sibp.Network + sibp.fit."""
    model = set(_options.model_keys())
    loop = set(_options.loop_keys())
    net_kwargs = {_options.name(k): v for k, v in config.items() if k in model}
    algo_kwargs = {_options.name(k): v for k, v in config.items() if k not in model | loop | {"algo"}}
    fit_kwargs = {_options.name(k): v for k, v in config.items() if k in loop}
    net = sibp.Network(**net_kwargs, input_shape=X.shape[1:], seed=config["seed"])
    algo = sibp.algorithms.by_name(config["algo"], **algo_kwargs)
    return net, sibp.fit(net, algo, X, y, test_data=(Xt, yt), **fit_kwargs)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fit_equals_cli(name, idx_dir, small, cli, tmp_path):
    config = CONFIGS[name]
    spec = f"idx:{idx_dir}"
    cli("train", "--data", spec, *cli_args(config), "--out", tmp_path / "cli")
    net, hist = python_fit(config, *small)
    expected_csv = (tmp_path / "cli" / "metrics.csv").read_text()
    assert without_seconds(hist.to_csv()) == without_seconds(expected_csv)
    assert len(hist.rows) == len(expected_csv.strip().split("\n")) - 1
    assert net.to_bytes({"sibp.data": spec}) == (tmp_path / "cli" / "model.safetensors").read_bytes()
    assert hist.copies == []  # uint8 C-ordered images: read in place


def test_train_equals_cli(idx_dir, cli, tmp_path):
    """sibp.train writes the folder `sibp train` writes."""
    config = dict(CONFIGS["sibp-default-solver"], data=f"idx:{idx_dir}")
    cli("train", *cli_args(config), "--out", tmp_path / "cli")
    hist = sibp.train(out=tmp_path / "py", **{_options.name(k): v for k, v in config.items()})
    assert hist.status == "completed"
    for name in ("metrics.csv",):
        assert without_seconds((tmp_path / "py" / name).read_text()) == \
            without_seconds((tmp_path / "cli" / name).read_text())
    assert (tmp_path / "py" / "model.safetensors").read_bytes() == (tmp_path / "cli" / "model.safetensors").read_bytes()
    assert (tmp_path / "py" / "config.json").read_text() == (tmp_path / "cli" / "config.json").read_text()
    result = json.loads((tmp_path / "py" / "result.json").read_text())
    assert result["status"] == "completed"
    assert hist.seconds_per_epoch == pytest.approx(result["seconds_per_epoch"])


def test_train_batch_size_alias_and_refusals(idx_dir, tmp_path):
    out = tmp_path / "run"
    sibp.train(out=out, data=f"idx:{idx_dir}", layers="64-16-4", batch_size=100, epochs=1)
    assert json.loads((out / "config.json").read_text())["batch"] == 100
    with pytest.raises(sibp.UsageError, match="already holds a finished run"):
        sibp.train(out=out, data=f"idx:{idx_dir}", layers="64-16-4", epochs=1)
    hist = sibp.train(out=out, overwrite=True, data=f"idx:{idx_dir}", layers="64-16-4", epochs=1)
    assert hist.status == "completed"


EXPERIMENT = {
    "name": "py-compare", "kind": "compare",
    "base": {"layers": "64-16-4", "epochs": 1, "batch": 50},
    "seeds": [1, 2],
    "runs": [{"label": "sgd", "algo": "sgd", "lr": 0.2}, {"label": "sibp", "algo": "sibp", "eta": 0.3}],
}

SWEEP = {
    "name": "py-sweep", "kind": "sweep",
    "base": {"layers": "64-16-4", "epochs": 1, "batch": 50},
    "seeds": [1],
    "sweeps": [{"label": "sgd lr", "base": {"algo": "sgd"}, "param": "lr", "values": [0.1, 1000]}],
}


def test_compare_equals_cli(idx_dir, cli, tmp_path):
    experiment = json.loads(json.dumps(EXPERIMENT))
    experiment["base"]["data"] = f"idx:{idx_dir}"
    (tmp_path / "e.json").write_text(json.dumps(experiment))
    cli("compare", tmp_path / "e.json", "--out", tmp_path / "cli")
    report = sibp.compare(experiment, out=tmp_path / "py", verbose=False)
    assert (report.planned, report.trained, report.skipped) == (4, 4, 0)
    assert report.report.endswith("report.md")
    for label in ("sgd", "sibp"):
        for seed in (1, 2):
            run = f"{label}/seed-{seed}"
            assert without_seconds((tmp_path / "py" / run / "metrics.csv").read_text()) == \
                without_seconds((tmp_path / "cli" / run / "metrics.csv").read_text())
            assert (tmp_path / "py" / run / "model.safetensors").read_bytes() == \
                (tmp_path / "cli" / run / "model.safetensors").read_bytes()
    again = sibp.compare(tmp_path / "e.json", out=tmp_path / "py", verbose=False)  # a path works too
    assert (again.trained, again.skipped) == (0, 4)


def test_sweep_equals_cli(idx_dir, cli, tmp_path):
    experiment = json.loads(json.dumps(SWEEP))
    experiment["base"]["data"] = f"idx:{idx_dir}"
    (tmp_path / "s.json").write_text(json.dumps(experiment))
    cli("sweep", tmp_path / "s.json", "--out", tmp_path / "cli")
    report = sibp.sweep(experiment, out=tmp_path / "py", verbose=False)
    assert report.kind == "sweep" and report.planned == 2
    assert (tmp_path / "py" / "sweep.csv").read_text() == (tmp_path / "cli" / "sweep.csv").read_text()
    assert "diverged" in (tmp_path / "py" / "sweep.csv").read_text()  # lr 1000
    with pytest.raises(sibp.UsageError, match="sibp.compare"):
        sibp.sweep(dict(EXPERIMENT, base=dict(EXPERIMENT["base"], data=f"idx:{idx_dir}")), out=tmp_path / "x")
