#include <cmath>
#include <cstring>
#include <limits>

#include "bindings.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"
#include "experiment/run_folder.hpp"

namespace sibp::python {

using nlohmann::json;

std::string python_name(const std::string& key) { return key == "lambda" ? "lam" : key; }

namespace {

bool is_numpy_bool(py::handle v) { return std::strcmp(Py_TYPE(v.ptr())->tp_name, "numpy.bool_") == 0; }

std::string type_name(py::handle v) { return Py_TYPE(v.ptr())->tp_name; }

}  // namespace

namespace {

/// Python values as JSON within the limits config.json has (JsonLimits): at
/// most max_depth levels of lists and dicts, and about max_bytes of JSON text
/// in all. A list that contains itself is refused at the depth limit instead of
/// recursing until the interpreter's stack overflows.
class JsonConverter {
 public:
  explicit JsonConverter(const std::string& key) : key_(key) {}

  /// `v` inside `depth` lists and dicts.
  json convert(py::handle v, std::size_t depth, bool item = false) {
    spend(8);
    if (v.is_none()) return nullptr;
    if (PyBool_Check(v.ptr()) || is_numpy_bool(v)) return PyObject_IsTrue(v.ptr()) == 1;
    if (PyFloat_Check(v.ptr())) return PyFloat_AsDouble(v.ptr());
    if (PyLong_Check(v.ptr()) || (PyIndex_Check(v.ptr()) && !PyUnicode_Check(v.ptr()))) return integer(v);
    // NumPy's float32 and other real scalars are not Python floats, but convert
    // (once: an item() that returns such a scalar again is refused below).
    if (!item && py::hasattr(v, "dtype") && py::hasattr(v, "item") && !py::isinstance<py::array>(v))
      return convert(v.attr("item")(), depth, true);
    if (PyUnicode_Check(v.ptr())) {
      std::string text = v.cast<std::string>();
      spend(text.size());
      return text;
    }
    const bool list = PyList_Check(v.ptr()) || PyTuple_Check(v.ptr());
    if ((list || PyDict_Check(v.ptr())) && depth + 1 > limits_.max_depth)
      throw OptionError(key_, "nested too deeply: expected at most " + std::to_string(limits_.max_depth) +
                                  " levels of lists and dicts (as config.json allows), found level " +
                                  std::to_string(depth + 1) + " (a list or dict that contains itself nests without end)");
    if (list) {
      json a = json::array();
      for (py::handle e : v) a.push_back(convert(e, depth + 1));
      return a;
    }
    if (PyDict_Check(v.ptr())) {
      json o = json::object();
      for (const auto& [k, e] : py::reinterpret_borrow<py::dict>(v)) {
        if (!PyUnicode_Check(k.ptr()))
          throw OptionError(key_, "expected string keys, got a Python " + type_name(k) + " key");
        std::string name = k.cast<std::string>();
        spend(name.size());
        o[std::move(name)] = convert(e, depth + 1);
      }
      return o;
    }
    throw OptionError(key_, "expected a number, a string, True/False, a list or a dict, got a Python " + type_name(v));
  }

 private:
  json integer(py::handle v) const {
    py::int_ i = py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr()));
    if (!i) throw py::error_already_set();
    int overflow = 0;
    const long long s = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow == 0) return static_cast<std::int64_t>(s);
    if (overflow > 0) {
      const unsigned long long u = PyLong_AsUnsignedLongLong(i.ptr());
      if (!PyErr_Occurred()) return static_cast<std::uint64_t>(u);
      PyErr_Clear();
    }
    // Not str(v): Python refuses to print an integer of more than 4300 digits.
    throw OptionError(key_, "expected a number that fits in 64 bits, got an integer of " +
                                py::str(i.attr("bit_length")()).cast<std::string>() + " bits");
  }

  void spend(std::size_t bytes) {
    bytes_ += bytes;
    if (bytes_ > limits_.max_bytes)
      throw OptionError(key_, "too large: more than " + std::to_string(limits_.max_bytes) +
                                  " bytes as JSON (the size config.json may have)");
  }

  const std::string& key_;
  JsonLimits limits_;
  std::uint64_t bytes_ = 0;
};

}  // namespace

json to_json(py::handle v, const std::string& key) { return JsonConverter(key).convert(v, 0); }

