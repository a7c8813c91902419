"""Issue 21: values that crashed the interpreter, were accepted silently or
raised the wrong exception. Each test is the regression test of one defect."""
import json
import struct

import numpy as np
import pytest

import sibp
from sibp import interop

import torch  # a test dependency (python3-torch)


def nested(depth):
    """A list nested `depth` levels deep: [[[...]]]."""
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


# ------------------------------------------------------ option conversion


@pytest.mark.parametrize("depth", [65, 200_000])
def test_deeply_nested_option_values_are_refused_with_the_json_depth_limit(depth):
    with pytest.raises(sibp.OptionError, match="nested too deeply.*at most 64") as e:
        sibp.Network("4-3", act=nested(depth))
    assert e.value.option == "act"


def test_an_option_value_that_contains_itself_is_refused():
    loop = []
    loop.append(loop)
    with pytest.raises(sibp.OptionError, match="nested too deeply"):
        sibp.Network("4-3", act=loop)
    cycle = {}
    cycle["a"] = cycle
    with pytest.raises(sibp.OptionError, match="nested too deeply"):
        sibp.SGD(lr=cycle)


def test_nesting_within_the_limit_reaches_the_option_reader():
    # 64 levels convert; the reader then refuses the list as a value of act.
    with pytest.raises(sibp.OptionError) as e:
        sibp.Network("4-3", act=nested(64))
    assert "nested too deeply" not in str(e.value)


def test_an_option_value_larger_than_a_config_file_is_refused():
    with pytest.raises(sibp.OptionError, match="too large.*bytes"):
        sibp.Network("4-3", act=["x" * 1024] * (17 * 1024))


def test_an_integer_beyond_64_bits_is_refused_without_printing_it():
    with pytest.raises(sibp.OptionError, match="64 bits.*bits"):
        sibp.SGD(lr=10 ** 5000)


# ------------------------------------------------------------ shapes


@pytest.mark.parametrize("shape", [(4.7,), 4.7, (1, 2.5, 2), (True, 2, 2), ("1", 2, 2), (np.float64(4.0),)])
def test_non_integer_input_shapes_are_refused_not_truncated(shape):
    with pytest.raises(sibp.OptionError, match="input_shape: expected integers"):
        sibp.Network(arch="dense(3)", input_shape=shape)


def test_numpy_integer_shapes_are_integers():
    net = sibp.Network(arch="dense(3)", input_shape=(np.int64(1), np.int32(2), np.uint8(2)))
    assert net.input_shape == (1, 2, 2)


def test_non_integer_layer_widths_are_refused_not_truncated():
    with pytest.raises(sibp.OptionError, match="layers: expected integers, got 4.5"):
        sibp.Network([4.5, 3])


# ------------------------------------------------------------ memory and limits


def test_a_huge_network_raises_the_clis_memory_estimate_as_a_usage_error():
    with pytest.raises(sibp.UsageError, match=r"needs about [0-9.]+ GB of memory \(20001200010 parameters"):
        sibp.Network("100000-100000-100000-10")


def test_more_layers_than_the_limit_are_refused_at_once():
    with pytest.raises(sibp.UsageError, match="more than 1000 layers"):
        sibp.Network(arch=" ".join(["dense(2)"] * 1001), input_shape=(2,))
    with pytest.raises(sibp.UsageError, match="more than 1000"):
        sibp.Network([2] * 1002)
    assert sibp.Network(arch=" ".join(["dense(2)"] * 1000), input_shape=(2,)).arch.count("dense") == 1000


# ------------------------------------------------------------ parameters


def bad_parameter(net, value, dtype=None):
    """The parameters of `net` with layers.0.weight[0, 0] set to `value` (as `dtype`)."""
    p = net.parameters()
    w = p["layers.0.weight"].astype(dtype or p["layers.0.weight"].dtype)
    w.flat[0] = value
    p["layers.0.weight"] = w
    return p


def assert_unchanged(net, before):
    after = net.parameters()
    assert after.keys() == before.keys()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_set_parameters_refuses_non_finite_values(dtype, value):
    net = sibp.Network("4-3", dtype=dtype)
    before = net.parameters()
    with pytest.raises(ValueError, match="layers.0.weight.*finite"):
        net.set_parameters(bad_parameter(net, value))
    assert_unchanged(net, before)


