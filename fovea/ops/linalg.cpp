// Matrix products. Backward: dA = dC B^T, dB = A^T dC (summed over broadcast batch dims).
#include "fovea/ops/detail.h"
#include "fovea/ops/trace.h"

namespace fovea {

using detail::be;

namespace {

// a: (..., M, K) -> (B', M, K) with B' = 1 when a has no batch beyond the broadcast batch
Tensor as_batched(const Tensor& t, const Shape& batch, std::int64_t B) {
  Shape full = batch;
  full.push_back(t.size(-2));
  full.push_back(t.size(-1));
  std::int64_t own = 1;
  for (std::int64_t i = 0; i + 2 < t.dim(); ++i) own *= t.shape()[i];
  if (own == 1) return t.reshape({1, t.size(-2), t.size(-1)});
  Tensor e = detail::expand_raw(t, full).contiguous();
  return e.view({B, t.size(-2), t.size(-1)});
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "matmul", "first operand");
  detail::check_defined(b, "matmul", "second operand");
  if (a.dim() == 0 || b.dim() == 0) fail("matmul", "both operands need at least 1 dimension");
  detail::check_same_device(a, b, "matmul");
  detail::check_same_dtype(a, b, "matmul");
  // 1-D operands as in NumPy: (K) @ (K, N) and (M, K) @ (K)
  if (a.dim() == 1 && b.dim() == 1) return matmul(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(1)).squeeze(-1);
  const std::int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  if (b.size(-2) != K)
    fail("matmul", "shapes {} and {} cannot be multiplied ({} != {})", shape_str(a.shape()), shape_str(b.shape()), K,
         b.size(-2));
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ab, bb, "matmul");
  const std::int64_t B = numel(batch);
  Tensor a3 = as_batched(a.detach(), batch, B), b3 = as_batched(b.detach(), batch, B);
  Tensor out = detail::new_empty(a, {B, M, N});
  be(a).matmul(a3, b3, nullptr, out);
  Shape os = batch;
  os.push_back(M);
  os.push_back(N);
  out = out.view(os);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return autograd::record("matmul", out, {a, b}, [ad = a.detach(), bd = b.detach(), ga, gb](const Tensor& g) {
    return std::vector<Tensor>{ga ? sum_to(matmul(g, bd.transpose(-1, -2)), ad.shape()) : Tensor(),
                               gb ? sum_to(matmul(ad.transpose(-1, -2), g), bd.shape()) : Tensor()};
  });
}

// x: (..., in), w: (out, in), b: (out) -> (..., out)
static Tensor linear_untraced(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_defined(x, "linear", "input");
  detail::check_defined(w, "linear", "weight");
  if (w.dim() != 2) fail("linear", "expected a 2-D weight (out, in), got {}", shape_str(w.shape()));
  if (x.dim() < 1 || x.size(-1) != w.size(1))
    fail("linear", "input {} does not match weight {}: expected last dim {}", shape_str(x.shape()),
         shape_str(w.shape()), w.size(1));
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    fail("linear", "bias {} does not match {} outputs", shape_str(b.shape()), w.size(0));
  detail::check_same_dtype(x, w, "linear");
  const std::int64_t in = w.size(1), outf = w.size(0), R = x.numel() / std::max<std::int64_t>(in, 1);
  Tensor x3 = x.detach().contiguous().view({1, R, in});
  Tensor wt = w.detach().t().unsqueeze(0);  // (1, in, out) strided view
  Tensor out = detail::new_empty(x, {1, R, outf});
  Tensor bd = b.defined() ? b.detach() : Tensor();
  be(x).matmul(x3, wt, b.defined() ? &bd : nullptr, out);
  Shape os = x.shape();
  os.back() = outf;
  out = out.view(os);
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gbias = b.defined() && b.requires_grad();
  return autograd::record(
      "linear", out, {x, w, b},
      [x2 = x3.view({R, in}), wd = w.detach(), xs = x.shape(), R, outf, gx, gw, gbias](const Tensor& g) {
        Tensor g2 = g.contiguous().view({R, outf});
        return std::vector<Tensor>{gx ? matmul(g2, wd).view(xs) : Tensor(), gw ? matmul(g2.t(), x2) : Tensor(),
                                   gbias ? sum(g2, {0}) : Tensor()};
      });
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (detail::autocast_bf16(x, w)) {  // bf16 compute, f32 result and bias
    Tensor y = linear_untraced(x.to(DType::bf16), w.to(DType::bf16), Tensor()).to(DType::f32);
    return b.defined() ? y + b : y;
  }
  return trace::traced(linear_untraced(x, w, b), "Gemm", {x, w, b}, {{"transB", std::int64_t{1}}});
}

}  // namespace fovea
