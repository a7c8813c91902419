#pragma once
/// What the binding files share: Python ↔ JSON values, run options from a
/// Python dict, raising sibp's Python exceptions, NumPy arrays as data sets,
/// and the network object.
///
/// Threading: every function here is called with the GIL held unless it says
/// otherwise. Long computations (fit, predict, loading data) release it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "experiment/run_options.hpp"
#include "nn/network.hpp"
#include "train/fit.hpp"

namespace sibp::python {

namespace py = pybind11;

/// The Python keyword of run option `key`: the key itself, except `lam` for
/// `lambda` (a reserved word in Python).
std::string python_name(const std::string& key);

/// A Python value (None, bool, int, float, str, list/tuple and dict of those,
/// NumPy scalars) as JSON. Throws OptionError(key, ...) for anything else.
nlohmann::json to_json(py::handle value, const std::string& key);
/// A JSON value as a Python object.
py::object from_json(const nlohmann::json& j);

/// RunOptions{} with the entries of `options` (run option keys → values) applied
/// in table order through each option's JSON reader (run_option_table), so the
/// checks and messages are those of config.json. `keys`, when given, receives
/// the keys set. Throws UsageError for an unknown key, OptionError for a bad value.
RunOptions run_options_from(const py::dict& options, std::vector<std::string>* keys = nullptr);

/// Raises the exception class `name` of sibp._errors with `message` and the
/// attributes `attrs`: sets the Python error and throws py::error_already_set.
[[noreturn]] void raise(const char* name, const std::string& message, const py::dict& attrs = py::dict());

/// Registers the translation of sibp's C++ exceptions into sibp._errors:
/// OptionError → sibp.OptionError (ValueError), UsageError → sibp.UsageError
/// (ValueError), DataError → sibp.DataError (OSError), FolderLockedError →
/// sibp.FolderLockedError (OSError).
void register_exceptions();

/// One metrics row as the dict of metrics.csv's columns (None for an empty cell).
py::dict row_dict(const MetricsRow& row);

/// The one check of pending signals (Ctrl-C) that every long loop makes after
/// each step: takes the GIL, runs Python's signal handlers and throws
/// py::error_already_set with their exception (KeyboardInterrupt). Call it
/// without the GIL.
void check_signals_without_gil();

/// An array of samples (rows) read as a Dataset: in place when its layout
/// allows (uint8 or float32, C-contiguous, aligned), else through one converted
/// copy, which `copies` describes.
struct ArrayData {
  py::array array;  ///< what `data` reads: the caller's array or the copy (kept alive here)
  Dataset data;
  std::vector<std::string> copies;
};

/// Reads `X` (n, features), (n, H, W) or (n, C, H, W) with labels `y` (integers
/// in [0, classes)); without `y` (y.is_none()) every label is 0 and classes 1.
/// `input` is the network's input shape: samples must have input.size() values,
/// and image samples of an image network must have its shape. `what` names X in
/// messages. Raises TypeError for an unsupported dtype, ValueError for a shape
/// that does not fit, labels out of range or non-finite values.
ArrayData array_data(py::handle X, py::handle y, const Shape& input, int classes, const std::string& what);

/// A network of either precision with what a model file records besides the
/// architecture (the run's metadata and the input standardisation).
class PyNetwork {
 public:
  using Variant = std::variant<Network<float>, Network<double>>;
  explicit PyNetwork(Variant net) : net_(std::move(net)) {}

  Variant& net() { return net_; }
  const Variant& net() const { return net_; }
  const NetworkSpec& spec() const;
  DType dtype() const { return net_.index() == 1 ? DType::F64 : DType::F32; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Replaces the metadata; the standardisation follows its sibp.norm.* entries.
  void set_metadata(std::map<std::string, std::string> metadata);
  const Normalization& normalization() const { return norm_; }

  // Use from several Python threads. fit() and predict() release the GIL; these
  // markers, changed only with the GIL held, keep another thread from changing
  // the network meanwhile (a RuntimeError instead of a data race).
  enum class Training { No, Running, InCallback };
  Training training = Training::No;
  int readers = 0;  ///< predict/evaluate calls running without the GIL
  /// Raises RuntimeError unless the network may be read now; returns whether the
  /// GIL may be released while reading (not while a fit() callback runs).
  bool begin_read(const char* what);
  /// Raises RuntimeError unless the network may be changed now (`what` names the caller).
  void check_writable(const char* what) const;

 private:
  Variant net_;
  std::map<std::string, std::string> metadata_;
  Normalization norm_;
};

void register_network(py::module_& m);
void register_training(py::module_& m);
void register_data(py::module_& m);

}  // namespace sibp::python
