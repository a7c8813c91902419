"""sibp.Network: a network of dense, convolution, pooling and flatten layers."""
import inspect
import os

from . import _options, _sibp


def _shape_text(input_shape):
    """(C, H, W), (H, W), (d,) or d as the library's "CxHxW" / "d" text. Every
    dimension must be an integer (a float such as 4.7 is refused, not truncated)."""
    if input_shape is None:
        return None
    if isinstance(input_shape, str):
        return input_shape
    if not isinstance(input_shape, (list, tuple)):
        return str(_options.integer(input_shape, "input_shape"))
    dims = [_options.integer(d, "input_shape") for d in input_shape]
    if len(dims) == 2:
        dims = [1] + dims
    return "x".join(str(d) for d in dims)


class Network:
    """A network and the metadata its model file records.

    ``Network("784-500-10", act="relu")`` is a fully connected network (the
    first width is the number of input features, the last the number of
    classes), as ``sibp train --layers``; ``Network(arch="conv(32,5,pad=2)
    relu maxpool(2) dense(10)", input_shape=(1, 28, 28))`` any network in the
    ``--arch`` syntax of the README, on samples of shape (C, H, W).
    Parameters are drawn by ``init`` from ``seed`` exactly as ``sibp train
    --seed`` draws them, so the same seed gives the same network. Keyword
    arguments (the Model options of ``sibp train``, same names and defaults):

{options}
        input_shape: one sample's shape, (C, H, W), (H, W) or (d,); needed with
            ``arch``; with ``layers`` it defaults to (first width,), and an
            image shape makes the network read images, as ``sibp train`` on
            image data does (its model file then says so).
        seed (default 1): the seed of the initialiser.

    Raises ``sibp.OptionError`` / ``sibp.UsageError`` (ValueError) for bad
    options or a network that does not fit ``input_shape``.
    """

    def __init__(self, layers=None, **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        given = _options.collect(kwargs, set(_options.model_keys()) | {"seed"}, "Network")
        if layers is not None:
            if "arch" in given:
                raise TypeError("Network(): give layers or arch, not both")
            given["layers"] = _options._to_table_value("layers", layers)
        self._net = _sibp._Network.create(given, _shape_text(input_shape))

    @classmethod
    def _wrap(cls, core):
        net = cls.__new__(cls)
        net._net = core
        return net

    @classmethod
    def load(cls, path, arch=None, input_shape=None):
        """Reads a safetensors model file (as ``sibp train`` writes, or
        ``save``). The architecture comes from the file's metadata; for a file
        without it (weights exported from PyTorch under our tensor names) give
        ``arch`` and ``input_shape``: without ``arch`` such a file raises
        ``sibp.UsageError`` (the weights do not tell the activations). F64 files load as f64 networks, others
        as f32. The file's other metadata (algorithm, seed, input
        standardisation) becomes ``metadata``. Raises ``sibp.DataError``
        (OSError) for a missing or malformed file, or one holding a NaN or an
        infinite parameter (as ``sibp eval`` does)."""
        return cls._wrap(_sibp._Network.load(os.fspath(path), arch, _shape_text(input_shape)))

    def save(self, path, metadata=None):
        """Writes the network to ``path`` as a safetensors file, atomically:
        tensors ``layers.{i}.weight`` / ``layers.{i}.bias`` (dense ``[out, in]``,
        conv ``[out, in, k, k]``), the architecture in ``__metadata__``, then
        ``self.metadata`` and ``metadata`` (a dict of strings; it wins on equal
        keys). After ``fit`` the bytes are those ``sibp train`` writes for the
        same run when ``metadata={"sibp.data": SPEC}`` names its data set."""
        self._net.save(os.fspath(path), dict(metadata or {}))

    def to_bytes(self, metadata=None):
        """The bytes ``save`` writes."""
        return self._net.to_bytes(dict(metadata or {}))

    def predict(self, X):
        """The network's outputs (logits) for the samples ``X`` (rows; shaped as
        ``fit`` takes them), as an array (n, classes) of float32 (float64 for an
        f64 network). uint8 inputs are scaled by 1/255 and the standardisation
        of the last ``fit(standardize=True)`` is applied, as in training."""
        return self._net.predict(X)

    def predict_classes(self, X):
        """The arg-max class of every sample of ``X``, as an int64 array."""
        return self.predict(X).argmax(axis=1)

    def evaluate(self, X, y):
        """Mean loss and accuracy (fraction) on samples ``X`` with labels ``y``:
        a tuple ``(loss, accuracy)``, computed as the metrics of ``fit``."""
        return self._net.evaluate(X, y)

    def parameters(self):
        """Every parameter as a dict name -> NumPy array (copies), with the names
        and shapes of the safetensors file: ``layers.{i}.weight`` ``[out, in]``
        (dense) or ``[out, in, k, k]`` (conv) and ``layers.{i}.bias`` ``[out]``,
        ``i`` counting the dense and conv layers."""
        return self._net.parameters()

    def set_parameters(self, tensors):
        """Replaces every parameter from a dict as ``parameters()`` returns
        (every name present, exact shapes; values are cast to the network's
        precision). On any error the network is unchanged: KeyError for a
        missing or unexpected name, TypeError for anything but real numbers
        (complex, object, bool, string arrays), ValueError for a shape, a NaN,
        an infinity or a value beyond the precision's range (1e300 in f32)."""
        self._net.set_parameters(dict(tensors))

    def copy(self):
        """An independent copy (parameters and metadata)."""
        return Network._wrap(self._net.copy())

    @property
    def arch(self):
        """The architecture in ``--arch`` syntax (implied flattens written out)."""
        return self._net.arch

    @property
    def input_shape(self):
        """One sample's shape (C, H, W); (d, 1, 1) for a vector."""
        return self._net.input_shape

    @property
    def num_classes(self):
        """The number of outputs."""
        return self._net.output_size

    @property
    def num_parameters(self):
        """The number of weights and biases."""
        return self._net.num_parameters

    @property
    def dtype(self):
        """The precision: "f32" or "f64"."""
        return self._net.dtype

    @property
    def loss(self):
        """The loss: "cross-entropy" or "squared"."""
        return self._net.loss

    @property
    def finite(self):
        """True if every parameter is finite."""
        return self._net.finite

    @property
    def metadata(self):
        """What the model file records besides the architecture (a dict of
        strings): after ``fit``, ``sibp.algo`` and ``sibp.seed`` as ``sibp
        train`` writes them, and ``sibp.norm.*`` with ``standardize``. Assign
        a dict to change it."""
        return self._net.metadata

    @metadata.setter
    def metadata(self, value):
        self._net.metadata = dict(value)

    def __repr__(self):
        return (f"sibp.Network(arch={self.arch!r}, input_shape={self.input_shape}, dtype={self.dtype!r}, "
                f"parameters={self.num_parameters})")


Network.__doc__ = Network.__doc__.format(options=_options.describe(_options.model_keys()))
Network.__signature__ = inspect.Signature(
    _options.parameters(["layers"], inspect.Parameter.POSITIONAL_OR_KEYWORD)
    + [p for p in _options.parameters(_options.model_keys()) if p.name != "layers"]
    + [inspect.Parameter("input_shape", inspect.Parameter.KEYWORD_ONLY, default=None)]
    + _options.parameters(["seed"]))
