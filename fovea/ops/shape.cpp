// Views (no copy: new shape/strides over the same storage), copies, cat/stack/pad.
#include <algorithm>
#include <numeric>
#include <optional>

#include "fovea/ops/detail.h"
#include "fovea/ops/trace.h"

namespace fovea {

using detail::be;

namespace {

Shape infer_shape(const Shape& s, std::int64_t n, const char* op) {
  Shape r = s;
  std::int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < r.size(); ++i) {
    if (r[i] == -1) {
      if (infer >= 0) fail(op, "only one dimension can be -1 in {}", shape_str(s));
      infer = static_cast<int>(i);
    } else if (r[i] < 0) {
      fail(op, "invalid dimension {} in {}", r[i], shape_str(s));
    } else {
      known *= r[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || n % known) fail(op, "shape {} is invalid for {} elements", shape_str(s), n);
    r[infer] = n / known;
  }
  if (numel(r) != n) fail(op, "shape {} is invalid for input of {} elements", shape_str(s), n);
  return r;
}

// Strides for viewing (shape, strides) as new_shape without copying, if possible
// (the chunking rule of PyTorch's computeStride).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& ns) {
  Shape out(ns.size(), 0);
  if (shape.empty()) {
    std::fill(out.begin(), out.end(), 1);
    return out;
  }
  if (numel(shape) == 0) return contiguous_strides(ns);
  int vd = static_cast<int>(ns.size()) - 1;
  std::int64_t chunk_base = strides.back(), tensor_n = 1, view_n = 1;
  for (int td = static_cast<int>(shape.size()) - 1; td >= 0; --td) {
    tensor_n *= shape[td];
    if (td == 0 || (shape[td - 1] != 1 && strides[td - 1] != tensor_n * chunk_base)) {
      while (vd >= 0 && (view_n < tensor_n || ns[vd] == 1)) {
        out[vd] = view_n * chunk_base;
        view_n *= ns[vd];
        vd--;
      }
      if (view_n != tensor_n) return std::nullopt;
      if (td > 0) {
        chunk_base = strides[td - 1];
        tensor_n = 1;
        view_n = 1;
      }
    }
  }
  if (vd != -1) return std::nullopt;
  return out;
}

Tensor reshape_record(const Tensor& self, Tensor out, const char* op) {
  return autograd::record(op, out, {self},
                          [s = self.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(s)}; });
}

}  // namespace

Tensor Tensor::view(const Shape& s) const {
  Shape ns = infer_shape(s, numel(), "view");
  auto st = view_strides(shape(), strides(), ns);
  if (!st)
    fail("view", "cannot view {} with strides {} as {} without a copy; use reshape()", shape_str(shape()),
         shape_str(strides()), shape_str(ns));
  return trace::traced(reshape_record(*this, make_view(*this, ns, *st, offset()), "view"), "Reshape", {*this});
}

Tensor Tensor::reshape(const Shape& s) const {
  Shape ns = infer_shape(s, numel(), "reshape");
  if (ns == shape()) return *this;
  if (auto st = view_strides(shape(), strides(), ns))
    return trace::traced(reshape_record(*this, make_view(*this, ns, *st, offset()), "reshape"), "Reshape", {*this});
  return contiguous().view(ns);
}

Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const {
  if (static_cast<std::int64_t>(dims.size()) != dim())
    fail("permute", "got {} dims for a {}-D tensor", dims.size(), dim());
  Shape ns(dims.size()), nst(dims.size());
  std::vector<bool> used(dims.size());
  std::vector<std::int64_t> inv(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    int d = wrap_dim(dims[i], dim(), "permute");
    if (used[d]) fail("permute", "dim {} repeated", d);
    used[d] = true;
    ns[i] = shape()[d];
    nst[i] = strides()[d];
    inv[d] = static_cast<std::int64_t>(i);
  }
  Tensor out = make_view(*this, ns, nst, offset());
  std::vector<std::int64_t> perm(inv.size());
  for (size_t i = 0; i < inv.size(); ++i) perm[static_cast<size_t>(inv[i])] = static_cast<std::int64_t>(i);
  return trace::traced(
      autograd::record("permute", out, {*this}, [inv](const Tensor& g) { return std::vector<Tensor>{g.permute(inv)}; }),
      "Transpose", {*this}, {{"perm", perm}});
}

Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const {
  std::vector<std::int64_t> p(static_cast<size_t>(dim()));
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[wrap_dim(d0, dim(), "transpose")], p[wrap_dim(d1, dim(), "transpose")]);
  return permute(p);
}

