"""The API of the README's Python section: data, networks, algorithms, fit,
predictions, model files, parameters, the option table."""
import inspect

import numpy as np
import pytest

import sibp

METRICS = ["epoch", "iteration", "seconds", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"]


def test_datasets_load_shapes_and_types(small):
    X, y, Xt, yt = small
    assert X.shape == (300, 1, 8, 8) and X.dtype == np.uint8
    assert Xt.shape == (100, 1, 8, 8)
    assert y.shape == (300,) and y.dtype == np.int64 and set(np.unique(y)) == {0, 1, 2, 3}


def test_datasets_load_csv(tmp_path):
    rows = ["0,0.5,1.5", "1,2.0,-1.0", "2,0.25,3.0"]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    X, y, Xt, yt = sibp.datasets.load(f"csv:{tmp_path / 'a.csv'}")
    assert X.dtype == np.float32 and X.shape == (3, 2)
    np.testing.assert_array_equal(X, [[0.5, 1.5], [2.0, -1.0], [0.25, 3.0]])
    assert list(y) == [0, 1, 2] and Xt is None and yt is None


def test_fit_predict_and_history(small):
    X, y, Xt, yt = small
    net = sibp.Network("64-16-4", act="relu", init="normal:0.05", seed=1)
    algo = sibp.SIBP(eta=0.3, lam=1.0, solver="exact:gn-cg")
    hist = sibp.fit(net, algo, X, y, epochs=3, batch_size=50, seed=1, test_data=(Xt, yt), eval_every=0)
    assert hist.status == "completed" and hist.iterations == 18
    assert [r["epoch"] for r in hist.rows] == [0, 1, 2, 3]
    assert list(hist.rows[0])[:len(METRICS)] == METRICS
    assert hist.rows[-1]["val_acc"] is None
    assert hist.final["test_acc"] > 0.9 > hist.rows[0]["test_acc"]  # the bands are easy to learn
    assert hist.column("iteration") == [0, 6, 12, 18]
    assert hist.to_csv().startswith(",".join(METRICS) + "\n")
    assert hist.seconds_per_epoch > 0
    logits = net.predict(Xt)
    assert logits.shape == (100, 4) and logits.dtype == np.float32
    accuracy = float((logits.argmax(axis=1) == yt).mean())
    assert accuracy == pytest.approx(hist.final["test_acc"])
    loss, acc = net.evaluate(Xt, yt)
    assert acc == pytest.approx(hist.final["test_acc"]) and loss == pytest.approx(hist.final["test_loss"])
    assert net.metadata == {"sibp.algo": "sibp", "sibp.seed": "1"}


def test_every_algorithm_trains(small):
    X, y, Xt, yt = small
    for algo in (sibp.SGD(lr=0.5), sibp.Momentum(lr=0.1), sibp.Nesterov(lr=0.1), sibp.Adam(lr=0.01),
                 sibp.SIBP(eta=1.0), sibp.ProxProp(tau=0.05, lr=1.0)):
        net = sibp.Network("64-16-4", seed=2)
        hist = sibp.fit(net, algo, X, y, epochs=2, batch=30, test_data=(Xt, yt))
        assert hist.final["train_loss"] < hist.rows[0]["train_loss"], algo


def test_conv_network(small):
    X, y, Xt, yt = small
    net = sibp.Network(arch="conv(4,3,pad=1) relu maxpool(2) dense(4)", input_shape=(1, 8, 8), init="he", seed=1)
    assert net.arch == "conv(4,3,pad=1) relu maxpool(2) flatten dense(4)"
    assert net.input_shape == (1, 8, 8) and net.num_classes == 4
    assert net.num_parameters == 4 * 9 + 4 + 64 * 4 + 4
    hist = sibp.fit(net, sibp.SGD(lr=0.1, momentum=0.9), X, y, epochs=2, batch=25, test_data=(Xt, yt))
    assert hist.final["test_acc"] > 0.9
    # (n, H, W) and flat (n, C*H*W) rows are the same samples.
    np.testing.assert_array_equal(net.predict(Xt), net.predict(Xt[:, 0]))
    np.testing.assert_array_equal(net.predict(Xt), net.predict(Xt.reshape(100, 64)))


def test_save_load_round_trip(small, tmp_path):
    X, y, Xt, yt = small
    net = sibp.Network("64-16-4", input_shape=(1, 8, 8), seed=1)
    sibp.fit(net, sibp.Adam(), X, y, epochs=1, standardize=True)
    assert set(net.metadata) == {"sibp.algo", "sibp.seed", "sibp.norm.mean", "sibp.norm.inv_std"}
    net.save(tmp_path / "m.safetensors")
    net2 = sibp.Network.load(tmp_path / "m.safetensors")
    assert net2.arch == net.arch and net2.input_shape == net.input_shape and net2.dtype == "f32"
    assert net2.metadata == net.metadata
    np.testing.assert_array_equal(net2.predict(Xt), net.predict(Xt))  # the standardisation travels with the file
    assert net2.to_bytes() == (tmp_path / "m.safetensors").read_bytes()
    f64 = sibp.Network("64-16-4", dtype="f64", seed=1)
    f64.save(tmp_path / "f64.safetensors", metadata={"note": "x"})
    loaded = sibp.Network.load(str(tmp_path / "f64.safetensors"))
    assert loaded.dtype == "f64" and loaded.metadata == {"note": "x"}
    assert loaded.predict(Xt.reshape(100, 64)).dtype == np.float64


def test_parameters_are_copies_named_as_the_file(small):
    net = sibp.Network(arch="conv(4,3) tanh avgpool(2) dense(4)", input_shape=(1, 8, 8), seed=1)
    p = net.parameters()
    assert {k: v.shape for k, v in p.items()} == {
        "layers.0.weight": (4, 1, 3, 3), "layers.0.bias": (4,), "layers.1.weight": (4, 36), "layers.1.bias": (4,)}
    p["layers.0.weight"][:] = 0
    assert np.abs(net.parameters()["layers.0.weight"]).sum() > 0  # a copy
    X = small[2]
    before = net.predict(X)
    q = net.parameters()
    q["layers.1.bias"] = q["layers.1.bias"] + 1.0
    net.set_parameters(q)
    np.testing.assert_allclose(net.predict(X), before + 1.0, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"layers.1.weight' has shape \(36, 4\), expected \(4, 36\)"):
        net.set_parameters(dict(q, **{"layers.1.weight": q["layers.1.weight"].T}))
    with pytest.raises(KeyError, match="missing"):
        net.set_parameters({"layers.0.weight": q["layers.0.weight"]})
    with pytest.raises(KeyError, match="unexpected tensor 'layers.7.bias'"):
        net.set_parameters(dict(q, **{"layers.7.bias": q["layers.1.bias"]}))
    np.testing.assert_allclose(net.predict(X), before + 1.0, rtol=1e-5, atol=1e-5)  # unchanged by the failures


def test_same_seed_same_network():
    a = sibp.Network("64-16-4", seed=7).parameters()
    b = sibp.Network("64-16-4", seed=7).parameters()
    c = sibp.Network("64-16-4", seed=8).parameters()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["layers.0.weight"], c["layers.0.weight"])


