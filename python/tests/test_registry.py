"""The algorithm classes come from the library's registry (train/registry.hpp):
one class per registered --algo name, with the options its unit declares."""
import inspect

import pytest

import sibp


def test_every_registered_algorithm_is_a_class():
    registered = sibp._sibp.algorithms()
    names = [a["name"] for a in registered]
    assert {"sgd", "adam", "adamw", "rmsprop", "sibp", "proxprop"} <= set(names)
    for info in registered:
        cls = getattr(sibp, info["python_class"])
        assert cls.algo == info["name"] and issubclass(cls, sibp.Algorithm)
        assert info["python_class"] in sibp.__all__
        assert info["summary"] in cls.__doc__
    # No class without a registered algorithm.
    assert sibp.algorithms.__all__ == [a["python_class"] for a in registered]


def test_adamw_and_rmsprop_defaults_are_torchs():
    adamw = sibp.AdamW().options
    assert adamw["lr"] == 0.001 and adamw["weight_decay"] == 0.01 and adamw["eps"] == 1e-8
    rmsprop = sibp.RMSprop().options
    assert rmsprop == {"lr": 0.01, "momentum": 0.0, "weight_decay": 0.0, "eps": 1e-8, "alpha": 0.99,
                       "centered": False}
    # The options a unit declares itself are keyword arguments like any other.
    assert {"alpha", "centered"} <= set(inspect.signature(sibp.RMSprop).parameters)
    assert "alpha" not in inspect.signature(sibp.Adam).parameters


def test_unit_options_are_validated_with_the_cli_messages():
    with pytest.raises(sibp.OptionError, match=r"^alpha: expected a number in \[0, 1\), got 1.5"):
        sibp.RMSprop(alpha=1.5)
    with pytest.raises(sibp.OptionError, match="^weight_decay: expected a finite number >= 0"):
        sibp.AdamW(weight_decay=-1)
    with pytest.raises(sibp.OptionError, match="^alpha: applies to --algo rmsprop, not adamw"):
        sibp.AdamW(alpha=0.9)


def test_adamw_and_rmsprop_train(small):
    X, y, Xt, yt = small
    for algo in (sibp.AdamW(lr=0.01), sibp.RMSprop(lr=0.003, centered=True, momentum=0.5)):
        net = sibp.Network("64-16-4", seed=2)
        hist = sibp.fit(net, algo, X, y, epochs=2, batch=30, test_data=(Xt, yt))
        assert hist.final["train_loss"] < hist.rows[0]["train_loss"], algo
