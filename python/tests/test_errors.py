"""Errors become Python exceptions of the right kind, with the command line's
messages; nothing brings the interpreter down."""
import numpy as np
import pytest

import sibp


def test_option_errors_are_value_errors_named_by_keyword():
    with pytest.raises(sibp.OptionError) as e:
        sibp.SIBP(eta="fast")
    assert isinstance(e.value, ValueError) and isinstance(e.value, sibp.UsageError)
    assert str(e.value) == 'eta: expected a finite number, got string "fast"'
    assert (e.value.option, e.value.key) == ("eta", "eta")
    with pytest.raises(sibp.OptionError, match=r"^lam: ") as e:
        sibp.SIBP(lam=-1)
    assert (e.value.option, e.value.key) == ("lam", "lambda")
    with pytest.raises(sibp.OptionError, match=r"^solver_iters: expected an integer from 0 to 10000, got -1$"):
        sibp.SIBP(solver_iters=-1)
    with pytest.raises(sibp.OptionError, match=r"^solver: "):
        sibp.SIBP(solver="magic")
    with pytest.raises(sibp.OptionError, match=r"^epochs: expected an integer from 1 to 1000000, got 0$"):
        sibp.fit(sibp.Network("4-2"), sibp.SGD(), np.zeros((2, 4), np.float32), [0, 1], epochs=0)
    with pytest.raises(sibp.OptionError, match=r"^act: "):
        sibp.Network("64-16-4", act="swish")
    with pytest.raises(sibp.OptionError, match=r"^momentum: --algo momentum needs momentum > 0, got 0$"):
        sibp.Momentum(momentum=0)
    with pytest.raises(sibp.OptionError, match=r"^momentum: applies to SGD, not to Adam$"):
        sibp.ProxProp(outer="adam", momentum=0.9)


