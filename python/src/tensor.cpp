// fovea.Tensor: NumPy arrays in and out without copies (the buffer protocol both ways), DLPack
// both ways (PyTorch, NumPy), autograd, and the arithmetic a notebook needs.
#include <dlpack/dlpack.h>
#include <pybind11/operators.h>

#include <fmt/core.h>

#include <cstring>
#include <optional>

#include "fovea/autograd/grad_mode.h"
#include "fovea/ops/ops.h"
#include "python/src/bindings.h"

namespace fovea::python {

namespace {

// dtype <-> the buffer protocol's format characters and NumPy's names
struct DTypeInfo {
  DType dtype;
  const char* format;  // what fovea exports
  const char* name;    // NumPy's name
};
constexpr DTypeInfo kDTypes[] = {
    {DType::f32, "f", "float32"}, {DType::f64, "d", "float64"}, {DType::i64, "q", "int64"}, {DType::u8, "B", "uint8"}};

const DTypeInfo& dtype_info(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i;
  fail("python", "{} tensors have no NumPy view (float32, float64, int64, uint8); convert with .to('float32')",
       dtype_name(d));
}

// A buffer's element type from its format ("<f", "=q", "l", ...) and item size.
std::optional<DType> dtype_of_format(std::string f, std::size_t itemsize) {
  if (!f.empty() && (f[0] == '<' || f[0] == '=' || f[0] == '@' || f[0] == '!')) f = f.substr(1);
  if (f == "f" && itemsize == 4) return DType::f32;
  if (f == "d" && itemsize == 8) return DType::f64;
  if ((f == "q" || f == "l") && itemsize == 8) return DType::i64;
  if (f == "B" && itemsize == 1) return DType::u8;
  return std::nullopt;
}

DType parse_dtype(const std::string& name) {
  for (const auto& i : kDTypes)
    if (name == i.name || name == dtype_name(i.dtype)) return i.dtype;
  fail("python", "unknown dtype '{}' (float32, float64, int64, uint8)", name);
}

// Memory another object owns, kept alive as long as any tensor views it; `release` runs with
// the GIL (it drops Python references).
std::shared_ptr<std::byte> owned_by(void* ptr, std::function<void()> release) {
  return {static_cast<std::byte*>(ptr), [release = std::move(release)](std::byte*) {
            if (!Py_IsInitialized()) return;  // the interpreter is gone: nothing to release
            py::gil_scoped_acquire gil;
            release();
          }};
}

// A view of `n_elems` elements at ptr with the given shape and element strides.
Tensor view_of(void* ptr, DType dt, const Shape& shape, const Shape& strides, std::shared_ptr<std::byte> owner) {
  std::int64_t extent = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) extent = 0;
    if (extent > 0) extent += (shape[i] - 1) * strides[i];
  }
  const Tensor base = from_blob(ptr, {extent}, dt, std::move(owner));
  return make_view(base, shape, strides, 0);
}

