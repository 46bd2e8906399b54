#include "fovea/core/tensor.h"

#include <cmath>
#include <cstring>
#include <ostream>
#include <sstream>

#include "fovea/autograd/grad_mode.h"
#include "fovea/autograd/node.h"
#include "fovea/backend/backend.h"
#include "fovea/ops/ops.h"

namespace fovea {

namespace {
const TensorImpl& checked(const std::shared_ptr<TensorImpl>& p) {
  if (!p) fail("tensor", "use of an undefined tensor");
  return *p;
}
int g_next_hook_id = 1;
}  // namespace

const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Shape& Tensor::strides() const { return checked(impl_).strides; }
std::int64_t Tensor::offset() const { return checked(impl_).offset; }
std::int64_t Tensor::dim() const { return static_cast<std::int64_t>(shape().size()); }
std::int64_t Tensor::size(std::int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
std::int64_t Tensor::numel() const { return fovea::numel(shape()); }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device; }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(impl_).storage; }

bool Tensor::is_contiguous() const {
  const auto& s = shape();
  const auto& st = strides();
  std::int64_t expect = 1;
  for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
    if (s[i] != 1 && st[i] != expect) return false;
    expect *= s[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  auto& st = storage();
  if (!st->data) fail("data", "tensor on {} has no data", st->device.str());
  return st->data.get() + offset() * static_cast<std::int64_t>(dtype_size(dtype()));
}

double Tensor::item() const {
  if (numel() != 1) fail("item", "expected a one-element tensor, got shape {}", shape_str(shape()));
  Tensor c = to(kCPU);
  if (c.dtype() == DType::f16 || c.dtype() == DType::bf16) c = c.to(DType::f32);
  return FOVEA_DISPATCH(c.dtype(), "item", [&] { return static_cast<double>(*static_cast<scalar_t*>(c.raw_data())); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(kCPU).to(dtype_of<T>::value).contiguous();
  std::vector<T> v(static_cast<size_t>(c.numel()));
  if (!v.empty()) std::memcpy(v.data(), c.raw_data(), v.size() * sizeof(T));
  return v;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<std::uint8_t> Tensor::to_vector<std::uint8_t>() const;

// ---- autograd accessors ----
bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }
Tensor& Tensor::requires_grad_(bool on) {
  checked(impl_);
  if (impl_->grad_fn && !on) fail("requires_grad_", "cannot turn off requires_grad on a non-leaf tensor; use detach()");
  if (on && !is_floating(dtype()))
    fail("requires_grad_", "only floating tensors can require grad, got {}", dtype_name(dtype()));
  impl_->requires_grad = on;
  return *this;
}
bool Tensor::is_leaf() const { return !checked(impl_).grad_fn; }
Tensor Tensor::grad() const { return checked(impl_).grad; }
void Tensor::set_grad(const Tensor& g) const {
  checked(impl_);
  if (g.defined() && g.shape() != shape())
    fail("set_grad", "gradient shape {} does not match tensor shape {}", shape_str(g.shape()), shape_str(shape()));
  impl_->grad = g;
}
std::shared_ptr<autograd::Node> Tensor::grad_fn() const { return checked(impl_).grad_fn; }
void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  autograd::run_backward({*this}, {grad}, retain_graph);
}

// A new tensor (no history) viewing `storage`.
static Tensor view_of(std::shared_ptr<Storage> storage, Shape shape, Shape strides, std::int64_t offset, DType dt) {
  auto i = std::make_shared<TensorImpl>();
  i->storage = std::move(storage);
  i->shape = std::move(shape);
  i->strides = std::move(strides);
  i->offset = offset;
  i->dtype = dt;
  return Tensor(i);
}

Tensor Tensor::detach() const {
  const auto& s = checked(impl_);
  return view_of(s.storage, s.shape, s.strides, s.offset, s.dtype);
}

int Tensor::register_hook(TensorHook hook) const {
  if (!requires_grad()) fail("register_hook", "cannot register a hook on a tensor that does not require grad");
  int id = g_next_hook_id++;
  if (impl_->grad_fn) impl_->grad_fn->pre_hooks.emplace_back(id, std::move(hook));
  else impl_->hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_hook(int handle) const {
  auto drop = [handle](auto& v) { std::erase_if(v, [handle](auto& p) { return p.first == handle; }); };
  checked(impl_);
  drop(impl_->hooks);
  if (impl_->grad_fn) drop(impl_->grad_fn->pre_hooks);
}

void Tensor::retain_grad() const {
  if (is_leaf() || impl_->retains_grad) return;
  impl_->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  register_hook([weak](const Tensor& g) {
    if (auto p = weak.lock()) p->grad = p->grad.defined() ? add(p->grad, g) : g.clone();
    return Tensor();
  });
}

void Tensor::set_data(const Tensor& src) const {
  checked(impl_);
  auto* s = src.impl();
  impl_->storage = s->storage;
  impl_->shape = s->shape;
  impl_->strides = s->strides;
  impl_->offset = s->offset;
  impl_->dtype = s->dtype;
}

// ---- in-place updates (no history) ----
static void check_inplace(const Tensor& t, const char* op) {
  if (grad_enabled() && t.requires_grad())
    fail(op, "in-place update of a tensor that requires grad while grad mode is on; use NoGradGuard");
}

const Tensor& Tensor::zero_() const { return fill_(0.0); }
const Tensor& Tensor::fill_(double v) const {
  check_inplace(*this, "fill_");
  backend::backend_for(*this).fill(*this, v);
  return *this;
}
const Tensor& Tensor::copy_(const Tensor& src) const {
  check_inplace(*this, "copy_");
  Tensor s = src;
  if (s.shape() != shape()) s = src.expand(shape());
  if (s.device() != device()) s = s.to(device());
  backend::backend_for(*this).copy(s, *this);
  return *this;
}
static const Tensor& binary_inplace(const Tensor& self, const Tensor& o, backend::BinaryOp op, const char* name) {
  check_inplace(self, name);
  Shape out = broadcast_shapes(self.shape(), o.shape(), name);
  if (out != self.shape())
    fail(name, "cannot broadcast {} into the in-place target {}", shape_str(o.shape()), shape_str(self.shape()));
  Tensor oo = o.dtype() == self.dtype() ? o : o.to(self.dtype());
  backend::backend_for(self).binary(op, self, oo.expand(self.shape()), self);
  return self;
}
const Tensor& Tensor::add_(const Tensor& o, double alpha) const {
  check_inplace(*this, "add_");
  NoGradGuard g;
  return binary_inplace(*this, alpha == 1.0 ? o : mul(o, scalar_like(alpha, o)), backend::BinaryOp::add, "add_");
}
const Tensor& Tensor::mul_(const Tensor& o) const { return binary_inplace(*this, o, backend::BinaryOp::mul, "mul_"); }
const Tensor& Tensor::mul_(double v) const {
  return binary_inplace(*this, scalar_like(v, *this), backend::BinaryOp::mul, "mul_");
}
const Tensor& Tensor::div_(const Tensor& o) const { return binary_inplace(*this, o, backend::BinaryOp::div, "div_"); }
const Tensor& Tensor::addcmul_(const Tensor& a, const Tensor& b, double value) const {
  check_inplace(*this, "addcmul_");
  NoGradGuard g;
  return add_(mul(a, b), value);
}
const Tensor& Tensor::addcdiv_(const Tensor& a, const Tensor& b, double value) const {
  check_inplace(*this, "addcdiv_");
  NoGradGuard g;
  return add_(div(a, b), value);
}

// ---- factories ----
namespace {
thread_local Device g_default_device = kCPU;
}
Device default_device() { return g_default_device; }
DefaultDeviceGuard::DefaultDeviceGuard(Device d) : prev_(g_default_device) { g_default_device = d; }
DefaultDeviceGuard::~DefaultDeviceGuard() { g_default_device = prev_; }

Tensor make_view(const Tensor& base, Shape shape, Shape strides, std::int64_t offset) {
  return view_of(base.storage(), std::move(shape), std::move(strides), offset, base.dtype());
}

Tensor empty(const Shape& s, TensorOptions o) {
  const DType dt = o.dtype.value_or(DType::f32);
  std::int64_t bytes = static_cast<std::int64_t>(dtype_size(dt));
  for (auto d : s) {
    if (d < 0) fail("empty", "negative dimension in shape {}", shape_str(s));
    if (__builtin_mul_overflow(bytes, d, &bytes))
      fail("empty", "shape {} of {} needs more than 2^63 bytes", shape_str(s), dtype_name(dt));
  }
  auto st = std::make_shared<Storage>();
  const Device dev = o.device.value_or(default_device());
  st->device = dev;
  st->nbytes = static_cast<std::size_t>(bytes);
  st->data = backend::backend_for(dev).allocate(st->nbytes, dev);  // meta: null (counted by a trace)
  Tensor t = view_of(std::move(st), s, contiguous_strides(s), 0, dt);
  if (o.requires_grad) t.requires_grad_();
  return t;
}

Tensor full(const Shape& s, double v, TensorOptions o) {
  bool rg = o.requires_grad;
  o.requires_grad = false;
  Tensor t = empty(s, o);
  t.fill_(v);
  if (rg) t.requires_grad_();
  return t;
}
Tensor zeros(const Shape& s, TensorOptions o) { return full(s, 0.0, o); }
Tensor ones(const Shape& s, TensorOptions o) { return full(s, 1.0, o); }
Tensor scalar_tensor(double v, DType dt, Device d) { return full({}, v, {.dtype = dt, .device = d}); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }

Tensor arange(double start, double end, double step, TensorOptions o) {
  if (step == 0) fail("arange", "step must be non-zero");
  auto n = static_cast<std::int64_t>(std::max(0.0, std::ceil((end - start) / step)));
  std::vector<double> v(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i) * step;
  return from_vector(v, {n}, o);
}

template <typename T>
Tensor from_vector(const std::vector<T>& v, const Shape& s, TensorOptions o) {
  if (static_cast<std::int64_t>(v.size()) != numel(s))
    fail("from_vector", "{} values given for shape {} ({} elements)", v.size(), shape_str(s), numel(s));
  Tensor host = from_blob(const_cast<T*>(v.data()), s, dtype_of<T>::value);
  Tensor t = empty(s, {.dtype = o.dtype.value_or(dtype_of<T>::value), .device = o.device});
  if (!t.is_meta()) backend::backend_for(t).copy(host.to(t.device()), t);
  if (o.requires_grad) t.requires_grad_();
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector<std::int64_t>(const std::vector<std::int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector<std::uint8_t>(const std::vector<std::uint8_t>&, const Shape&, TensorOptions);

Tensor from_blob(void* data, const Shape& s, DType dt, std::shared_ptr<std::byte> owner) {
  auto st = std::make_shared<Storage>();
  st->device = kCPU;
  st->nbytes = static_cast<std::size_t>(numel(s)) * dtype_size(dt);
  st->data = owner ? std::shared_ptr<std::byte>(owner, static_cast<std::byte*>(data))
                   : std::shared_ptr<std::byte>(static_cast<std::byte*>(data), [](std::byte*) {});
  return view_of(std::move(st), s, contiguous_strides(s), 0, dt);
}

// ---- printing (PyTorch-like) ----
static void print_rec(std::ostream& os, const Tensor& t, const std::vector<double>& v, size_t& pos, int d, int indent) {
  auto n = t.shape()[d];
  os << '[';
  const std::int64_t edge = 3;
  bool cut = n > 2 * edge + 1 && t.numel() > 1000;
  for (std::int64_t i = 0; i < n; ++i) {
    if (cut && i == edge) {
      std::int64_t skip = n - 2 * edge;
      std::int64_t inner = 1;
      for (size_t k = d + 1; k < t.shape().size(); ++k) inner *= t.shape()[k];
      pos += static_cast<size_t>(skip * inner);
      i += skip - 1;
      os << "...";
      if (i + 1 < n) os << (d + 1 == t.dim() ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    if (d + 1 == t.dim()) {
      double x = v[pos++];
      if (is_floating(t.dtype())) os << fmt::format("{:.4f}", x);
      else os << static_cast<std::int64_t>(x);
    } else {
      print_rec(os, t, v, pos, d + 1, indent + 1);
    }
    if (i + 1 < n) os << (d + 1 == t.dim() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << ']';
}

std::string Tensor::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  os << "tensor(";
  if (t.is_meta()) {
    os << "..., size=" << shape_str(t.shape());
  } else if (t.dim() == 0) {
    double x = t.item();
    if (is_floating(t.dtype())) os << fmt::format("{:.4f}", x);
    else os << static_cast<std::int64_t>(x);
  } else {
    auto v = t.to_vector<double>();
    size_t pos = 0;
    print_rec(os, t, v, pos, 0, 7);
  }
  if (t.dtype() != DType::f32) os << ", dtype=" << dtype_name(t.dtype());
  if (t.device() != kCPU) os << ", device=" << t.device().str();
  if (t.grad_fn()) os << ", grad_fn=" << t.grad_fn()->name;
  else if (t.requires_grad()) os << ", requires_grad=True";
  return os << ')';
}

}  // namespace fovea