def test_an_option_of_another_algorithm_is_refused_as_the_cli_does():
    with pytest.raises(sibp.OptionError, match=r"^eta: applies to --algo sibp, not sgd$"):
        sibp.SGD(eta=0.1)
    with pytest.raises(TypeError, match=r"SGD\(\) got an unexpected keyword argument 'epochs' "
                                        r"\(epochs is an option of sibp.fit\(\)\)"):
        sibp.SGD(epochs=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        sibp.SGD(learning_rate=0.1)
    with pytest.raises(TypeError, match=r"is an option of sibp.Network\(\)"):
        sibp.fit(sibp.Network("4-2"), sibp.SGD(), np.zeros((2, 4), np.float32), [0, 1], act="relu")
    with pytest.raises(TypeError, match="through an alias"):
        sibp.fit(sibp.Network("4-2"), sibp.SGD(), np.zeros((2, 4), np.float32), [0, 1], batch=2, batch_size=2)
    with pytest.raises(sibp.OptionError, match="^algo: expected one of sgd"):
        sibp.algorithms.by_name("lbfgs")  # not registered


def test_networks_that_do_not_fit():
    with pytest.raises(sibp.UsageError, match="kernel"):
        sibp.Network(arch="conv(4,9) dense(2)", input_shape=(1, 8, 8))
    with pytest.raises(sibp.OptionError, match="^input_shape: is needed with arch"):
        sibp.Network(arch="dense(2)")
    with pytest.raises(sibp.OptionError, match="^layers: '64-16-4': the first width must equal"):
        sibp.Network("64-16-4", input_shape=(1, 7, 7))
    with pytest.raises(sibp.UsageError, match="input_shape '1x0x3'"):
        sibp.Network(arch="dense(2)", input_shape=(1, 0, 3))
    with pytest.raises(sibp.OptionError, match="^arch: "):
        sibp.Network(arch="dense(2) pool(3)", input_shape=(4,))
    with pytest.raises(sibp.OptionError, match="^solver: .*exact"):
        net = sibp.Network("4-3-2")
        sibp.fit(net, sibp.SIBP(solver="exact"), np.zeros((2, 4), np.float32), [0, 1])


def test_bad_files_are_os_errors(tmp_path, small):
    with pytest.raises(sibp.DataError) as e:
        sibp.Network.load(tmp_path / "missing.safetensors")
    assert isinstance(e.value, OSError) and "missing.safetensors" in str(e.value)
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(sibp.DataError, match="bad.safetensors.*header.*not valid JSON"):
        sibp.Network.load(tmp_path / "bad.safetensors")
    with pytest.raises(sibp.DataError, match="idx"):
        sibp.datasets.load(f"idx:{tmp_path}")
    with pytest.raises(sibp.UsageError, match="--data"):
        sibp.datasets.load("nonsense:abc")
    with pytest.raises(sibp.DataError):
        sibp.Network("64-16-4").save(tmp_path / "no" / "such" / "folder" / "m.safetensors")
    with pytest.raises(sibp.DataError):
        sibp.compare(tmp_path / "missing.json", out=tmp_path / "out")
    with pytest.raises(sibp.UsageError, match="sead is not an experiment key"):
        sibp.compare({"name": "x", "kind": "compare", "base": {}, "seeds": [1], "sead": 1,
                      "runs": [{"label": "a", "algo": "sgd"}]}, out=tmp_path / "out")
    with pytest.raises(sibp.UsageError, match="reserved|written by sibp"):
        sibp.Network("4-2").save(tmp_path / "m.safetensors", metadata={"sibp.arch": "dense(3)"})


def test_diverged_carries_the_metrics_so_far(small):
    X, y, Xt, yt = small
    net = sibp.Network("64-16-4", seed=1)
    with pytest.raises(sibp.Diverged) as e:
        sibp.fit(net, sibp.SGD(lr=1e30), X, y, epochs=3, eval_every=2, test_data=(Xt, yt))
    d = e.value
    assert isinstance(d.history, sibp.History) and d.history.status == "diverged"
    assert d.history.rows[0]["iteration"] == 0 and d.iteration >= 1 and d.epoch == 1
    assert "diverged" in str(d) and f"iteration {d.iteration}" in str(d)
    # The network is left at its last evaluation point, finite, as the CLI's model file.
    assert net.finite
    loss, acc = net.evaluate(Xt, yt)
    assert acc == pytest.approx(d.history.final["test_acc"])


def test_train_diverged_and_locked(idx_dir, tmp_path):
    with pytest.raises(sibp.Diverged, match="last good model are kept in") as e:
        sibp.train(out=tmp_path / "d", data=f"idx:{idx_dir}", layers="64-16-4", lr=1e30, epochs=1)
    assert e.value.history.status == "diverged" and (tmp_path / "d" / "model.safetensors").exists()
    with pytest.raises(sibp.UsageError, match="resume and overwrite"):
        sibp.train(out=tmp_path / "x", resume=True, overwrite=True)
    with pytest.raises(sibp.UsageError, match="holds no run to resume"):
        sibp.train(out=tmp_path / "x", resume=True)


def test_a_folder_written_by_another_process_is_locked(idx_dir, tmp_path, sibp_binary):
    """FolderLockedError (an OSError) while a `sibp train` process holds the folder."""
    import subprocess
    import time

    out = tmp_path / "run"
    p = subprocess.Popen([str(sibp_binary), "train", "--data", f"idx:{idx_dir}", "--layers", "64-16-4",
                          "--batch", "1", "--epochs", "1000", "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while not (out / "config.json").exists() and time.time() < deadline:
            time.sleep(0.02)
        with pytest.raises(sibp.FolderLockedError, match=f"PID {p.pid}") as e:
            sibp.train(out=out, resume=True)
        assert isinstance(e.value, OSError)
    finally:
        p.kill()
        p.wait()


def test_fit_refuses_the_data_set_options(small):
    """train_subset/test_subset choose samples of a named data set; fit() is
    given arrays, so it refuses them instead of silently training on all."""
    X, y, Xt, yt = small
    net = sibp.Network(f"{X[0].size}-8-4", input_shape=X.shape[1:])
    for kw in ("train_subset", "test_subset", "data"):
        with pytest.raises(TypeError, match=kw):
            sibp.fit(net, sibp.SGD(), X, y, epochs=1, **{kw: 10 if kw != "data" else "mnist"})
