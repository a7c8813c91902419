// Data sets as NumPy arrays: `--data` specs loaded by the library's readers.
#include <pybind11/stl.h>

#include <iostream>
#include <memory>

#include "bindings.hpp"
#include "data/data_source.hpp"
#include "data/fetch.hpp"

namespace sibp::python {

namespace {

DataOptions data_options(const std::optional<std::string>& data_dir) {
  DataOptions o;
  if (data_dir && !data_dir->empty()) o.data_dir = *data_dir;
  return o;
}

/// The samples of `data` as an array of shape (n, features) or (n, C, H, W) over
/// the data set's own memory (no copy: the array keeps the data set alive), and
/// its labels as an int64 array.
py::tuple arrays_of(Dataset data) {
  auto owner = std::make_unique<Dataset>(std::move(data));
  const Dataset& d = *owner;
  const Shape& s = d.sample_shape();
  std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(d.size())};
  if (s.is_vector())
    shape.push_back(static_cast<py::ssize_t>(s.size()));
  else
    shape.insert(shape.end(), {static_cast<py::ssize_t>(s.channels), static_cast<py::ssize_t>(s.height),
                               static_cast<py::ssize_t>(s.width)});
  py::array_t<std::int64_t> y(std::vector<py::ssize_t>{static_cast<py::ssize_t>(d.size())});
  for (Index i = 0; i < d.size(); ++i) y.mutable_data()[i] = d.labels()[static_cast<std::size_t>(i)];
  const bool bytes = d.is_bytes();
  const void* values = bytes ? static_cast<const void*>(d.byte_data()) : static_cast<const void*>(d.float_data());
  py::capsule keep(owner.release(), [](void* p) { delete static_cast<Dataset*>(p); });
  py::array X = bytes ? py::array(py::dtype::of<std::uint8_t>(), shape, values, keep)
                      : py::array(py::dtype::of<float>(), shape, values, keep);
  return py::make_tuple(std::move(X), std::move(y));
}

}  // namespace

void register_data(py::module_& m) {
  m.def(
      "load_data",
      [](const std::string& spec, std::optional<std::string> data_dir) {
        const DataSpec parsed = parse_data_spec(spec);
        std::optional<LoadedData> loaded;
        {
          py::gil_scoped_release nogil;
          loaded = load_data(parsed, data_options(data_dir));
        }
        const int classes = loaded->train.num_classes();
        py::tuple train = arrays_of(std::move(loaded->train));
        py::object Xt = py::none(), yt = py::none();
        if (loaded->test) {
          py::tuple test = arrays_of(std::move(*loaded->test));
          Xt = test[0];
          yt = test[1];
        }
        return py::make_tuple(train[0], train[1], Xt, yt, classes);
      },
      py::arg("spec"), py::arg("data_dir") = py::none());
  m.def(
      "fetch",
      [](const std::string& name, std::optional<std::string> data_dir) {
        const std::filesystem::path dir = data_options(data_dir).resolved_data_dir();
        py::gil_scoped_release nogil;
        fetch_dataset(name, dir, std::cerr);
        return (dir / name).string();
      },
      py::arg("name"), py::arg("data_dir") = py::none());
  m.def("data_spec_forms", &data_spec_forms);
  m.def("default_data_dir", [] { return default_data_dir().string(); });
}

}  // namespace sibp::python
