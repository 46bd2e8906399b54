// Reductions: the reduced dims are moved last and each row is reduced by the backend.
#include <algorithm>
#include <numeric>

#include "fovea/ops/detail.h"

namespace fovea {

using backend::ReduceOp;
using detail::be;

namespace detail {

Rows rows_along(const Tensor& x, int dim) {
  std::vector<std::int64_t> perm;
  Shape kept;
  for (std::int64_t i = 0; i < x.dim(); ++i)
    if (i != dim) {
      perm.push_back(i);
      kept.push_back(x.shape()[i]);
    }
  perm.push_back(dim);
  Tensor p = x.detach().permute(perm).contiguous();
  return {p.view({numel(kept), x.shape()[dim]}), kept};
}

}  // namespace detail

namespace {

std::vector<int> norm_dims(const Tensor& x, const std::vector<std::int64_t>& dims, const char* op) {
  std::vector<int> d;
  if (dims.empty()) {
    for (int i = 0; i < x.dim(); ++i) d.push_back(i);
    return d;
  }
  for (auto v : dims) {
    int w = wrap_dim(v, x.dim(), op);
    if (std::find(d.begin(), d.end(), w) != d.end()) fail(op, "dim {} given twice", v);
    d.push_back(w);
  }
  std::sort(d.begin(), d.end());
  return d;
}

Shape reduced_shape(const Tensor& x, const std::vector<int>& d, bool keepdim) {
  Shape s;
  for (int i = 0; i < x.dim(); ++i) {
    bool red = std::find(d.begin(), d.end(), i) != d.end();
    if (!red) s.push_back(x.shape()[i]);
    else if (keepdim) s.push_back(1);
  }
  return s;
}

// Raw (no history) reduction of x over dims d.
Tensor reduce_raw(ReduceOp op, const Tensor& x, const std::vector<int>& d, bool keepdim, const char* name) {
  std::vector<std::int64_t> perm;
  std::int64_t M = 1, R = 1;
  for (int i = 0; i < x.dim(); ++i)
    if (std::find(d.begin(), d.end(), i) == d.end()) {
      perm.push_back(i);
      M *= x.shape()[i];
    }
  for (int i : d) {
    perm.push_back(i);
    R *= x.shape()[i];
  }
  if (R == 0 && (op != ReduceOp::sum && op != ReduceOp::prod)) fail(name, "cannot reduce over an empty dimension");
  Tensor p = x.detach().permute(perm).contiguous().view({M, R});
  const bool arg = op == ReduceOp::argmax || op == ReduceOp::argmin;
  Tensor out = detail::new_empty(x, {M}, arg ? std::optional(DType::i64) : std::nullopt);
  be(x).reduce(op, p, out);
  return out.view(reduced_shape(x, d, keepdim));
}

// Shape of the reduction with kept singleton dims, to broadcast a gradient back.
Tensor expand_back(const Tensor& g, const Shape& x_shape, const std::vector<int>& d) {
  Shape ks = x_shape;
  for (int i : d) ks[i] = 1;
  return g.reshape(ks).expand(x_shape);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  if (x.dtype() == DType::u8) return sum(x.to(DType::i64), dims, keepdim);  // integers sum as i64, as PyTorch
  auto d = norm_dims(x, dims, "sum");
  Tensor out = reduce_raw(ReduceOp::sum, x, d, keepdim, "sum");
  return autograd::record("sum", out, {x},
                          [xs = x.shape(), d](const Tensor& g) { return std::vector<Tensor>{expand_back(g, xs, d)}; });
}
Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_floating(x, "mean");
  auto d = norm_dims(x, dims, "mean");
  std::int64_t R = 1;
  for (int i : d) R *= x.shape()[i];
  return sum(x, dims, keepdim) / static_cast<double>(R);
}
Tensor mean(const Tensor& x) { return mean(x, {}, false); }

namespace {

// max/min over all elements: the gradient is shared equally among ties (PyTorch's amax rule)
Tensor extreme_all(const Tensor& x, bool is_max, const char* name) {
  std::vector<int> d;
  for (int i = 0; i < x.dim(); ++i) d.push_back(i);
  Tensor out = reduce_raw(is_max ? ReduceOp::max : ReduceOp::min, x, d, false, name);
  return autograd::record(name, out, {x}, [xd = x.detach(), od = out.detach()](const Tensor& g) {
    Tensor mask = eq(xd, od).to(xd.dtype());
    return std::vector<Tensor>{mul(mask, g / sum(mask))};
  });
}

// max/min over one dim: the gradient goes to the index the forward picked
Tensor extreme_dim(const Tensor& x, std::int64_t dim, bool keepdim, bool is_max, const char* name) {
  int dd = wrap_dim(dim, x.dim(), name);
  auto rows = detail::rows_along(x, dd);
  Tensor idx = detail::new_empty(x, {rows.rows.size(0), 1}, DType::i64);
  be(x).reduce(is_max ? ReduceOp::argmax : ReduceOp::argmin, rows.rows, idx.view({rows.rows.size(0)}));
  Tensor vals = detail::new_empty(x, {rows.rows.size(0), 1});
  be(x).gather_rows(rows.rows, idx, vals);
  Shape ks = x.shape();
  ks[dd] = 1;
  Tensor out = keepdim ? vals.view(ks) : vals.view(rows.kept);
  return autograd::record(name, out, {x}, [xs = x.shape(), dd, idx, R = rows.rows.size(1)](const Tensor& g) {
    Tensor gr = zeros({idx.size(0), R}, {.dtype = g.dtype(), .device = g.device()});
    be(g).scatter_add_rows(g.contiguous().view({idx.size(0), 1}), idx, gr);
    // rows are x with `dd` moved last: move it back
    Shape ps;
    std::vector<std::int64_t> inv(xs.size());
    for (size_t i = 0, k = 0; i < xs.size(); ++i)
      if (static_cast<int>(i) != dd) ps.push_back(xs[i]), inv[i] = static_cast<std::int64_t>(k++);
    ps.push_back(xs[dd]);
    inv[dd] = static_cast<std::int64_t>(xs.size()) - 1;
    return std::vector<Tensor>{gr.view(ps).permute(inv)};
  });
}

Tensor arg_dim(const Tensor& x, std::int64_t dim, bool keepdim, ReduceOp op, const char* name) {
  int dd = wrap_dim(dim, x.dim(), name);
  return reduce_raw(op, x, {dd}, keepdim, name);
}

}  // namespace

Tensor max(const Tensor& x) { return extreme_all(x, true, "max"); }
Tensor min(const Tensor& x) { return extreme_all(x, false, "min"); }
Tensor max(const Tensor& x, std::int64_t dim, bool keepdim) { return extreme_dim(x, dim, keepdim, true, "max"); }
Tensor min(const Tensor& x, std::int64_t dim, bool keepdim) { return extreme_dim(x, dim, keepdim, false, "min"); }
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_dim(x, dim, keepdim, ReduceOp::argmax, "argmax");
}
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim) {
  return arg_dim(x, dim, keepdim, ReduceOp::argmin, "argmin");
}

Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims, bool unbiased, bool keepdim) {
  detail::check_floating(x, "var");
  auto d = norm_dims(x, dims, "var");
  std::int64_t R = 1;
  for (int i : d) R *= x.shape()[i];
  Tensor c = x - mean(x, dims, true);
  return sum(square(c), dims, keepdim) / static_cast<double>(unbiased ? R - 1 : R);
}

}  // namespace fovea
