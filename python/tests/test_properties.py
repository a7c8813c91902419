"""Property-based tests (Debian's python3-hypothesis): random dtypes, shapes,
values and option structures thrown at the public API. The property: each call
returns or raises one of the documented exception types (sibp.Error and its
subclasses, TypeError, ValueError, KeyError), a network it refuses to change
is unchanged, and the interpreter never crashes (a crash fails the whole run).

The number of examples comes from a profile chosen by SIBP_HYPOTHESIS_PROFILE:
"ci" (the default: a few seconds, as CTest runs it), "long" (about ten
minutes by hand, see fuzz/README.md).
"""
import os
import tempfile

import numpy as np
import pytest

# Hypothesis caches Unicode tables in ./.hypothesis: not in the source tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "sibp-hypothesis"))
hypothesis = pytest.importorskip("hypothesis")  # a test dependency (python3-hypothesis): see install-deps.sh
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import sibp  # noqa: E402
from sibp import _options  # noqa: E402

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=10_000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("SIBP_HYPOTHESIS_PROFILE", "ci"))

#: What the public API may raise for bad input (sibp/_errors.py).
DOCUMENTED = (sibp.Error, TypeError, ValueError, KeyError)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["relu", "tanh", "he", "f64", "f32", "1e-3", "0.5", "squared", "xavier", "-1", ""]),
    st.builds(np.float32, st.floats(width=32)), st.builds(np.int64, st.integers(-(2 ** 63), 2 ** 63 - 1)),
    st.builds(np.complex64, st.complex_numbers(max_magnitude=1e3)), st.just(np.bool_(True)),
    st.builds(object), st.binary(max_size=4))
option_values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                     st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), inner,
                                                     max_size=3)),
    max_leaves=12)


def nested(depth, leaf):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


deep_values = st.builds(nested, st.integers(50, 3000), scalars)
MODEL_NAMES = [_options.name(k) for k in _options.model_keys() if k not in ("layers", "arch")]
ALGORITHM_NAMES = [_options.name(k) for k in _options.algorithm_keys("sibp")] + ["lr", "momentum", "beta1"]


@given(name=st.sampled_from(MODEL_NAMES + ["seed"]), value=st.one_of(option_values, deep_values))
def test_any_model_option_value_is_used_or_refused_with_a_documented_error(name, value):
    try:
        net = sibp.Network("4-3", **{name: value})
    except DOCUMENTED:
        return
    assert net.num_classes == 3


@given(cls=st.sampled_from([sibp.SGD, sibp.Momentum, sibp.Adam, sibp.SIBP, sibp.ProxProp]),
       name=st.sampled_from(ALGORITHM_NAMES), value=st.one_of(option_values, deep_values))
def test_any_algorithm_option_value_is_used_or_refused_with_a_documented_error(cls, name, value):
    try:
        algo = cls(**{name: value})
    except DOCUMENTED:
        return
    assert isinstance(algo.options, dict)


dims = st.one_of(st.integers(-3, 40), st.floats(-3, 40), st.booleans(), st.text(max_size=3), st.none(),
                 st.integers(2 ** 31, 2 ** 80), st.builds(np.int64, st.integers(0, 12)))
shapes = st.one_of(dims, st.lists(dims, max_size=5), st.tuples(dims, dims, dims), st.text(max_size=10))
archs = st.one_of(st.sampled_from(["dense(3)", "conv(2,3) dense(3)", "maxpool(2) dense(3)", "flatten dense(3)",
                                   "conv(2,1) relu avgpool(1) dense(3) sigmoid"]),
                  st.text(alphabet="convdenspoolmaxflt(),=123 \x00", max_size=30))


@given(arch=archs, shape=shapes)
def test_any_architecture_and_input_shape_builds_or_is_refused(arch, shape):
    try:
        net = sibp.Network(arch=arch, input_shape=shape)
    except DOCUMENTED as e:
        assert "\x00" not in str(e)  # control bytes are escaped in messages
        return
    c, h, w = net.input_shape
    assert all(isinstance(d, int) and d >= 1 for d in (c, h, w))
    assert net.finite


DTYPES = [np.float16, np.float32, np.float64, np.longdouble, np.int8, np.int64, np.uint8, np.uint64, bool,
          np.complex64, np.complex128, object, "U3", "datetime64[s]"]
specials = st.sampled_from([np.nan, np.inf, -np.inf, 1e39, -1e300, 3.4e38, 0.0, 1.0, -2.5, 2 ** 63])


