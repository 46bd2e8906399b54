#pragma once
// The Python module `fovea._fovea` (docs/python.md): thin bindings over the C++ library, one
// file per family. No logic lives here that the library does not already have: the files
// convert arguments and results, release the GIL around long calls and translate errors.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <functional>
#include <memory>
#include <string>

#include "fovea/core/tensor.h"
#include "fovea/nn/module.h"

namespace fovea::python {

namespace py = pybind11;

void bind_tensor(py::module_& m);   // tensor.cpp: Tensor, buffers, DLPack, factories
void bind_nn(py::module_& m);       // nn.cpp: Module, the zoo, summary, files, ONNX, optimizers
void bind_train(py::module_& m);    // train.cpp: fovea.train, fovea.finetune
void bind_explain(py::module_& m);  // explain.cpp: fovea.explain

// A CPU buffer (a NumPy array, memoryview, ...) or DLPack producer (a PyTorch tensor) as a
// Tensor viewing the same memory; copy = true, or a layout fovea cannot view, copies.
Tensor to_tensor(const py::handle& obj, bool copy = false);
// A Tensor as a NumPy array on the same memory (CPU tensors of f32, f64, i64, u8).
py::object to_numpy(const Tensor& t);

// Runs f, turning a fovea::Error into a Python ValueError: for calls whose errors are the
// caller's arguments (a shape, a name, an option). Other errors become fovea.Error, a
// RuntimeError (module.cpp registers the translation).
template <typename F>
auto checking_arguments(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    throw py::value_error(e.what());
  }
}

// A Python callable held by C++ (a hook, a callback) that may be called or dropped on a thread
// without the GIL: both take the GIL first.
class PyCallable {
 public:
  explicit PyCallable(py::function f);
  template <typename... Args>
  py::object operator()(Args&&... args) const {
    py::gil_scoped_acquire gil;
    return (*f_)(std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<py::function> f_;
};

}  // namespace fovea::python
