// The extension module sibp._sibp: the C++ library as the Python package
// `sibp` (python/sibp/) uses it. Python code imports `sibp`, not this module.
#include <pybind11/pybind11.h>

#include "bindings.hpp"

PYBIND11_MODULE(_sibp, m) {
  m.doc() = "sibp's C++ library (used by the sibp package; import sibp instead)";
  m.attr("version") = SIBP_VERSION;
  sibp::python::register_exceptions();
  sibp::python::register_network(m);
  sibp::python::register_training(m);
  sibp::python::register_data(m);
}