@st.composite
def tensors(draw, expected_shape):
    """An array that is sometimes the expected shape, of any dtype, holding
    ordinary and sometimes special values; or another Python object."""
    shape = draw(st.one_of(st.just(expected_shape), st.lists(st.integers(0, 5), max_size=4).map(tuple)))
    size = int(np.prod(shape)) if shape else 1
    values = np.asarray(draw(st.lists(st.floats(-2, 2), min_size=size, max_size=size)), dtype=np.float64)
    for _ in range(draw(st.integers(0, 2))):
        if size:
            values[draw(st.integers(0, size - 1))] = draw(specials)
    dtype = draw(st.sampled_from(DTYPES))
    with np.errstate(all="ignore"):
        try:
            array = values.reshape(shape).astype(dtype)
        except (TypeError, ValueError, OverflowError):
            array = values.reshape(shape)
    return draw(st.one_of(st.just(array), st.just(array.tolist()), st.just(array.T), st.just("weights"),
                          st.none()))


def net_and_tensors(dtype):
    net = sibp.Network(arch="conv(2,3) relu dense(3)", input_shape=(1, 4, 4), dtype=dtype, seed=2)
    shapes = {k: v.shape for k, v in net.parameters().items()}
    return net, st.fixed_dictionaries({k: tensors(s) for k, s in shapes.items()})


NETS = {d: net_and_tensors(d) for d in ("f32", "f64")}


@given(dtype=st.sampled_from(["f32", "f64"]), data=st.data())
def test_set_parameters_takes_finite_real_tensors_or_leaves_the_network_unchanged(dtype, data):
    net, strategy = NETS[dtype]
    tensors_given = data.draw(strategy)
    extra = data.draw(st.dictionaries(st.sampled_from(["layers.9.weight", "x"]), st.just(np.zeros(2)), max_size=1))
    before = net.parameters()
    try:
        net.set_parameters({**tensors_given, **extra})
    except DOCUMENTED:
        after = net.parameters()
        for k in before:
            np.testing.assert_array_equal(after[k], before[k])
        return
    assert net.finite
    for k, v in net.parameters().items():
        assert v.shape == before[k].shape


@given(X=st.one_of(st.builds(lambda s, d: np.ones(s, dtype=d), st.lists(st.integers(0, 5), max_size=5).map(tuple),
                             st.sampled_from(DTYPES)),
                   option_values))
def test_predict_takes_any_array_or_refuses_it(X):
    net, _ = NETS["f32"]
    try:
        out = net.predict(X)
    except DOCUMENTED:
        return
    assert out.shape == (len(X), 3)


layer_words = st.one_of(
    st.builds(lambda n, a: f"dense({n}) {a}", st.integers(1, 6), st.sampled_from(["", "relu", "tanh", "sigmoid",
                                                                                   "leaky_relu", "identity"])),
    st.builds(lambda c, k, s, p, a: f"conv({c},{k},stride={s},pad={p}) {a}", st.integers(1, 3), st.integers(1, 3),
              st.integers(1, 2), st.integers(0, 2), st.sampled_from(["", "relu", "tanh", "sigmoid"])),
    st.builds(lambda kind, k, s: f"{kind}({k},stride={s})", st.sampled_from(["maxpool", "avgpool"]),
              st.integers(1, 3), st.integers(1, 3)),
    st.just("flatten"))


@given(words=st.lists(layer_words, min_size=1, max_size=5), last=st.integers(1, 4),
       shape=st.one_of(st.tuples(st.integers(1, 3), st.integers(1, 7), st.integers(1, 7)),
                       st.tuples(st.integers(1, 9))),
       dtype=st.sampled_from(["f32", "f64"]))
def test_to_torch_agrees_with_predict_for_any_architecture_sibp_accepts(words, last, shape, dtype):
    import torch

    from sibp import interop

    try:
        net = sibp.Network(arch=" ".join(words + [f"dense({last})"]), input_shape=shape, init="he", seed=1,
                           dtype=dtype)
    except sibp.UsageError:
        return  # e.g. a kernel larger than its input: refused by the parser, nothing to convert
    X = np.random.default_rng(0).random((3, *shape)).astype(np.float32)
    with torch.no_grad():
        out = interop.to_torch(net)(interop.torch_inputs(net, X)).numpy()
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "f32" else dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(out, net.predict(X), **tol)