Tensor Tensor::slice(std::int64_t d, std::int64_t start, std::int64_t end, std::int64_t step) const {
  int dd = wrap_dim(d, dim(), "slice");
  if (step < 1) fail("slice", "step must be >= 1, got {}", step);
  const std::int64_t n = shape()[dd];
  auto clampi = [n](std::int64_t v) { return std::clamp<std::int64_t>(v < 0 ? v + n : v, 0, n); };
  start = clampi(start);
  end = std::max(clampi(end), start);
  Shape ns = shape(), nst = strides();
  ns[dd] = (end - start + step - 1) / step;
  nst[dd] *= step;
  Tensor out = make_view(*this, ns, nst, offset() + start * strides()[dd]);
  Tensor y = autograd::record("slice", out, {*this}, [s = shape(), dd, start, end, step](const Tensor& g) {
    Tensor gx = zeros(s, {.dtype = g.dtype(), .device = g.device()});
    Tensor region = gx.slice(dd, start, end, step);
    be(g).copy(g, region);
    return std::vector<Tensor>{gx};
  });
  return trace::traced(y, "Slice", {*this},
                       {{"axes", std::vector<std::int64_t>{dd}},
                        {"starts", std::vector<std::int64_t>{start}},
                        {"ends", std::vector<std::int64_t>{end}},
                        {"steps", std::vector<std::int64_t>{step}}});
}

Tensor Tensor::select(std::int64_t d, std::int64_t index) const {
  int dd = wrap_dim(d, dim(), "select");
  const std::int64_t n = shape()[dd];
  if (index < -n || index >= n) fail("select", "index {} out of range for dim {} of size {}", index, dd, n);
  if (index < 0) index += n;
  return slice(dd, index, index + 1).squeeze(dd);
}

Tensor Tensor::expand(const Shape& s) const {
  if (static_cast<std::int64_t>(s.size()) < dim())
    fail("expand", "cannot expand {} to fewer dims {}", shape_str(shape()), shape_str(s));
  Shape ns = s;
  const auto lead = static_cast<std::int64_t>(s.size()) - dim();
  for (std::int64_t i = 0; i < dim(); ++i) {
    std::int64_t want = s[lead + i], have = shape()[i];
    if (want == -1) want = have;
    if (have != want && have != 1) fail("expand", "cannot expand {} to {}", shape_str(shape()), shape_str(s));
    ns[lead + i] = want;
  }
  if (ns == shape()) return *this;
  Tensor out = detail::expand_raw(*this, ns);
  return autograd::record("expand", out, {*this},
                          [s0 = shape()](const Tensor& g) { return std::vector<Tensor>{sum_to(g, s0)}; });
}

Tensor Tensor::squeeze(std::int64_t d) const {
  if (dim() == 0) return *this;
  int dd = wrap_dim(d, dim(), "squeeze");
  if (shape()[dd] != 1) return *this;
  Shape ns = shape(), nst = strides();
  ns.erase(ns.begin() + dd);
  nst.erase(nst.begin() + dd);
  return reshape_record(*this, make_view(*this, ns, nst, offset()), "squeeze");
}

Tensor Tensor::unsqueeze(std::int64_t d) const {
  int dd = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape ns = shape(), nst = strides();
  std::int64_t st = dd < dim() ? strides()[dd] * shape()[dd] : 1;
  ns.insert(ns.begin() + dd, 1);
  nst.insert(nst.begin() + dd, st);
  return reshape_record(*this, make_view(*this, ns, nst, offset()), "unsqueeze");
}

Tensor Tensor::flatten(std::int64_t start, std::int64_t end) const {
  if (dim() == 0) return reshape({1});
  int s = wrap_dim(start, dim(), "flatten"), e = wrap_dim(end, dim(), "flatten");
  if (s > e) fail("flatten", "start dim {} is after end dim {}", start, end);
  Shape ns(shape().begin(), shape().begin() + s);
  std::int64_t m = 1;
  for (int i = s; i <= e; ++i) m *= shape()[i];
  ns.push_back(m);
  ns.insert(ns.end(), shape().begin() + e + 1, shape().end());
  return reshape(ns);
}

Tensor flatten(const Tensor& x, std::int64_t start, std::int64_t end) { return x.flatten(start, end); }

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = detail::new_empty(*this, shape());
  be(*this).copy(*this, out);
  return trace::traced(autograd::record("clone", out, {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; }),
                       "Identity", {*this});
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = detail::new_empty(*this, shape(), t);
  be(*this).copy(*this, out);
  if (!is_floating(t)) return out;
  return autograd::record("to", out, {*this},
                          [t0 = dtype()](const Tensor& g) { return std::vector<Tensor>{g.to(t0)}; });
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  if (is_meta()) fail("to", "a meta tensor {} has no data to copy to {}", shape_str(shape()), d.str());
  Tensor out = empty(shape(), {.dtype = dtype(), .device = d});
  // the non-CPU side does the transfer (a CUDA backend copies host <-> device)
  be(device().type == DeviceType::cpu ? out : *this).copy(*this, out);
  return autograd::record("to", out, {*this},
                          [d0 = device()](const Tensor& g) { return std::vector<Tensor>{g.to(d0)}; });
}