def test_keywords_generated_from_the_option_table():
    table = {o["key"]: o for o in sibp.options()}
    assert table["lambda"]["name"] == "lam" and table["batch"]["default"] == 100
    every = set()
    # Every algorithm class (one per registered algorithm: sibp.algorithms.__all__).
    for f in (sibp.Network, sibp.fit, *(getattr(sibp, c) for c in sibp.algorithms.__all__)):
        every |= set(inspect.signature(f).parameters)
    # The data set options belong to sibp.train and sibp.datasets.load (fit takes arrays).
    data_set = {"algo"} | set(sibp._options.DATA_SET_KEYS)
    assert {o["name"] for o in table.values()} - data_set <= every
    assert {o["name"] for o in table.values()} <= set(inspect.signature(sibp.train).parameters)
    fit_params = inspect.signature(sibp.fit).parameters
    assert fit_params["epochs"].default == 5 and fit_params["eval_every"].default == 0
    assert inspect.signature(sibp.SIBP).parameters["eta"].default == 0.1
    assert inspect.signature(sibp.SIBP).parameters["lam"].default == 1.0
    assert "lr" not in inspect.signature(sibp.SIBP).parameters
    assert "eta" in sibp.SIBP.__doc__ and "Neuron step" in sibp.SIBP.__doc__


def test_algorithm_defaults_resolved_as_the_cli():
    assert sibp.SGD().options["lr"] == 0.1 and sibp.SGD().options["momentum"] == 0
    assert sibp.Momentum().options["momentum"] == 0.9
    assert sibp.Nesterov().options["nesterov"] is True
    assert sibp.Adam().options["lr"] == 0.001
    assert sibp.ProxProp(outer="adam").options["lr"] == 0.001
    assert sibp.SIBP().options["solver"] == "exact:gn-cg"
    assert sibp.SIBP(compat="authors").options["solver"] == "reference"
    assert sibp.SIBP(lam=[1, 0.5]).options["lam"] == [1.0, 0.5] and sibp.SIBP().options["lam"] == 1.0
    assert repr(sibp.SGD(lr=0.5)).startswith("sibp.SGD(lr=0.5")
    assert sibp.SGD(lr=0.5) == sibp.SGD(lr=0.5) != sibp.SGD(lr=0.4)


def test_layers_as_list_and_numpy_scalars():
    a = sibp.Network([64, 16, 4], seed=np.int64(3))
    b = sibp.Network("64-16-4", seed=3)
    assert a.to_bytes() == b.to_bytes()
    assert sibp.SGD(lr=np.float32(0.5)).options["lr"] == 0.5
