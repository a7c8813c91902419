"""Step schedules, warm-up and batch sampling as keyword arguments of fit and
train (the option table's "Training loop" options)."""
import numpy as np
import pytest

import sibp


def _trained(small, **options):
    X, y, _, _ = small
    net = sibp.Network("64-16-4", act="relu", init="normal:0.05", seed=1)
    hist = sibp.fit(net, sibp.SGD(lr=0.2, momentum=0.9), X, y, epochs=2, batch_size=50, seed=3, **options)
    assert hist.status == "completed" and hist.iterations == 12
    return net.parameters()


def _same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in a)


def test_schedule_warmup_and_sampling_are_fit_keywords(small):
    plain = _trained(small)
    assert _same(plain, _trained(small, schedule="constant", warmup=0, sampling="shuffle"))
    scheduled = _trained(small, schedule="cosine", warmup=4, sampling="independent")
    assert _same(scheduled, _trained(small, schedule="cosine", warmup=4, sampling="independent"))
    assert not _same(scheduled, plain)
    for options in (dict(schedule="multistep:1:0.1"), dict(warmup=5), dict(sampling="independent")):
        assert not _same(_trained(small, **options), plain), options


def test_options_table_and_resolve_show_them():
    table = {o["key"]: o for o in sibp.options()}
    assert table["schedule"]["default"] == "constant"
    assert table["warmup"]["default"] == 0
    assert table["sampling"]["default"] == "shuffle"
    resolved = sibp._sibp.resolve({"algo": "sibp", "schedule": "multistep:2,4:0.5", "warmup": 3, "sampling": "independent"})
    assert resolved["schedule"] == "multistep:2,4:0.5" and resolved["warmup"] == 3
    assert resolved["sampling"] == "independent"
    assert "schedule" not in sibp._sibp.resolve({"algo": "sgd"})  # the default is not written


@pytest.mark.parametrize("options, message", [
    (dict(schedule="multistep:3,2:0.1"), "strictly increasing"),
    (dict(schedule="linear"), "expected constant, cosine or multistep"),
    (dict(warmup=-1), "warmup"),
    (dict(sampling="bootstrap"), "expected shuffle or independent"),
])
def test_bad_values_raise_option_errors(small, options, message):
    X, y, _, _ = small
    net = sibp.Network("64-16-4", act="relu", seed=1)
    with pytest.raises(sibp.OptionError, match=message):
        sibp.fit(net, sibp.SGD(), X, y, epochs=1, **options)
