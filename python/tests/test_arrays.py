"""How fit reads NumPy arrays: in place where the layout allows, the dtypes it
takes, and the shapes and labels it refuses."""
import numpy as np
import pytest

import sibp


def train(X, y, callbacks=(), **kw):
    net = sibp.Network("64-16-4", seed=1)
    hist = sibp.fit(net, sibp.SGD(lr=0.3), X, y, epochs=2, batch=50, callbacks=callbacks, **kw)
    return net, hist


def same_run(a, b):
    (na, ha), (nb, hb) = a, b
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in ha.rows] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in hb.rows]
    assert na.to_bytes() == nb.to_bytes()


def zero_after_first_epoch(X):
    """A callback that overwrites X with zeros at the end of epoch 1."""

    def cb(row):
        if row["epoch"] == 1:
            X[...] = 0

    return cb


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_read_in_place(small, dtype):
    """uint8 and float32 arrays in C order are not copied: changing X during
    fit changes what the second epoch trains on."""
    X = small[0].copy() if dtype == np.uint8 else small[0].astype(np.float32) / 255
    y = small[1]
    untouched = train(X.copy(), y)
    changed = train(X, y, callbacks=[zero_after_first_epoch(X)])
    assert changed[1].copies == []
    assert changed[1].rows[1]["train_loss"] == untouched[1].rows[1]["train_loss"]  # the same first epoch,
    assert changed[1].rows[2]["train_loss"] != untouched[1].rows[2]["train_loss"]  # then the zeros


def test_float64_is_copied_to_float32(small):
    X64 = small[0].reshape(300, 64).astype(np.float64) / 255
    X32 = X64.astype(np.float32)
    run64 = train(X64, small[1], callbacks=[zero_after_first_epoch(X64)])
    assert run64[1].copies == ["X: float64 converted to a float32 copy"]
    same_run(run64, train(X32, small[1]))  # the copy, not X64 (zeroed), was trained on


def test_uint8_is_scaled_as_float32_times_1_over_255(small):
    X = small[0]
    scaled = X.astype(np.float32) * (np.float32(1) / np.float32(255))
    same_run(train(X, small[1]), train(scaled, small[1]))


def test_non_contiguous_and_lists_are_copied(small):
    X, y = small[0].reshape(300, 64), small[1]
    reference = train(np.ascontiguousarray(X), y)
    fortran = train(np.asfortranarray(X), y)
    assert fortran[1].copies == ["X: uint8 copied into C order (the array was not C-contiguous and aligned)"]
    same_run(reference, fortran)
    wide = np.zeros((300, 128), np.uint8)
    wide[:, ::2] = X
    strided = train(wide[:, ::2], y)
    assert len(strided[1].copies) == 1
    same_run(reference, strided)
    scaled = X.astype(np.float32) / np.float32(255)
    listed = train(scaled.tolist(), y.tolist())  # floats: a float64 array, then a float32 copy
    assert listed[1].copies == ["X: converted from a Python list to an array", "X: float64 converted to a float32 copy"]
    same_run(train(scaled, y), listed)


def test_labels_of_any_integer_type(small):
    X, y = small[0], small[1]
    same_run(train(X, y), train(X, y.astype(np.uint8)))
    same_run(train(X, y), train(X, y.astype(np.int32)))


def test_shapes_channels_first(small):
    X, y = small[0], small[1]
    net = sibp.Network(arch="conv(2,3) relu dense(4)", input_shape=(1, 8, 8))
    sibp.fit(net, sibp.SGD(), X[:, 0], y, epochs=1)  # (n, H, W): one channel
    with pytest.raises(ValueError, match=r"samples of shape \(8, 8, 1\), but the network reads images of shape "
                                         r"\(1, 8, 8\)"):
        sibp.fit(net, sibp.SGD(), X.transpose(0, 2, 3, 1), y, epochs=1)
    with pytest.raises(ValueError, match=r"samples of shape \(63,\) have 63 values, but the network's input "
                                         r"\(1, 8, 8\) has 64"):
        sibp.fit(net, sibp.SGD(), X.reshape(300, 64)[:, :63], y, epochs=1)


def test_bad_arrays(small):
    X, y = small[0], small[1]
    net = sibp.Network("64-16-4")
    with pytest.raises(TypeError, match="expected uint8, float32 or float64 values, got dtype int64"):
        sibp.fit(net, sibp.SGD(), X.astype(np.int64), y)
    with pytest.raises(TypeError, match="labels of X: expected integer class labels, got dtype float64"):
        sibp.fit(net, sibp.SGD(), X, y.astype(np.float64))
    with pytest.raises(ValueError, match=r"labels of X: label 5 is 4, expected 0..3 \(the network has 4 outputs\)"):
        sibp.fit(net, sibp.SGD(), X, np.where(np.arange(300) == 5, 4, y))
    with pytest.raises(ValueError, match="label 0 is -1"):
        sibp.fit(net, sibp.SGD(), X, np.full(300, -1))
    with pytest.raises(ValueError, match=r"expected 300 labels \(shape \(300,\)\), got shape \(299,\)"):
        sibp.fit(net, sibp.SGD(), X, y[:299])
    bad = X.reshape(300, 64).astype(np.float32)
    bad[7, 3] = np.nan
    with pytest.raises(ValueError, match="X: sample 7 holds a non-finite value"):
        sibp.fit(net, sibp.SGD(), bad, y)
    with pytest.raises(ValueError, match="no samples"):
        sibp.fit(net, sibp.SGD(), X[:0], y[:0])
    with pytest.raises(ValueError, match="expected samples as rows"):
        sibp.fit(net, sibp.SGD(), X.reshape(-1), y)
    with pytest.raises(ValueError, match=r"test_data: expected a pair \(X, y\)"):
        sibp.fit(net, sibp.SGD(), X, y, test_data=(X, y, y))
    with pytest.raises(TypeError, match="net must be a sibp.Network"):
        sibp.fit("net", sibp.SGD(), X, y)
    with pytest.raises(TypeError, match="algo must be a sibp algorithm"):
        sibp.fit(net, "sgd", X, y)
    assert np.isfinite(net.predict(X)).all()  # nothing was trained


def test_val_split_holds_out_the_last_samples(small):
    X, y, Xt, yt = small
    a = sibp.Network("64-16-4", seed=1)
    ha = sibp.fit(a, sibp.SGD(), X, y, val_split=100, epochs=1)
    b = sibp.Network("64-16-4", seed=1)
    hb = sibp.fit(b, sibp.SGD(), X[:200], y[:200], val_data=(X[200:], y[200:]), epochs=1)
    assert ha.copies == hb.copies == []
    assert [r["val_acc"] for r in ha.rows] == [r["val_acc"] for r in hb.rows]
    assert a.to_bytes() == b.to_bytes()
    with pytest.raises(sibp.OptionError, match="val_split: expected a number of samples from 0 to 299"):
        sibp.fit(a, sibp.SGD(), X, y, val_split=300)
    with pytest.raises(sibp.UsageError, match="val_data or val_split, not both"):
        sibp.fit(a, sibp.SGD(), X, y, val_split=10, val_data=(Xt, yt))