def test_set_parameters_refuses_values_that_overflow_float32():
    net = sibp.Network("4-3")
    before = net.parameters()
    with pytest.raises(ValueError, match="1e\\+300.*range.*f32"):
        net.set_parameters(bad_parameter(net, 1e300, np.float64))
    assert_unchanged(net, before)
    f64 = sibp.Network("4-3", dtype="f64")
    f64.set_parameters(bad_parameter(f64, 1e300))  # in range for f64
    assert f64.parameters()["layers.0.weight"].flat[0] == 1e300


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128, object, bool, "U8", "datetime64[s]"])
def test_set_parameters_refuses_arrays_that_are_not_real_numbers(dtype):
    net = sibp.Network("4-3")
    before = net.parameters()
    p = net.parameters()
    p["layers.0.bias"] = np.zeros(3).astype(dtype)
    with pytest.raises(TypeError, match="layers.0.bias.*dtype"):
        net.set_parameters(p)
    assert_unchanged(net, before)


def test_set_parameters_accepts_integer_arrays():
    net = sibp.Network("4-3")
    p = net.parameters()
    p["layers.0.bias"] = np.array([1, -2, 3], dtype=np.int16)
    net.set_parameters(p)
    np.testing.assert_array_equal(net.parameters()["layers.0.bias"], [1, -2, 3])


def test_from_torch_refuses_non_finite_weights():
    layer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight[1, 2] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        interop.from_torch(torch.nn.Sequential(layer))
    big = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        big.weight[0, 0] = 1e300
    assert interop.from_torch(torch.nn.Sequential(big)).dtype == "f64"  # finite in f64


def test_loading_a_file_with_a_nan_parameter_is_refused(tmp_path):
    data = bytearray(sibp.Network("4-3").to_bytes())
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    at = 8 + size + header["layers.0.weight"]["data_offsets"][0] + 4 * 5
    data[at:at + 4] = np.float32(np.nan).tobytes()
    path = tmp_path / "nan.safetensors"
    path.write_bytes(bytes(data))
    with pytest.raises(sibp.DataError, match="nan.safetensors.*layers.0.weight"):
        sibp.Network.load(path)


# ------------------------------------------------------------ to_torch

# Every kind of place a layer can sit in: convolution and pooling reading a
# vector (the input, after dense, after flatten), odd sizes, strides, padding,
# every activation on dense and conv layers.
TORCH_ARCHS = [
    ("conv(4,1) dense(3)", (10,)),
    ("conv(4,1) maxpool(1) dense(3)", (10,)),
    ("maxpool(1) dense(3)", (6,)),
    ("dense(8) relu conv(2,1) tanh dense(3)", (5,)),
    ("dense(8) avgpool(1) dense(3)", (1, 3, 3)),
    ("conv(2,3) flatten conv(3,1) sigmoid dense(3)", (1, 5, 5)),
    ("conv(2,3) sigmoid avgpool(2,stride=1) dense(3) tanh", (1, 6, 6)),
    ("conv(3,3,stride=2) leaky_relu maxpool(3,stride=2) dense(3)", (2, 11, 11)),
    ("avgpool(3,stride=2) conv(2,2) identity dense(3)", (3, 9, 9)),
    ("conv(3,2,stride=3,pad=2) tanh avgpool(2) flatten dense(2) sigmoid", (1, 7, 7)),
    ("conv(3,5)", (2, 5, 5)),
]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("arch,shape", TORCH_ARCHS)
def test_to_torch_runs_and_agrees_with_predict_for_every_layer_placement(arch, shape, dtype):
    net = sibp.Network(arch=arch, input_shape=shape, init="he", seed=5, dtype=dtype)
    X = np.random.default_rng(1).random((6, *shape)).astype(np.float32)
    model = interop.to_torch(net)
    with torch.no_grad():
        out = model(interop.torch_inputs(net, X)).numpy()
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "f32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out, net.predict(X), **tol)
    back = interop.from_torch(model, input_shape=net.input_shape)  # the Unflatten round-trips
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
