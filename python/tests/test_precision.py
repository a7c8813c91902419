"""--precision bf16 from Python: a keyword of sibp.Network and sibp.train,
generated from the option table like every other; recorded and resumable."""
import json

import pytest

import sibp


def bf16_or_skip(make):
    """make(), or a skip when this CPU cannot run bf16 products (the error says why)."""
    try:
        return make()
    except sibp.OptionError as e:
        if "precision" in str(e) and "avx512" in str(e).lower():
            pytest.skip(str(e))
        raise


def test_network_keyword_trains_in_bf16(small):
    X, y, Xt, yt = small
    f32 = sibp.Network("64-16-4", seed=1)
    bf16 = bf16_or_skip(lambda: sibp.Network("64-16-4", seed=1, precision="bf16"))
    assert f32.to_bytes() == bf16.to_bytes()  # the same float32 master weights to start with
    h32 = sibp.fit(f32, sibp.SGD(lr=0.5), X, y, epochs=2, batch=30, test_data=(Xt, yt))
    h16 = sibp.fit(bf16, sibp.SGD(lr=0.5), X, y, epochs=2, batch=30, test_data=(Xt, yt))
    assert f32.to_bytes() != bf16.to_bytes()  # the products were not float32
    assert h16.final["test_acc"] > 0.9 and abs(h16.final["test_acc"] - h32.final["test_acc"]) <= 0.05


def test_bad_precision_names_the_keyword():
    with pytest.raises(sibp.OptionError, match="expected f32 or bf16, got 'f16'"):
        sibp.Network("64-16-4", precision="f16")
    with pytest.raises(sibp.OptionError, match="bf16 products need --dtype f32|bf16 products need dtype"):
        sibp.Network("64-16-4", precision="bf16", dtype="f64")


def test_train_records_and_resumes_bf16(idx_dir, tmp_path):
    options = dict(data=f"idx:{idx_dir}", layers="64-16-4", batch=10, epochs=2, eval_every=5, precision="bf16",
                   seed=2)
    bf16_or_skip(lambda: sibp.train(out=tmp_path / "whole", **options))
    assert json.loads((tmp_path / "whole" / "config.json").read_text())["precision"] == "bf16"
    stopped = sibp.train(out=tmp_path / "part", callbacks=[lambda row: row["iteration"] >= 10], **options)
    assert stopped.status == "stopped"
    resumed = sibp.train(out=tmp_path / "part", resume=True)
    assert resumed.status == "completed"
    assert (tmp_path / "part" / "model.safetensors").read_bytes() == \
        (tmp_path / "whole" / "model.safetensors").read_bytes()
