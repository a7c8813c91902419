// sibp._sibp._Network: a network of either precision, built from run options,
// loaded from or saved to safetensors, run on NumPy arrays.
#include <pybind11/stl.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "bindings.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "experiment/training_run.hpp"
#include "io/model_metadata.hpp"
#include "io/safetensors.hpp"

namespace sibp::python {

namespace {

/// Keys of a model file's metadata that describe the architecture: written by
/// save_safetensors itself, so not part of a network's own metadata.
bool architecture_key(const std::string& key) {
  for (const char* k : {kMetaArch, kMetaInput, kMetaLoss, kMetaVersion, kMetaLayers, kMetaHidden, kMetaOutput})
    if (key == k) return true;
  return false;
}

std::string tensor_name(std::size_t i, const char* what) { return "layers." + std::to_string(i) + "." + what; }

/// The shape of parametrised layer i's weight tensor, as in the safetensors file
/// (io/safetensors.hpp): [out, in] for a dense layer, [out, in, k, k] for a convolution.
template <typename T>
std::vector<py::ssize_t> weight_shape(const Network<T>& net, std::size_t i) {
  const std::size_t k = net.layer_index(i);
  const LayerSpec& layer = net.spec().layers[k];
  const Mat<T>& W = net.params(i).W;
  if (layer.kind == LayerKind::Conv2d)
    return {static_cast<py::ssize_t>(W.rows()), static_cast<py::ssize_t>(net.spec().shapes[k].channels),
            static_cast<py::ssize_t>(layer.kernel), static_cast<py::ssize_t>(layer.kernel)};
  return {static_cast<py::ssize_t>(W.rows()), static_cast<py::ssize_t>(W.cols())};
}

std::string shape_text(const std::vector<py::ssize_t>& s) {
  std::string t = "(";
  for (std::size_t k = 0; k < s.size(); ++k) t += (k ? ", " : "") + std::to_string(s[k]);
  return t + (s.size() == 1 ? ",)" : ")");
}

template <typename T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename T>
py::dict parameters_of(const Network<T>& net) {
  py::dict out;
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    const Params<T>& p = net.params(i);
    py::array_t<T> w(weight_shape(net, i));
    // Our W is column-major; the file's (and NumPy's) is row-major.
    Eigen::Map<RowMajor<T>>(w.mutable_data(), p.W.rows(), p.W.cols()) = p.W;
    py::array_t<T> b(std::vector<py::ssize_t>{static_cast<py::ssize_t>(p.b.size())});
    std::memcpy(b.mutable_data(), p.b.data(), sizeof(T) * static_cast<std::size_t>(p.b.size()));
    out[py::str(tensor_name(i, "weight"))] = std::move(w);
    out[py::str(tensor_name(i, "bias"))] = std::move(b);
  }
  return out;
}

/// `value` as a C-ordered array of T with exactly `shape`, every value finite in
/// T. Raises TypeError unless it holds real numbers (complex, object, string,
/// bool and date arrays are refused: a cast would drop the imaginary part or
/// call Python code), ValueError for another shape, a NaN or an infinity, or a
/// value beyond T's range (1e300 would become inf in float32). `what` names it.
template <typename T>
py::array_t<T> checked_tensor(py::handle value, const std::string& what, const std::vector<py::ssize_t>& shape) {
  py::array a = py::array::ensure(value);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(what + " is not an array of numbers (got a Python " +
                         std::string(Py_TYPE(value.ptr())->tp_name) + ")");
  }
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u')
    throw py::type_error(what + " has dtype " + py::str(a.dtype()).cast<std::string>() +
                         "; expected real numbers (a float or integer dtype)");
  std::vector<py::ssize_t> found(a.shape(), a.shape() + a.ndim());
  if (found != shape)
    throw py::value_error(what + " has shape " + shape_text(found) + ", expected " + shape_text(shape));
  // Checked as doubles (exact for every float up to float64 and for integers up
  // to 2^53; wider ones round but stay finite), then cast: no NumPy overflow warning.
  py::array_t<double, py::array::c_style | py::array::forcecast> wide(a);
  if (!wide) throw py::error_already_set();
  py::array_t<T> out(shape);
  const double* src = wide.data();
  T* dst = out.mutable_data();
  const double top = static_cast<double>(std::numeric_limits<T>::max());
  for (py::ssize_t k = 0; k < wide.size(); ++k) {
    const double v = src[k];
    if (!std::isfinite(v) || std::abs(v) > top)
      throw py::value_error(what + " holds " + format_number(v) + " at flat index " + std::to_string(k) +
                            (std::isfinite(v) ? ", beyond the range of the network's precision (" +
                                                    std::string(sizeof(T) == 4 ? "f32" : "f64") + ")"
                                              : "; parameters must be finite"));
    dst[k] = static_cast<T>(v);
  }
  return out;
}