py::object from_json(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return py::none();
    case json::value_t::boolean: return py::bool_(j.get<bool>());
    case json::value_t::number_integer: return py::int_(j.get<std::int64_t>());
    case json::value_t::number_unsigned: return py::int_(j.get<std::uint64_t>());
    case json::value_t::number_float: return py::float_(j.get<double>());
    case json::value_t::string: return py::str(j.get<std::string>());
    case json::value_t::array: {
      py::list l;
      for (const json& e : j) l.append(from_json(e));
      return l;
    }
    case json::value_t::object: {
      py::dict d;
      for (const auto& [k, v] : j.items()) d[py::str(k)] = from_json(v);
      return d;
    }
    default: return py::none();
  }
}

RunOptions run_options_from(const py::dict& options, std::vector<std::string>* keys) {
  std::map<std::string, json> given;
  for (const auto& [k, v] : options) {
    const std::string key = py::str(k);
    if (!find_run_option(key)) throw UsageError("unknown run option '" + key + "' (see sibp.options())");
    given[key] = to_json(v, key);
  }
  RunOptions o;
  for (const RunOptionInfo& info : run_option_table()) {
    const auto it = given.find(info.key);
    if (it == given.end()) continue;
    info.from_json(o, it->second);
    if (keys) keys->push_back(info.key);
  }
  return o;
}

namespace {

py::object error_class(const char* name) {
  return py::module_::import("sibp._errors").attr(name);
}

void set_error(const char* name, const std::string& message, const py::dict& attrs) {
  py::object cls = error_class(name);
  py::object e = cls(message);
  for (const auto& [k, v] : attrs) py::setattr(e, k, v);
  PyErr_SetObject(cls.ptr(), e.ptr());
}

}  // namespace

void raise(const char* name, const std::string& message, const py::dict& attrs) {
  set_error(name, message, attrs);
  throw py::error_already_set();
}

void register_exceptions() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const OptionError& e) {
      // The library's text names the option as the command line does; here it
      // is named as the keyword argument.
      py::dict attrs;
      attrs["option"] = python_name(e.key());
      attrs["key"] = e.key();
      attrs["detail"] = e.detail();
      set_error("OptionError", python_name(e.key()) + ": " + e.detail(), attrs);
    } catch (const UsageError& e) {
      set_error("UsageError", e.what(), py::dict());
    } catch (const DataError& e) {
      set_error("DataError", e.what(), py::dict());
    } catch (const FolderLockedError& e) {
      set_error("FolderLockedError", e.what(), py::dict());
    }
  });
}

py::dict row_dict(const MetricsRow& r) {
  py::dict d;
  const auto opt = [](const std::optional<double>& v) -> py::object {
    return v ? py::object(py::float_(*v)) : py::object(py::none());
  };
  d["epoch"] = r.epoch;
  d["iteration"] = r.iteration;
  d["seconds"] = r.seconds;
  d["train_loss"] = opt(r.train_loss);
  d["train_acc"] = opt(r.train_acc);
  d["val_loss"] = opt(r.val_loss);
  d["val_acc"] = opt(r.val_acc);
  d["test_loss"] = opt(r.test_loss);
  d["test_acc"] = opt(r.test_acc);
  for (const auto& [k, v] : r.extra) d[py::str(k)] = v;
  return d;
}

void check_signals_without_gil() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// ---------------------------------------------------------------- arrays

namespace {

std::string shape_text(const py::array& a, py::ssize_t from) {
  std::string s = "(";
  for (py::ssize_t k = from; k < a.ndim(); ++k) s += (k > from ? ", " : "") + std::to_string(a.shape(k));
  return s + (a.ndim() - from == 1 ? ",)" : ")");
}

std::string chw(const Shape& s) {
  return "(" + std::to_string(s.channels) + ", " + std::to_string(s.height) + ", " + std::to_string(s.width) + ")";
}

/// Labels as uint8 (the Dataset's label type), checked against `classes`.
std::vector<std::uint8_t> read_labels(py::handle y, Index n, int classes, const std::string& what) {
  py::array a = py::array::ensure(y);
  if (!a) throw py::type_error(what + ": expected an array of integer class labels, got a Python " + type_name(y));
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u')
    throw py::type_error(what + ": expected integer class labels, got dtype " + py::str(a.dtype()).cast<std::string>());
  if (a.ndim() != 1 || a.shape(0) != n)
    throw py::value_error(what + ": expected " + std::to_string(n) + " labels (shape (" + std::to_string(n) +
                          ",)), got shape " + shape_text(a, 0));
  py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> v(a);
  const std::int64_t* p = v.data();
  const std::int64_t top = std::min<std::int64_t>(classes, 256);
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    if (p[i] < 0 || p[i] >= top)
      throw py::value_error(what + ": label " + std::to_string(i) + " is " + std::to_string(p[i]) + ", expected 0.." +
                            std::to_string(top - 1) +
                            (classes > 256 ? " (labels are stored in one byte: at most 256 classes)"
                                           : " (the network has " + std::to_string(classes) + " outputs)"));
    labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(p[i]);
  }
  return labels;
}

}  // namespace

