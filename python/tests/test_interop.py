"""sibp networks to PyTorch and back (Debian's python3-torch)."""
import numpy as np
import pytest

import sibp
from sibp import interop

import torch  # a test dependency (python3-torch): missing, the tests fail
from torch import nn

ARCHS = [
    ("dense(16) relu dense(4)", (64,)),
    ("dense(16) leaky-relu dense(8) sigmoid dense(4)", (1, 8, 8)),
    ("conv(4,3,pad=1) relu maxpool(2) conv(6,3,stride=2) tanh dense(4)", (1, 8, 8)),
    ("conv(3,2) avgpool(3,stride=2) flatten dense(5) relu dense(4)", (2, 9, 9)),
]


@pytest.mark.parametrize("arch,shape", ARCHS)
def test_to_torch_computes_what_predict_computes(arch, shape):
    rng = np.random.default_rng(0)
    net = sibp.Network(arch=arch, input_shape=shape, init="he", seed=3)
    X = rng.integers(0, 256, (20, *shape)).astype(np.uint8)
    model = interop.to_torch(net)
    assert isinstance(model, nn.Sequential)
    with torch.no_grad():
        out = model(interop.torch_inputs(net, X)).numpy()
    np.testing.assert_allclose(out, net.predict(X), rtol=1e-4, atol=1e-5)


def test_to_torch_from_a_file_with_standardisation(small, tmp_path):
    X, y, Xt, yt = small
    net = sibp.Network("64-16-4", input_shape=(1, 8, 8), dtype="f64", seed=1)
    sibp.fit(net, sibp.SGD(), X, y, epochs=1, standardize=True)
    net.save(tmp_path / "m.safetensors")
    model = interop.to_torch(tmp_path / "m.safetensors")
    assert model[1].weight.dtype == torch.float64
    with torch.no_grad():
        out = model(interop.torch_inputs(net, Xt)).numpy()
    np.testing.assert_allclose(out, net.predict(Xt), rtol=1e-10, atol=1e-12)


def test_from_torch_round_trip():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(5, 4, (2, 2), stride=2),
                          nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 6), nn.Identity(),
                          nn.LeakyReLU(0.01), nn.Linear(6, 3))
    net = interop.from_torch(model, input_shape=(3, 8, 8))
    assert net.arch == "conv(5,3,pad=1) relu maxpool(2) conv(4,2,stride=2) tanh avgpool(2) flatten dense(6) " \
                       "leaky_relu dense(3)"
    x = torch.rand(7, 3, 8, 8)
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(net.predict(x.numpy()), expected, rtol=1e-4, atol=1e-5)
    back = interop.to_torch(net)
    with torch.no_grad():
        np.testing.assert_allclose(back(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    params = net.parameters()
    np.testing.assert_array_equal(params["layers.0.weight"], model[0].weight.detach().numpy())
    np.testing.assert_array_equal(params["layers.3.bias"], model[10].bias.detach().numpy())


def test_from_torch_then_train_in_sibp(small):
    X, y, Xt, yt = small
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    net = interop.from_torch(model)  # the input shape comes from the first Linear
    assert net.dtype == "f64" and net.input_shape == (64, 1, 1)
    hist = sibp.fit(net, sibp.SIBP(eta=0.3), X, y, epochs=2, test_data=(Xt, yt))
    assert hist.final["test_acc"] > 0.9


@pytest.mark.parametrize("module,message", [
    (nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)), "sibp's loss applies the softmax itself"),
    (nn.Sequential(nn.Linear(4, 3, bias=False)), "dense layers have a bias"),
    (nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.Flatten(), nn.Linear(2, 2)), "dilation 1"),
    (nn.Sequential(nn.Conv2d(1, 2, (3, 2)), nn.Flatten(), nn.Linear(2, 2)), "not square"),
    (nn.Sequential(nn.Linear(4, 3), nn.LeakyReLU(0.2)), "slope 0.01"),
    (nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.ReLU()), "right after a Linear or Conv2d"),
    (nn.Sequential(nn.Linear(4, 3), nn.Dropout()), "has no sibp counterpart"),
    (nn.Sequential(nn.MaxPool2d(2, padding=1), nn.Flatten(), nn.Linear(4, 2)), "no padding"),
])
def test_from_torch_refuses_what_sibp_cannot_represent(module, message):
    with pytest.raises(ValueError, match=message):
        interop.from_torch(module, input_shape=(1, 4, 4))


def test_from_torch_needs_a_shape_for_images():
    with pytest.raises(ValueError, match="input_shape"):
        interop.from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2)))
    with pytest.raises(ValueError, match=r"layers.1.weight' has shape \(2, 2\), expected \(2, 72\)"):
        interop.from_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2)), input_shape=(1, 8, 8))
    with pytest.raises(sibp.UsageError, match="kernel"):
        interop.from_torch(nn.Sequential(nn.Conv2d(1, 2, 9), nn.Flatten(), nn.Linear(2, 2)), input_shape=(1, 8, 8))
