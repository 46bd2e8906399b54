#pragma once
// Tensor: a shared handle to a strided view of a storage block (NCHW, row-major).
// Copies of a Tensor share the same data; use clone() for a deep copy.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fovea/core/device.h"
#include "fovea/core/dtype.h"
#include "fovea/core/error.h"
#include "fovea/core/shape.h"

namespace fovea {

namespace autograd {
struct Node;
}

struct Storage {
  std::shared_ptr<std::byte> data;  // null on the meta device
  std::size_t nbytes = 0;
  Device device;
};

struct TensorOptions {
  std::optional<DType> dtype = std::nullopt;    // f32 unless given (from_vector: the element type)
  std::optional<Device> device = std::nullopt;  // the default device (DefaultDeviceGuard) unless given
  bool requires_grad = false;
};

// The device factories use when TensorOptions names none: the CPU, or what the innermost
// DefaultDeviceGuard set on this thread. Building a module under DefaultDeviceGuard(kMeta)
// allocates nothing: `fovea summary vgg16` answers without 138 M parameters in memory.
Device default_device();
class DefaultDeviceGuard {
 public:
  explicit DefaultDeviceGuard(Device d);
  ~DefaultDeviceGuard();
  DefaultDeviceGuard(const DefaultDeviceGuard&) = delete;
  DefaultDeviceGuard& operator=(const DefaultDeviceGuard&) = delete;

 private:
  Device prev_;
};

struct TensorImpl;
class Tensor;
using TensorHook = std::function<Tensor(const Tensor&)>;  // returns a replacement or an undefined Tensor

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return static_cast<bool>(impl_); }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  // metadata
  const Shape& shape() const;
  const Shape& strides() const;
  std::int64_t offset() const;
  std::int64_t dim() const;
  std::int64_t size(std::int64_t d) const;
  std::int64_t numel() const;
  DType dtype() const;
  Device device() const;
  const std::shared_ptr<Storage>& storage() const;
  bool is_contiguous() const;
  bool is_meta() const { return device().type == DeviceType::meta; }

  // data access (CPU): pointer to the first element of this view
  void* raw_data() const;
  template <typename T>
  T* data() const {
    if (dtype_of<T>::value != dtype())
      fail("data", "tensor is {}, asked for {}", dtype_name(dtype()), dtype_name(dtype_of<T>::value));
    return static_cast<T*>(raw_data());
  }
  double item() const;  // one-element tensor as double
  template <typename T>
  std::vector<T> to_vector() const;  // contiguous copy of all elements

  // autograd
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  std::shared_ptr<autograd::Node> grad_fn() const;
  void backward(const Tensor& grad = {}, bool retain_graph = false) const;
  Tensor detach() const;                     // shares data, no history
  int register_hook(TensorHook hook) const;  // runs on this tensor's gradient; returns a handle
  void remove_hook(int handle) const;
  void retain_grad() const;  // keep .grad() on a non-leaf

  // views (no copy) and copies; all differentiable
  Tensor view(const Shape& s) const;
  Tensor reshape(const Shape& s) const;
  Tensor permute(const std::vector<std::int64_t>& dims) const;
  Tensor transpose(std::int64_t d0, std::int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1) const;
  Tensor select(std::int64_t dim, std::int64_t index) const;
  Tensor expand(const Shape& s) const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor flatten(std::int64_t start = 0, std::int64_t end = -1) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType t) const;
  Tensor to(Device d) const;

  // in-place updates of data; refused on tensors that require grad while grad mode is on
  const Tensor& zero_() const;
  const Tensor& fill_(double v) const;
  const Tensor& copy_(const Tensor& src) const;
  const Tensor& add_(const Tensor& o, double alpha = 1.0) const;
  const Tensor& mul_(const Tensor& o) const;
  const Tensor& mul_(double v) const;
  const Tensor& div_(const Tensor& o) const;
  const Tensor& addcmul_(const Tensor& a, const Tensor& b, double value = 1.0) const;
  const Tensor& addcdiv_(const Tensor& a, const Tensor& b, double value = 1.0) const;

  // Points this tensor (and every handle sharing it) at src's data, shape and dtype, keeping
  // its autograd identity: how modules move parameters between devices and dtypes.
  void set_data(const Tensor& src) const;

  std::string str() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  std::int64_t offset = 0;
  DType dtype = DType::f32;
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<autograd::Node> grad_fn;         // set on non-leaf tensors
  std::weak_ptr<autograd::Node> grad_accumulator;  // leaf tensors: the node that accumulates into grad
  std::vector<std::pair<int, TensorHook>> hooks;   // leaf tensors' hooks (non-leaf hooks live on grad_fn)
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Named tensors, the form of every state fovea writes to safetensors (weights, optimizer state).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// factories
Tensor empty(const Shape& s, TensorOptions o = {});
Tensor zeros(const Shape& s, TensorOptions o = {});
Tensor ones(const Shape& s, TensorOptions o = {});
Tensor full(const Shape& s, double v, TensorOptions o = {});
Tensor scalar_tensor(double v, DType dt = DType::f32, Device d = kCPU);
Tensor arange(double start, double end, double step = 1.0, TensorOptions o = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
// Copies host values into a new tensor of the given shape (dtype from T unless o says otherwise).
template <typename T>
Tensor from_vector(const std::vector<T>& v, const Shape& s, TensorOptions o = {});
// A view on memory the caller owns and keeps alive (no copy).
Tensor from_blob(void* data, const Shape& s, DType dt, std::shared_ptr<std::byte> owner = nullptr);
// A tensor viewing an existing storage (used by views and by the backends).
Tensor make_view(const Tensor& base, Shape shape, Shape strides, std::int64_t offset);

}  // namespace fovea