template <typename T>
void set_parameters_of(Network<T>& net, const py::dict& tensors) {
  std::map<std::string, py::handle> given;
  for (const auto& [k, v] : tensors) given[py::str(k)] = v;
  std::vector<Params<T>> next(net.num_param_layers());
  std::size_t used = 0;
  const auto fetch = [&](const std::string& name, const std::vector<py::ssize_t>& shape) {
    const auto it = given.find(name);
    if (it == given.end()) throw py::key_error("set_parameters: tensor '" + name + "' is missing");
    ++used;
    return checked_tensor<T>(it->second, "set_parameters: tensor '" + name + "'", shape);
  };
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    const Params<T>& p = net.params(i);
    const auto w = fetch(tensor_name(i, "weight"), weight_shape(net, i));
    next[i].W = Eigen::Map<const RowMajor<T>>(w.data(), p.W.rows(), p.W.cols());
    const auto b = fetch(tensor_name(i, "bias"), {static_cast<py::ssize_t>(p.b.size())});
    next[i].b = Eigen::Map<const Vec<T>>(b.data(), p.b.size());
  }
  if (used != given.size())
    for (const auto& [name, v] : given) {
      bool known = false;
      for (std::size_t i = 0; i < net.num_param_layers(); ++i)
        known = known || name == tensor_name(i, "weight") || name == tensor_name(i, "bias");
      if (!known) throw py::key_error("set_parameters: unexpected tensor '" + name + "'");
    }
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    net.params(i).W = std::move(next[i].W);
    net.params(i).b = std::move(next[i].b);
  }
}

template <typename T>
py::array predict_with(const Network<T>& net, const Dataset& data, const Normalization& norm, bool release) {
  const Index n = data.size(), C = net.output_size();
  py::array_t<T> out(std::vector<py::ssize_t>{static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(C)});
  T* dst = out.mutable_data();
  const auto run = [&] {
    Batch<T> batch;
    Tape<T> work;
    const Index chunk = evaluation_chunk(net.spec(), 2000);
    for (Index begin = 0; begin < n; begin += chunk) {
      const Index end = std::min(n, begin + chunk);
      data.make_range_batch<T>(begin, end, norm, batch);
      const Mat<T>& F = net.predict(batch.X, work);  // (C, m) column-major: (m, C) row-major
      std::memcpy(dst + begin * C, F.data(), sizeof(T) * static_cast<std::size_t>(F.size()));
    }
  };
  if (release) {
    py::gil_scoped_release nogil;
    run();
  } else {
    run();
  }
  return out;
}

/// Marks a read in progress for its scope.
struct ReadScope {
  PyNetwork& net;
  bool release;
  ReadScope(PyNetwork& n, const char* what) : net(n), release(n.begin_read(what)) {}
  ~ReadScope() { --net.readers; }
};

std::string loss_name(Loss l) { return to_string(l); }

py::tuple shape_tuple(const Shape& s) { return py::make_tuple(s.channels, s.height, s.width); }

}  // namespace

const NetworkSpec& PyNetwork::spec() const {
  return std::visit([](const auto& n) -> const NetworkSpec& { return n.spec(); }, net_);
}

void PyNetwork::set_metadata(std::map<std::string, std::string> metadata) {
  for (const auto& [k, v] : metadata)
    if (architecture_key(k))
      throw UsageError("metadata: key '" + k + "' is written by sibp itself (the architecture); choose another key");
  Normalization norm = normalization_from_metadata(metadata, "metadata");
  if (norm.standardize() && static_cast<Index>(norm.mean.size()) != spec().input_size())
    throw UsageError("metadata: sibp.norm.* has " + std::to_string(norm.mean.size()) + " features, the network's input " +
                     std::to_string(spec().input_size()));
  metadata_ = std::move(metadata);
  norm_ = std::move(norm);
}

bool PyNetwork::begin_read(const char* what) {
  if (training == Training::Running)
    throw std::runtime_error(std::string(what) + ": the network is being trained by fit() in another thread");
  ++readers;
  return training == Training::No;
}

void PyNetwork::check_writable(const char* what) const {
  if (training == Training::Running || readers > 0)
    throw std::runtime_error(std::string(what) + ": the network is in use by " +
                             (readers > 0 ? "predict()/evaluate()" : "fit()") + " in another thread");
}