Tensor from_buffer(const py::buffer& b, bool copy) {
  // ask for a writable view first: fovea may write into what it views
  py::buffer_info info;
  bool writable = true;
  try {
    info = b.request(true);
  } catch (const py::error_already_set&) {
    info = b.request(false);
    writable = false;
  }
  const auto dt = dtype_of_format(info.format, static_cast<std::size_t>(info.itemsize));
  if (!dt)
    throw py::value_error(fmt::format(
        "[fovea.tensor] arrays of format '{}' ({} bytes per element) are not supported: float32, float64, int64 and "
        "uint8 are; convert with .astype(np.float32)",
        info.format, info.itemsize));
  Shape shape(info.shape.begin(), info.shape.end()), strides;
  bool regular = true;  // strides fovea can view: whole elements, not negative
  for (auto s : info.strides) {
    if (s < 0 || s % info.itemsize != 0) regular = false;
    strides.push_back(s / info.itemsize);
  }
  auto* held = new py::buffer_info(std::move(info));
  auto owner = owned_by(held->ptr, [held] { delete held; });
  if (regular) {
    Tensor t = view_of(held->ptr, *dt, shape, strides, std::move(owner));
    // a read-only array, or copy=True: fovea's own contiguous copy
    return writable && !copy ? t : t.clone();
  }
  // negative or odd strides: copied element by element
  Tensor out = empty(shape, {.dtype = *dt});
  const auto* src = static_cast<const std::byte*>(held->ptr);
  const std::int64_t n = out.numel(), isz = static_cast<std::int64_t>(dtype_size(*dt));
  std::vector<std::int64_t> idx(shape.size(), 0);
  for (std::int64_t k = 0; k < n; ++k) {
    std::int64_t off = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) off += idx[d] * held->strides[d];
    std::memcpy(static_cast<std::byte*>(out.raw_data()) + k * isz, src + off, static_cast<std::size_t>(isz));
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// ---- DLPack (https://dmlc.github.io/dlpack/latest/python_spec.html) ----

DLDataType dl_dtype(DType d) {
  switch (d) {
    case DType::f32: return {kDLFloat, 32, 1};
    case DType::f64: return {kDLFloat, 64, 1};
    case DType::i64: return {kDLInt, 64, 1};
    case DType::u8: return {kDLUInt, 8, 1};
    default: fail("python", "{} tensors cannot be exported by DLPack here", dtype_name(d));
  }
}

std::optional<DType> dtype_of_dl(DLDataType t) {
  if (t.lanes != 1) return std::nullopt;
  if (t.code == kDLFloat && t.bits == 32) return DType::f32;
  if (t.code == kDLFloat && t.bits == 64) return DType::f64;
  if (t.code == kDLInt && t.bits == 64) return DType::i64;
  if (t.code == kDLUInt && t.bits == 8) return DType::u8;
  return std::nullopt;
}

// What a DLManagedTensor fovea exports keeps alive: the tensor and its shape and strides.
struct Exported {
  Tensor t;
  std::vector<std::int64_t> shape, strides;
  DLManagedTensor managed{};
};

py::capsule to_dlpack(const Tensor& t) {
  if (t.device() != kCPU)
    fail("python", "__dlpack__: only CPU tensors are exported (this one is on {})", t.device().str());
  auto* e = new Exported{t.detach(), t.shape(), t.strides()};
  e->managed.dl_tensor.data = t.raw_data();
  e->managed.dl_tensor.device = {kDLCPU, 0};
  e->managed.dl_tensor.ndim = static_cast<int>(t.dim());
  e->managed.dl_tensor.dtype = dl_dtype(t.dtype());
  e->managed.dl_tensor.shape = e->shape.data();
  e->managed.dl_tensor.strides = e->strides.data();
  e->managed.dl_tensor.byte_offset = 0;
  e->managed.manager_ctx = e;
  e->managed.deleter = [](DLManagedTensor* m) { delete static_cast<Exported*>(m->manager_ctx); };
  // a capsule nobody consumed deletes what it holds; a consumer renames it "used_dltensor"
  return py::capsule(&e->managed, "dltensor", [](PyObject* cap) {
    if (!PyCapsule_IsValid(cap, "dltensor")) return;
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
    m->deleter(m);
  });
}

Tensor from_dlpack(const py::handle& obj) {
  py::object cap = py::hasattr(obj, "__dlpack__") ? obj.attr("__dlpack__")() : py::reinterpret_borrow<py::object>(obj);
  if (!PyCapsule_IsValid(cap.ptr(), "dltensor"))
    throw py::value_error("[fovea.from_dlpack] expected an object with __dlpack__ or an unused 'dltensor' capsule");
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
  const DLTensor& d = m->dl_tensor;
  if (d.device.device_type != kDLCPU)
    throw py::value_error(fmt::format("[fovea.from_dlpack] only CPU memory is taken (device type {})",
                                      static_cast<int>(d.device.device_type)));
  const auto dt = dtype_of_dl(d.dtype);
  if (!dt)
    throw py::value_error(
        fmt::format("[fovea.from_dlpack] element type code {} of {} bits is not supported "
                    "(float32, float64, int64, uint8)",
                    d.dtype.code, d.dtype.bits));
  Shape shape(d.shape, d.shape + d.ndim), strides(static_cast<std::size_t>(d.ndim));
  for (int i = d.ndim - 1; i >= 0; --i)  // no strides: row-major
    strides[static_cast<std::size_t>(i)] =
        d.strides
            ? d.strides[i]
            : (i == d.ndim - 1 ? 1 : strides[static_cast<std::size_t>(i) + 1] * shape[static_cast<std::size_t>(i) + 1]);
  for (auto s : strides)
    if (s < 0) throw py::value_error("[fovea.from_dlpack] negative strides are not supported");
  PyCapsule_SetName(cap.ptr(), "used_dltensor");
  void* data = static_cast<std::byte*>(d.data) + d.byte_offset;
  // NumPy's deleter drops a Python reference: it runs with the GIL
  return view_of(data, *dt, shape, strides, owned_by(data, [m] {
                   if (m->deleter) m->deleter(m);
                 }));
}

Tensor operand(const Tensor& like, const py::object& o) {
  if (py::isinstance<Tensor>(o)) return o.cast<Tensor>();
  if (py::isinstance<py::float_>(o) || py::isinstance<py::int_>(o))
    return scalar_tensor(o.cast<double>(), like.dtype(), like.device());
  return to_tensor(o);
}

std::vector<std::int64_t> dims_of(const py::object& dim) {
  if (dim.is_none()) return {};
  if (py::isinstance<py::int_>(dim)) return {dim.cast<std::int64_t>()};
  return dim.cast<std::vector<std::int64_t>>();
}

// The scope of `with fovea.no_grad():`.
struct NoGradScope {
  std::optional<NoGradGuard> guard;
};

}  // namespace

