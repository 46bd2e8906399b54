// The extension module fovea._fovea; python/fovea/__init__.py re-exports it as `fovea`.
#include "fovea/core/version.h"
#include "python/src/bindings.h"

PYBIND11_MODULE(_fovea, m) {
  namespace py = pybind11;
  m.doc() = "fovea: convolutional networks in C++, from Python (docs/python.md)";
  m.attr("__version__") = fovea::version();
  // fovea's own errors: a RuntimeError carrying fovea's message ("[conv2d] expected 4-D input ...")
  static py::exception<fovea::Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fovea::Error& e) {
      error(e.what());
    }
  });
  fovea::python::bind_tensor(m);
  fovea::python::bind_nn(m);
  fovea::python::bind_train(m);
  fovea::python::bind_explain(m);
}
