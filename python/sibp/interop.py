"""PyTorch interoperability: a sibp network as a ``torch.nn.Sequential`` of the
same architecture, and a ``torch.nn.Sequential`` of supported modules as a
sibp network. Needs PyTorch (Debian's ``python3-torch``).

The ``nn.Sequential`` is built by ``scripts/check_safetensors.py`` (the
independent safetensors check the C++ tests run; the build copies it into the
package as ``_check_safetensors``), so both agree on what a sibp architecture
is in PyTorch: ``dense(N)`` is ``nn.Linear``, ``conv(C,K,stride=S,pad=P)``
``nn.Conv2d``, ``maxpool``/``avgpool`` ``nn.MaxPool2d``/``nn.AvgPool2d``,
``flatten`` ``nn.Flatten`` (and ``nn.Unflatten(1, (C, 1, 1))`` where a
convolution or pooling reads a vector), activations ``nn.ReLU``, ``nn.Tanh``,
``nn.Sigmoid``, ``nn.LeakyReLU(0.01)``. The loss (softmax cross-entropy) is
not part of the module, as in PyTorch.
"""
import re

from . import _check_safetensors as _cs
from .network import Network

_NAME = re.compile(r"layers\.(\d+)\.(weight|bias)")


def to_torch(net):
    """A ``torch.nn.Sequential`` with the architecture and parameters of ``net``
    (a ``sibp.Network``, or the path of a sibp safetensors file), in float32
    (float64 for an f64 network). Its outputs equal ``net.predict`` on the
    inputs ``torch_inputs(net, X)`` (sibp scales uint8 samples by 1/255 and
    applies the network's standardisation; the module does neither)."""
    import torch

    if not isinstance(net, Network):
        net = Network.load(net)
    dtype = torch.float64 if net.dtype == "f64" else torch.float32
    model, param_index, _ = _cs.build(_cs.parse_arch(net.arch), tuple(net.input_shape), dtype)
    state = {}
    for name, value in net.parameters().items():
        i, kind = _NAME.fullmatch(name).groups()
        state[f"{param_index[int(i)]}.{kind}"] = torch.from_numpy(value)
    model.load_state_dict(state, strict=True)
    return model


def torch_inputs(net, X):
    """The float tensor (n, C, H, W) (or (n, features) for a vector input) that
    ``to_torch(net)`` must see for the samples ``X`` to give ``net.predict(X)``:
    uint8 values scaled by 1/255, then the standardisation recorded in
    ``net.metadata`` (``sibp.norm.*``) applied."""
    import json

    import numpy as np
    import torch

    x = np.asarray(X)
    scale = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0
    dtype = np.float64 if net.dtype == "f64" else np.float32
    flat = x.reshape(len(x), -1).astype(np.float64) * scale
    meta = net.metadata
    if "sibp.norm.mean" in meta:
        flat = (flat - np.array(json.loads(meta["sibp.norm.mean"]))) * np.array(json.loads(meta["sibp.norm.inv_std"]))
    c, h, w = net.input_shape
    shaped = flat if (h, w) == (1, 1) else flat.reshape(len(x), c, h, w)
    return torch.from_numpy(shaped.astype(dtype))


_SUPPORTED = "Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, Unflatten(1, (C, 1, 1)), Identity, ReLU, Tanh, Sigmoid, LeakyReLU(0.01)"


def _pair(value, what, where):
    """An int from an int or a pair of equal ints (sibp's kernels are square)."""
    if isinstance(value, int):
        return value
    a, b = value
    if a != b:
        raise ValueError(f"from_torch: {where}: {what} {tuple(value)} is not square; sibp's are")
    return a