PyCallable::PyCallable(py::function f)
    : f_(new py::function(std::move(f)), [](py::function* p) {
        if (!Py_IsInitialized()) return;
        py::gil_scoped_acquire gil;
        delete p;
      }) {}

Tensor to_tensor(const py::handle& obj, bool copy) {
  if (py::isinstance<Tensor>(obj)) return copy ? obj.cast<Tensor>().clone() : obj.cast<Tensor>();
  if (PyObject_CheckBuffer(obj.ptr())) return from_buffer(py::reinterpret_borrow<py::buffer>(obj), copy);
  if (py::hasattr(obj, "__dlpack__")) {
    Tensor t = from_dlpack(obj);
    return copy ? t.clone() : t;
  }
  // lists, numbers: through NumPy (float64 lists become float32, as fovea's default)
  py::module_ np = py::module_::import("numpy");
  py::object a = np.attr("asarray")(obj);
  if (py::str(a.attr("dtype").attr("kind")).cast<std::string>() == "f") a = a.attr("astype")("float32");
  return from_buffer(a, true);
}

py::object to_numpy(const Tensor& t) {
  if (t.device() != kCPU) fail("python", "a {} tensor has no NumPy view: call .to('cpu') first", t.device().str());
  return py::module_::import("numpy").attr("asarray")(py::cast(t));
}

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", py::buffer_protocol(), "An n-dimensional array on a device, with autograd")
      .def_buffer([](const Tensor& t) {
        if (t.device() != kCPU) fail("python", "a {} tensor has no buffer: call .to('cpu') first", t.device().str());
        const auto& i = dtype_info(t.dtype());
        const auto isz = static_cast<py::ssize_t>(dtype_size(t.dtype()));
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
        for (auto s : t.strides()) strides.push_back(s * isz);
        return py::buffer_info(t.raw_data(), isz, i.format, t.dim(), shape, strides, false);
      })
      .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def_property_readonly("dtype", [](const Tensor& t) { return std::string(dtype_info(t.dtype()).name); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", &Tensor::dim)
      .def("numel", &Tensor::numel)
      .def("__len__", [](const Tensor& t) { return t.dim() ? t.size(0) : 0; })
      .def_property("requires_grad", &Tensor::requires_grad,
                    [](Tensor& t, bool on) { checking_arguments([&] { t.requires_grad_(on); }); })
      .def(
          "requires_grad_", [](Tensor& t, bool on) { return checking_arguments([&] { return t.requires_grad_(on); }); },
          py::arg("requires_grad") = true)
      .def_property_readonly("grad",
                             [](const Tensor& t) -> py::object {
                               const Tensor g = t.grad();
                               return g.defined() ? py::cast(g) : py::none();
                             })
      .def_property_readonly("is_leaf", &Tensor::is_leaf)
      .def(
          "backward",
          [](const Tensor& t, const py::object& grad, bool retain_graph) {
            const Tensor g = grad.is_none() ? Tensor() : to_tensor(grad);
            py::gil_scoped_release nogil;
            t.backward(g, retain_graph);
          },
          py::arg("gradient") = py::none(), py::arg("retain_graph") = false)
      .def("detach", &Tensor::detach)
      .def("fill_", [](const Tensor& t, double v) { return checking_arguments([&] { return t.fill_(v); }); })
      .def("zero_", [](const Tensor& t) { return checking_arguments([&] { return t.zero_(); }); })
      .def("copy_", [](const Tensor& t,
                       const py::object& src) { return checking_arguments([&] { return t.copy_(to_tensor(src)); }); })
      .def("retain_grad", &Tensor::retain_grad)
      .def(
          "numpy", [](const Tensor& t) { return to_numpy(t); }, "a NumPy array on the same memory")
      .def("item", [](const Tensor& t) { return checking_arguments([&] { return t.item(); }); })
      .def("tolist", [](const Tensor& t) { return to_numpy(t).attr("tolist")(); })
      .def("contiguous", &Tensor::contiguous)
      .def("clone", &Tensor::clone)
      .def(
          "to",
          [](const Tensor& t, const std::string& what) {
            return checking_arguments([&] {
              if (what == "cpu" || what == "meta" || what.rfind("cuda", 0) == 0) return t.to(Device::parse(what));
              return t.to(parse_dtype(what));
            });
          },
          py::arg("dtype_or_device"))
      .def("reshape", [](const Tensor& t, const Shape& s) { return checking_arguments([&] { return t.reshape(s); }); })
      .def("view", [](const Tensor& t, const Shape& s) { return checking_arguments([&] { return t.view(s); }); })
      .def("permute",
           [](const Tensor& t, const std::vector<std::int64_t>& d) {
             return checking_arguments([&] { return t.permute(d); });
           })
      .def("transpose", [](const Tensor& t, std::int64_t a,
                           std::int64_t b) { return checking_arguments([&] { return t.transpose(a, b); }); })
      .def(
          "flatten",
          [](const Tensor& t, std::int64_t a, std::int64_t b) {
            return checking_arguments([&] { return t.flatten(a, b); });
          },
          py::arg("start_dim") = 0, py::arg("end_dim") = -1)
      .def(
          "sum",
          [](const Tensor& t, const py::object& dim, bool keepdim) {
            return checking_arguments([&] { return dim.is_none() ? sum(t) : sum(t, dims_of(dim), keepdim); });
          },
          py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def(
          "mean",
          [](const Tensor& t, const py::object& dim, bool keepdim) {
            return checking_arguments([&] { return dim.is_none() ? mean(t) : mean(t, dims_of(dim), keepdim); });
          },
          py::arg("dim") = py::none(), py::arg("keepdim") = false)
      .def("__add__", [](const Tensor& a,
                         const py::object& b) { return checking_arguments([&] { return add(a, operand(a, b)); }); })
      .def("__radd__", [](const Tensor& a,
                          const py::object& b) { return checking_arguments([&] { return add(operand(a, b), a); }); })
      .def("__sub__", [](const Tensor& a,
                         const py::object& b) { return checking_arguments([&] { return sub(a, operand(a, b)); }); })
      .def("__rsub__", [](const Tensor& a,
                          const py::object& b) { return checking_arguments([&] { return sub(operand(a, b), a); }); })
      .def("__mul__", [](const Tensor& a,
                         const py::object& b) { return checking_arguments([&] { return mul(a, operand(a, b)); }); })
      .def("__rmul__", [](const Tensor& a,
                          const py::object& b) { return checking_arguments([&] { return mul(operand(a, b), a); }); })
      .def("__truediv__", [](const Tensor& a,
                             const py::object& b) { return checking_arguments([&] { return div(a, operand(a, b)); }); })
      .def("__rtruediv__",
           [](const Tensor& a, const py::object& b) {
             return checking_arguments([&] { return div(operand(a, b), a); });
           })
      .def("__matmul__",
           [](const Tensor& a, const py::object& b) {
             return checking_arguments([&] { return matmul(a, operand(a, b)); });
           })
      .def("__neg__", [](const Tensor& a) { return neg(a); })
      .def("__repr__", &Tensor::str)
      .def(
          "__dlpack__", [](const Tensor& t, const py::object&) { return to_dlpack(t); }, py::arg("stream") = py::none())
      .def("__dlpack_device__", [](const Tensor& t) {
        if (t.device() != kCPU) fail("python", "__dlpack_device__: only CPU tensors are exported");
        return py::make_tuple(static_cast<int>(kDLCPU), 0);
      });

  m.def(
      "tensor",
      [](const py::object& data, bool requires_grad, bool copy, const py::object& dtype) {
        Tensor t = to_tensor(data, copy);
        if (!dtype.is_none()) t = checking_arguments([&] { return t.to(parse_dtype(dtype.cast<std::string>())); });
        if (requires_grad) checking_arguments([&] { t.requires_grad_(true); });
        return t;
      },
      py::arg("data"), py::kw_only(), py::arg("requires_grad") = false, py::arg("copy") = false,
      py::arg("dtype") = py::none(),
      "A tensor on the memory of a NumPy array (or any CPU buffer, or a DLPack producer such as a PyTorch tensor), "
      "without a copy where the layout allows; copy=True always copies");
  m.def(
      "from_dlpack", [](const py::object& o) { return from_dlpack(o); }, py::arg("obj"));
  auto factory = [&m](const char* name, auto make) {
    m.def(
        name,
        [make](const Shape& shape, const std::string& dtype, bool requires_grad) {
          return checking_arguments(
              [&] { return make(shape, TensorOptions{.dtype = parse_dtype(dtype), .requires_grad = requires_grad}); });
        },
        py::arg("shape"), py::kw_only(), py::arg("dtype") = "float32", py::arg("requires_grad") = false);
  };
  factory("zeros", [](const Shape& s, TensorOptions o) { return zeros(s, o); });
  factory("ones", [](const Shape& s, TensorOptions o) { return ones(s, o); });
  factory("randn", [](const Shape& s, TensorOptions o) { return randn(s, o); });
  factory("rand", [](const Shape& s, TensorOptions o) { return rand(s, o); });
  m.def(
      "manual_seed", [](std::uint64_t seed) { manual_seed(seed); }, py::arg("seed"));

  // `with fovea.no_grad():` records no history
  py::class_<NoGradScope>(m, "no_grad")
      .def(py::init<>())
      .def("__enter__", [](NoGradScope& s) { s.guard.emplace(); })
      .def("__exit__", [](NoGradScope& s, const py::args&) { s.guard.reset(); });
}

}  // namespace fovea::python
