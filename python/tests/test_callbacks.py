"""Callbacks at evaluation points, stopping, Ctrl-C, and the GIL."""
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import sibp


def test_callbacks_see_every_row_and_can_stop(small):
    X, y, Xt, yt = small
    seen = []
    hist = sibp.fit(sibp.Network("64-16-4"), sibp.SGD(), X, y, epochs=3, batch=50, eval_every=4,
                    test_data=(Xt, yt), callbacks=[seen.append])
    assert seen == hist.rows and hist.status == "completed"
    assert [r["iteration"] for r in seen] == [0, 4, 6, 8, 12, 16, 18]

    def stop_at_8(row):
        return row["iteration"] >= 8

    net = sibp.Network("64-16-4")
    other = []
    hist = sibp.fit(net, sibp.SGD(), X, y, epochs=3, batch=50, eval_every=4, callbacks=[stop_at_8, other.append])
    assert hist.status == "stopped" and hist.iterations == 8 and hist.final["iteration"] == 8
    assert [r["iteration"] for r in other] == [0, 4, 6, 8]  # every callback sees the last row too
    # Stopped exactly after step 8: the same as 8 steps of a longer run.
    ref = sibp.Network("64-16-4")
    sibp.fit(ref, sibp.SGD(), X, y, epochs=3, batch=50, eval_every=8, callbacks=[stop_at_8])
    assert ref.to_bytes() == net.to_bytes()


def test_callbacks_may_use_the_network(small):
    X, y, Xt, yt = small
    net = sibp.Network("64-16-4")
    accuracies = []

    def record(row):
        accuracies.append(float((net.predict(Xt).argmax(axis=1) == yt).mean()))

    hist = sibp.fit(net, sibp.SGD(), X, y, epochs=2, test_data=(Xt, yt), callbacks=[record])
    assert accuracies == pytest.approx(hist.column("test_acc"))


def test_an_exception_in_a_callback_stops_fit(small):
    X, y = small[0], small[1]

    def fail(row):
        if row["iteration"] > 0:
            raise RuntimeError("from the callback")

    net = sibp.Network("64-16-4")
    with pytest.raises(RuntimeError, match="from the callback") as e:
        sibp.fit(net, sibp.SGD(), X, y, epochs=3, batch=50, callbacks=[fail])
    assert e.value.history.status == "interrupted" and len(e.value.history.rows) == 2
    sibp.fit(net, sibp.SGD(), X, y, epochs=1)  # usable again


def test_fit_releases_the_gil(small):
    """Another thread runs while fit trains; the network refuses to be read or
    trained from it meanwhile."""
    X = np.repeat(small[0], 20, axis=0)
    y = np.repeat(small[1], 20)
    net = sibp.Network("64-16-4")
    started = threading.Event()
    result = {}

    def run():
        result["hist"] = sibp.fit(net, sibp.SGD(), X, y, epochs=20, batch=10, callbacks=[lambda r: started.set()])

    t = threading.Thread(target=run)
    t.start()
    assert started.wait(30)
    ticks, refused = 0, []
    while t.is_alive():
        ticks += 1
        if len(refused) < 2 and result.get("hist") is None:
            for call in (lambda: net.predict(X[:5]), lambda: sibp.fit(net, sibp.SGD(), X, y, epochs=1)):
                try:
                    call()
                except RuntimeError as e:
                    refused.append(str(e))
        time.sleep(0.001)
    t.join()
    assert result["hist"].status == "completed"
    assert ticks > 10
    assert any("being trained by fit() in another thread" in m for m in refused)


CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import sibp
    rng = np.random.default_rng(0)
    X = rng.random((2000, 64), dtype=np.float32)
    y = rng.integers(0, 4, 2000)
    net = sibp.Network("64-32-4", seed=1)
    def started(row):
        if row["iteration"] == 0:
            print("started", flush=True)
    try:
        sibp.fit(net, sibp.SGD(lr=0.01), X, y, epochs=100000, batch=10, callbacks=[started])
        print(json.dumps({"error": "fit finished"}))
        sys.exit(0)
    except KeyboardInterrupt as e:
        h = e.history
    # The network is at its last completed step: equal to a run stopped after that many steps.
    k = h.iterations
    again = sibp.Network("64-32-4", seed=1)
    sibp.fit(again, sibp.SGD(lr=0.01), X, y, epochs=100000, batch=10, eval_every=k,
             callbacks=[lambda row: row["iteration"] == k])
    print(json.dumps({"iterations": k, "status": h.status, "rows": len(h.rows), "finite": net.finite,
                      "same": net.to_bytes() == again.to_bytes()}))
""")


def run_and_interrupt(script, *args, wait=0.5):
    """Runs `script` in a child interpreter, sends it SIGINT `wait` seconds after
    it printed "started"; returns its stdout, stderr, exit code."""
    p = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.strip() == "started", (line, p.stderr.read() if p.poll() is not None else "")
        time.sleep(wait)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        return out, err, p.returncode
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_ctrl_c_stops_fit_after_the_current_step():
    out, err, code = run_and_interrupt(CHILD)
    assert code == 0, err
    r = json.loads(out)
    assert r["status"] == "interrupted" and r["iterations"] > 0 and r["rows"] >= 1
    assert r["finite"] and r["same"], r


CHILD_TRAIN = textwrap.dedent("""
    import json, sys
    import sibp
    try:
        sibp.train(out=sys.argv[1], data=sys.argv[2], layers="64-16-4", batch=1, epochs=100000, eval_every=50,
                   callbacks=[lambda row: print("started", flush=True) if row["iteration"] == 0 else None])
    except KeyboardInterrupt as e:
        print(json.dumps({"status": e.history.status, "rows": len(e.history.rows)}))
""")


def test_ctrl_c_leaves_a_train_folder_resumable(idx_dir, tmp_path):
    out, err, code = run_and_interrupt(CHILD_TRAIN, tmp_path / "run", f"idx:{idx_dir}")
    assert code == 0, err
    assert json.loads(out)["status"] == "interrupted"
    assert (tmp_path / "run" / "config.json").exists() and not (tmp_path / "run" / "result.json").exists()
    assert (tmp_path / "run" / "model.safetensors").exists()  # the last evaluation point, committed
    with pytest.raises(sibp.UsageError, match="holds an interrupted run; use --resume"):
        sibp.train(out=tmp_path / "run", data=f"idx:{idx_dir}", layers="64-16-4", batch=1, epochs=100000)