def from_torch(module, input_shape=None):
    """A ``sibp.Network`` with the architecture and parameters of ``module``, a
    ``torch.nn.Sequential`` of ``Linear``, ``Conv2d``, ``MaxPool2d``,
    ``AvgPool2d``, ``Flatten`` and activations (``ReLU``, ``Tanh``,
    ``Sigmoid``, ``LeakyReLU(0.01)``, each right after a ``Linear`` or
    ``Conv2d``; ``Identity`` is skipped). ``input_shape`` is one sample's
    shape (C, H, W), needed when the first layer is not ``Linear``. float64
    modules give f64 networks, others f32.

    Raises ValueError naming the module that has no sibp counterpart (e.g. a
    ``Conv2d`` without bias, with dilation or groups, a ``Softmax``: sibp's
    loss applies the softmax itself), and ``sibp.UsageError`` when the layers
    do not fit ``input_shape``."""
    import torch
    from torch import nn

    if not isinstance(module, nn.Sequential):
        raise TypeError(f"from_torch: expected a torch.nn.Sequential, got {type(module).__name__}")
    activations = {cls: name for name, cls in _cs.activation_classes().items()}
    words, params = [], []
    last_parametrised = False  # whether an activation may follow
    for i, m in enumerate(module):
        where = f"module {i} ({m!r})"
        if isinstance(m, nn.Linear):
            if m.bias is None:
                raise ValueError(f"from_torch: {where}: sibp's dense layers have a bias")
            words.append(f"dense({m.out_features})")
            params.append(m)
            last_parametrised = True
            if input_shape is None and i == 0:
                input_shape = (m.in_features,)
        elif isinstance(m, nn.Conv2d):
            if m.bias is None or m.groups != 1 or tuple(m.dilation) != (1, 1) or m.padding_mode != "zeros" \
                    or isinstance(m.padding, str):
                raise ValueError(f"from_torch: {where}: sibp's convolutions have a bias, groups 1, dilation 1 and "
                                 "numeric zero padding")
            k = _pair(m.kernel_size, "kernel", where)
            s = _pair(m.stride, "stride", where)
            p = _pair(m.padding, "padding", where)
            words.append(f"conv({m.out_channels},{k}" + (f",stride={s}" if s != 1 else "")
                         + (f",pad={p}" if p else "") + ")")
            params.append(m)
            last_parametrised = True
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            kind = "maxpool" if isinstance(m, nn.MaxPool2d) else "avgpool"
            dilation = getattr(m, "dilation", 1)
            if _pair(m.padding, "padding", where) != 0 or m.ceil_mode or _pair(dilation, "dilation", where) != 1 \
                    or getattr(m, "divisor_override", None) is not None:
                raise ValueError(f"from_torch: {where}: sibp's pooling has no padding, dilation, ceil_mode or "
                                 "divisor_override")
            k = _pair(m.kernel_size, "kernel", where)
            s = k if m.stride is None else _pair(m.stride, "stride", where)
            words.append(f"{kind}({k}" + (f",stride={s}" if s != k else "") + ")")
            last_parametrised = False
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                raise ValueError(f"from_torch: {where}: only Flatten(1, -1) has a sibp counterpart")
            words.append("flatten")
            last_parametrised = False
        elif isinstance(m, nn.Identity):
            continue
        elif isinstance(m, nn.Unflatten):
            # to_torch writes Unflatten(1, (C, 1, 1)) where a convolution or pooling reads a
            # vector: sibp reads a vector as a C x 1 x 1 image without a layer.
            size = tuple(m.unflattened_size)
            if m.dim != 1 or len(size) != 3 or size[1:] != (1, 1):
                raise ValueError(f"from_torch: {where}: only Unflatten(1, (C, 1, 1)) has a sibp counterpart")
            continue
        elif type(m) in activations:
            if not last_parametrised:
                raise ValueError(f"from_torch: {where}: sibp has an activation only right after a Linear or Conv2d")
            if isinstance(m, nn.LeakyReLU) and m.negative_slope != _cs.LEAKY_RELU_SLOPE:
                raise ValueError(f"from_torch: {where}: sibp's leaky ReLU has slope {_cs.LEAKY_RELU_SLOPE}")
            words.append(activations[type(m)])
            last_parametrised = False
        else:
            hint = "; sibp's loss applies the softmax itself" if isinstance(m, (nn.Softmax, nn.LogSoftmax)) else ""
            raise ValueError(f"from_torch: {where} has no sibp counterpart (supported: {_SUPPORTED}){hint}")
    if not params:
        raise ValueError("from_torch: the module has no Linear or Conv2d layer")
    if input_shape is None:
        raise ValueError("from_torch: input_shape (C, H, W) is needed when the first layer is not Linear")
    f64 = params[0].weight.dtype == torch.float64
    net = Network(arch=" ".join(words), input_shape=input_shape, dtype="f64" if f64 else "f32")
    tensors = {}
    for i, m in enumerate(params):
        tensors[f"layers.{i}.weight"] = m.weight.detach().cpu().numpy()
        tensors[f"layers.{i}.bias"] = m.bias.detach().cpu().numpy()
    net.set_parameters(tensors)
    return net