ArrayData array_data(py::handle X, py::handle y, const Shape& input, int classes, const std::string& what) {
  ArrayData out;
  py::module_ np = py::module_::import("numpy");
  py::array a;
  if (py::isinstance<py::array>(X)) {
    a = py::reinterpret_borrow<py::array>(X);
  } else {
    a = np.attr("asarray")(X);
    out.copies.push_back(what + ": converted from a Python " + type_name(X) + " to an array");
  }
  const std::string dtype = py::str(a.dtype());
  if (dtype != "uint8" && dtype != "float32" && dtype != "float64")
    throw py::type_error(what + ": expected uint8, float32 or float64 values, got dtype " + dtype);
  if (a.ndim() < 2 || a.ndim() > 4)
    throw py::value_error(what + ": expected samples as rows, of shape (n, features), (n, H, W) or (n, C, H, W), got " +
                          std::to_string(a.ndim()) + "-D shape " + shape_text(a, 0));
  const Index n = a.shape(0);
  if (n == 0) throw py::value_error(what + ": no samples (shape " + shape_text(a, 0) + ")");
  Shape sample;
  if (a.ndim() == 2) sample = {static_cast<Index>(a.shape(1)), 1, 1};
  if (a.ndim() == 3) sample = {1, static_cast<Index>(a.shape(1)), static_cast<Index>(a.shape(2))};
  if (a.ndim() == 4)
    sample = {static_cast<Index>(a.shape(1)), static_cast<Index>(a.shape(2)), static_cast<Index>(a.shape(3))};
  if (sample.size() != input.size())
    throw py::value_error(what + ": samples of shape " + shape_text(a, 1) + " have " + std::to_string(sample.size()) +
                          " values, but the network's input " + chw(input) + " has " + std::to_string(input.size()));
  if (!input.is_vector() && !sample.is_vector() && !(sample == input))
    throw py::value_error(what + ": samples of shape " + shape_text(a, 1) + ", but the network reads images of shape " +
                          chw(input) + " (channels, height, width)");

  if (dtype == "float64") {
    a = np.attr("ascontiguousarray")(a, "float32");
    out.copies.push_back(what + ": float64 converted to a float32 copy");
  } else if (!(a.flags() & py::array::c_style) || !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
    a = np.attr("array")(a, py::arg("order") = "C", py::arg("copy") = true);
    out.copies.push_back(what + ": " + dtype + " copied into C order (the array was not C-contiguous and aligned)");
  }
  const Index d = input.size();
  std::vector<std::uint8_t> labels =
      y.is_none() ? std::vector<std::uint8_t>(static_cast<std::size_t>(n), 0) : read_labels(y, n, classes, "labels of " + what);
  const int label_classes = y.is_none() ? 1 : classes;
  if (a.dtype().kind() == 'u') {
    out.data = Dataset::view_bytes(static_cast<const std::uint8_t*>(a.data()), std::move(labels), d,
                                   label_classes, what);
  } else {
    const float* v = static_cast<const float*>(a.data());
    const std::size_t count = static_cast<std::size_t>(n) * static_cast<std::size_t>(d);
    for (std::size_t k = 0; k < count; ++k)
      if (!std::isfinite(v[k]))
        throw py::value_error(what + ": sample " + std::to_string(k / static_cast<std::size_t>(d)) +
                              " holds a non-finite value (" + std::to_string(v[k]) + ")");
    out.data = Dataset::view_floats(v, std::move(labels), d, label_classes, what);
  }
  out.data.set_sample_shape(sample);
  out.array = std::move(a);
  return out;
}

}  // namespace sibp::python