void register_network(py::module_& m) {
  py::class_<PyNetwork>(m, "_Network", "A network of the C++ library (wrapped by sibp.Network).")
      .def_static(
          "create",
          [](const py::dict& options, std::optional<std::string> input_shape) {
            const RunSpec spec(run_options_from(options));
            const ModelSpec& model = spec.model();
            NetworkSpec ns;
            if (model.arch) {
              if (!input_shape)
                throw OptionError("input_shape",
                                  "is needed with arch: the shape (C, H, W) of one sample, e.g. (1, 28, 28)");
              ns = NetworkSpec::build(*model.arch, Shape::parse(*input_shape, "input_shape"), model.loss);
            } else {
              const Shape in =
                  input_shape ? Shape::parse(*input_shape, "input_shape") : Shape{model.widths.front(), 1, 1};
              ns = model.network(in, model.widths.back(), "input_shape " + in.to_string());
            }
            check_training_memory(ns, spec.options().batch, model.dtype);
            const std::uint64_t seed = spec.fit().seed;
            if (model.dtype == DType::F64) return PyNetwork(initial_network<double>(ns, model, seed));
            return PyNetwork(initial_network<float>(ns, model, seed));
          },
          py::arg("options"), py::arg("input_shape") = py::none())
      .def_static(
          "load",
          [](const std::string& path, std::optional<std::string> arch, std::optional<std::string> input_shape) {
            ModelFileOptions mo;
            if (arch) mo.arch = Architecture::parse(*arch);
            if (input_shape) mo.input = Shape::parse(*input_shape, "input_shape");
            mo.require_architecture = true;  // as `sibp eval`: bare weights need arch=
            std::optional<PyNetwork> net;
            {
              py::gil_scoped_release nogil;
              if (model_file_dtype(path) == DType::F64)
                net.emplace(load_network<double>(path, mo));
              else
                net.emplace(load_network<float>(path, mo));
              // As `sibp eval`: a NaN or an infinity in the file is refused (DataError), not loaded.
              std::visit([&](const auto& n) { require_finite_parameters(n, path); }, net->net());
            }
            std::map<std::string, std::string> meta = read_safetensors_metadata(path);
            std::erase_if(meta, [](const auto& kv) { return architecture_key(kv.first); });
            net->set_metadata(std::move(meta));
            return std::move(*net);
          },
          py::arg("path"), py::arg("arch") = py::none(), py::arg("input_shape") = py::none())
      .def(
          "to_bytes",
          [](PyNetwork& self, const std::map<std::string, std::string>& extra) {
            ReadScope read(self, "save");
            std::map<std::string, std::string> meta = self.metadata();
            for (const auto& [k, v] : extra) meta[k] = v;
            const std::string bytes =
                std::visit([&](const auto& n) { return encode_network(n, meta); }, self.net());
            return py::bytes(bytes);
          },
          py::arg("metadata"))
      .def(
          "save",
          [](PyNetwork& self, const std::string& path, const std::map<std::string, std::string>& extra) {
            ReadScope read(self, "save");
            std::map<std::string, std::string> meta = self.metadata();
            for (const auto& [k, v] : extra) meta[k] = v;
            std::visit([&](const auto& n) { save_safetensors(n, path, meta); }, self.net());
          },
          py::arg("path"), py::arg("metadata"))
      .def(
          "predict",
          [](PyNetwork& self, py::handle X) {
            const ArrayData in = array_data(X, py::none(), self.spec().input, 1, "X");
            ReadScope read(self, "predict");
            return std::visit(
                [&](const auto& n) { return predict_with(n, in.data, self.normalization(), read.release); },
                self.net());
          },
          py::arg("X"))
      .def(
          "evaluate",
          [](PyNetwork& self, py::handle X, py::handle y) {
            const ArrayData in =
                array_data(X, y, self.spec().input, static_cast<int>(self.spec().output_size()), "X");
            ReadScope read(self, "evaluate");
            EvalResult r;
            const auto run = [&] {
              std::visit([&](const auto& n) { r = evaluate(n, in.data, self.normalization()); }, self.net());
            };
            if (read.release) {
              py::gil_scoped_release nogil;
              run();
            } else {
              run();
            }
            return py::make_tuple(r.loss, r.accuracy);
          },
          py::arg("X"), py::arg("y"))
      .def("parameters",
           [](PyNetwork& self) {
             ReadScope read(self, "parameters");
             return std::visit([](const auto& n) { return parameters_of(n); }, self.net());
           })
      .def(
          "set_parameters",
          [](PyNetwork& self, const py::dict& tensors) {
            self.check_writable("set_parameters");
            std::visit([&](auto& n) { set_parameters_of(n, tensors); }, self.net());
          },
          py::arg("tensors"))
      .def("copy",
           [](PyNetwork& self) {
             ReadScope read(self, "copy");
             PyNetwork c(self.net());
             c.set_metadata(self.metadata());
             return c;
           })
      .def_property_readonly("arch", [](const PyNetwork& self) { return self.spec().arch_string(); })
      .def_property_readonly("input_shape", [](const PyNetwork& self) { return shape_tuple(self.spec().input); })
      .def_property_readonly("output_size", [](const PyNetwork& self) { return self.spec().output_size(); })
      .def_property_readonly("num_parameters", [](const PyNetwork& self) { return self.spec().num_parameters(); })
      .def_property_readonly("dtype", [](const PyNetwork& self) { return self.dtype() == DType::F64 ? "f64" : "f32"; })
      .def_property_readonly("loss", [](const PyNetwork& self) { return loss_name(self.spec().loss); })
      .def_property_readonly("finite",
                             [](const PyNetwork& self) {
                               return std::visit([](const auto& n) { return n.all_finite(); }, self.net());
                             })
      .def_property(
          "metadata", [](const PyNetwork& self) { return self.metadata(); },
          [](PyNetwork& self, std::map<std::string, std::string> meta) {
            self.check_writable("metadata");
            self.set_metadata(std::move(meta));
          });
}

}  // namespace sibp::python