static Tensor cat_untraced(const std::vector<Tensor>& xs, std::int64_t dim) {
  if (xs.empty()) fail("cat", "expected a non-empty list of tensors");
  const Tensor& f = xs[0];
  int d = wrap_dim(dim, f.dim(), "cat");
  Shape s = f.shape();
  s[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    detail::check_defined(t, "cat", "tensor");
    if (t.dim() != f.dim()) fail("cat", "tensor {} has {} dims, expected {}", i, t.dim(), f.dim());
    detail::check_same_dtype(f, t, "cat");
    detail::check_same_device(f, t, "cat");
    for (std::int64_t k = 0; k < f.dim(); ++k)
      if (k != d && t.shape()[k] != f.shape()[k])
        fail("cat", "tensor {} has shape {}, expected {} except in dim {}", i, shape_str(t.shape()),
             shape_str(f.shape()), d);
    s[d] += t.shape()[d];
  }
  Tensor out = detail::new_empty(f, s);
  std::vector<std::int64_t> sizes;
  std::int64_t at = 0;
  for (auto& t : xs) {
    std::int64_t n = t.shape()[d];
    be(f).copy(t, out.detach().slice(d, at, at + n));
    sizes.push_back(n);
    at += n;
  }
  return autograd::record("cat", out, xs, [d, sizes](const Tensor& g) {
    std::vector<Tensor> gs;
    std::int64_t a = 0;
    for (auto n : sizes) {
      gs.push_back(g.slice(d, a, a + n));
      a += n;
    }
    return gs;
  });
}

Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim) {
  Tensor y = cat_untraced(xs, dim);
  return trace::traced(y, "Concat", xs, {{"axis", static_cast<std::int64_t>(wrap_dim(dim, y.dim(), "cat"))}});
}

Tensor stack(const std::vector<Tensor>& xs, std::int64_t dim) {
  if (xs.empty()) fail("stack", "expected a non-empty list of tensors");
  int d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> u;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i].shape() != xs[0].shape())
      fail("stack", "tensor {} has shape {}, expected {}", i, shape_str(xs[i].shape()), shape_str(xs[0].shape()));
    u.push_back(xs[i].unsqueeze(d));
  }
  return cat(u, d);
}

static Tensor pad_untraced(const Tensor& x, const std::vector<std::int64_t>& pads, double value) {
  detail::check_defined(x, "pad", "input");
  if (pads.size() % 2 || static_cast<std::int64_t>(pads.size()) > 2 * x.dim())
    fail("pad", "expected an even number of pads, at most 2 per dim ({} dims), got {}", x.dim(), pads.size());
  // negative pads crop, as in PyTorch
  Tensor src = x;
  Shape s = x.shape();
  std::vector<std::array<std::int64_t, 2>> where_(static_cast<size_t>(x.dim()), {0, 0});
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    int d = static_cast<int>(x.dim()) - 1 - static_cast<int>(i);
    std::int64_t lo = pads[2 * i], hi = pads[2 * i + 1];
    if (lo < 0 || hi < 0) {
      src = src.slice(d, std::max<std::int64_t>(-lo, 0), src.shape()[d] - std::max<std::int64_t>(-hi, 0));
      lo = std::max<std::int64_t>(lo, 0);
      hi = std::max<std::int64_t>(hi, 0);
    }
    s[d] = src.shape()[d] + lo + hi;
    where_[d] = {lo, lo + src.shape()[d]};
  }
  Tensor out = full(s, value, {.dtype = x.dtype(), .device = x.device()});
  auto region = [where_](Tensor t) {
    for (size_t d = 0; d < where_.size(); ++d)
      if (where_[d][1] > 0) t = t.slice(static_cast<std::int64_t>(d), where_[d][0], where_[d][1]);
    return t;
  };
  be(x).copy(src.detach(), region(out.detach()));
  return autograd::record("pad", out, {src}, [region](const Tensor& g) { return std::vector<Tensor>{region(g)}; });
}

Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pads, double value) {
  return trace::traced(pad_untraced(x, pads, value), "Pad", {x}, {{"pads", pads}, {"value", value}});
}

}  // namespace fovea
