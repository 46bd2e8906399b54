// Batch normalisation (Ioffe and Szegedy 2015, https://arxiv.org/abs/1502.03167) and dropout.
//   y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over all dims but channels.
// Training uses biased batch variance for y and updates the running variance with the
// unbiased one: running = (1 - momentum) * running + momentum * batch (PyTorch's convention).
#include "fovea/ops/detail.h"
#include "fovea/ops/trace.h"

namespace fovea {

using detail::be;

namespace {

// (C) -> (1,C,1,...) to broadcast over x: (N,C,...)
Tensor per_channel(const Tensor& t, std::int64_t ndim) {
  Shape s(static_cast<size_t>(ndim), 1);
  s[1] = t.size(0);
  return t.reshape(s);
}

std::vector<std::int64_t> stat_dims(std::int64_t ndim) {
  std::vector<std::int64_t> d{0};
  for (std::int64_t i = 2; i < ndim; ++i) d.push_back(i);
  return d;
}

void update_running(const Tensor& running_mean, const Tensor& running_var, const Tensor& mean, const Tensor& var,
                    double momentum, std::int64_t n) {
  NoGradGuard ng;
  if (running_mean.defined()) running_mean.mul_(1 - momentum).add_(mean.detach(), momentum);
  if (running_var.defined())
    running_var.mul_(1 - momentum).add_(var.detach(), momentum * static_cast<double>(n) / static_cast<double>(n - 1));
}

// The formula written with ops: autograd differentiates it (f64 gradient checks, eval mode).
Tensor batch_norm_composed(const Tensor& x, const Tensor& mean, const Tensor& var, const Tensor& w, const Tensor& b,
                           double eps) {
  const auto nd = x.dim();
  Tensor y = (x - per_channel(mean, nd)) * per_channel(rsqrt(var + eps), nd);
  if (w.defined()) y = y * per_channel(w, nd);
  if (b.defined()) y = y + per_channel(b, nd);
  return y;
}

}  // namespace

static Tensor batch_norm_untraced(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                  const Tensor& weight, const Tensor& bias, const BatchNormOptions& o) {
  const char* op = "batch_norm";
  detail::check_defined(x, op, "input");
  if (x.dim() < 2) fail(op, "expected input (N,C,...) with at least 2 dims, got {}", shape_str(x.shape()));
  const std::int64_t C = x.size(1);
  for (const Tensor* t : {&running_mean, &running_var, &weight, &bias})
    if (t->defined() && (t->dim() != 1 || t->size(0) != C))
      fail(op, "per-channel tensor of shape {} does not match {} channels", shape_str(t->shape()), C);
  const bool use_batch = o.training || !running_mean.defined() || !running_var.defined();
  const std::int64_t n = x.numel() / std::max<std::int64_t>(C, 1);
  if (use_batch && n <= 1)
    fail(op, "expected more than 1 value per channel when training, got input {}", shape_str(x.shape()));

  if (x.dtype() != DType::f32) {
    if (!use_batch) return batch_norm_composed(x, running_mean, running_var, weight, bias, o.eps);
    auto dims = stat_dims(x.dim());
    Tensor mean_b = mean(x, dims), var_b = var(x, dims, false);
    if (o.training) update_running(running_mean, running_var, mean_b, var_b, o.momentum, n);
    return batch_norm_composed(x, mean_b, var_b, weight, bias, o.eps);
  }
  if (!use_batch && grad_enabled() && autograd::any_requires_grad({x, weight, bias}))
    return batch_norm_composed(x, running_mean, running_var, weight, bias, o.eps);

  Tensor xc = x.detach().contiguous();
  Tensor w = weight.defined() ? weight.detach().contiguous() : ones({C}, {.device = x.device()});
  Tensor b = bias.defined() ? bias.detach().contiguous() : zeros({C}, {.device = x.device()});
  Tensor mean_t = use_batch ? detail::new_empty(x, {C}) : running_mean.detach().contiguous();
  Tensor var_t = use_batch ? detail::new_empty(x, {C}) : running_var.detach().contiguous();
  Tensor y = detail::new_empty(x, x.shape());
  be(x).batch_norm_forward(xc, w, b, mean_t, var_t, y, o.eps, use_batch);
  if (!use_batch) return y;
  if (o.training) update_running(running_mean, running_var, mean_t, var_t, o.momentum, n);
  const bool gw = weight.defined() && weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
  return autograd::record(op, y, {x, weight, bias}, [xc, w, mean_t, var_t, eps = o.eps, gw, gb](const Tensor& g) {
    Tensor gx = detail::new_empty(xc, xc.shape());
    Tensor dw = detail::new_empty(w, w.shape()), db = detail::new_empty(w, w.shape());
    be(g).batch_norm_backward(g.contiguous(), xc, w, mean_t, var_t, gx, dw, db, eps);
    return std::vector<Tensor>{gx, gw ? dw : Tensor(), gb ? db : Tensor()};
  });
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, const BatchNormOptions& o) {
  Tensor y = batch_norm_untraced(x, running_mean, running_var, weight, bias, o);
  if (o.training) return y;  // exported graphs are in eval mode
  return trace::traced(y, "BatchNormalization", {x, weight, bias, running_mean, running_var}, {{"epsilon", o.eps}});
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& g) {
  if (p < 0 || p > 1) fail("dropout", "probability must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  if (p == 1) return x * 0.0;
  // inverted dropout: kept units are scaled by 1/(1-p) so evaluation needs no rescaling
  Tensor mask = detail::new_empty(x, x.shape());
  be(x).bernoulli(mask, 1 - p, g);
  return x * (mask / (1 - p));
}

// Local response normalisation across channels (Krizhevsky, Sutskever and Hinton 2012, section
// 3.3; https://pytorch.org/docs/1.13/generated/torch.nn.LocalResponseNorm.html):
//   b_c = a_c / (k + alpha / n * sum of a_c'^2 over c' in [c - n/2, c + (n-1)/2])^beta,
// with zeros beyond the channels. Composed of ops, so autograd differentiates it; the window
// mean is an average pooling over channels, as in PyTorch's own definition.
static Tensor local_response_norm_untraced(const Tensor& x, const LrnOptions& o) {
  const char* op = "local_response_norm";
  detail::check_defined(x, op, "input");
  detail::check_floating(x, op);
  if (x.dim() < 3) fail(op, "expected input (N,C,...) with at least 3 dims, got {}", shape_str(x.shape()));
  if (o.size < 1) fail(op, "size must be >= 1, got {}", o.size);
  // (N,C,...) -> (N,1,C,R): the channel window becomes a (size, 1) pooling window
  Tensor sq = square(x).reshape({x.size(0), 1, x.size(1), -1});
  sq = pad(sq, {0, 0, o.size / 2, (o.size - 1) / 2});
  Tensor window_mean = avg_pool2d(sq, {.kernel = Pair(o.size, 1), .stride = 1}).reshape(x.shape());
  return x / pow(window_mean * o.alpha + o.k, o.beta);
}

Tensor local_response_norm(const Tensor& x, const LrnOptions& o) {
  return trace::traced(local_response_norm_untraced(x, o), "LRN", {x},
                       {{"size", o.size}, {"alpha", o.alpha}, {"beta", o.beta}, {"bias", o.k}});
}

// Per-sample statistics over `dims` (kept), biased variance: (x - mean) / sqrt(var + eps).
static Tensor normalize_over(const Tensor& x, const std::vector<std::int64_t>& dims, double eps) {
  Tensor centred = x - mean(x, dims, true);
  return centred * rsqrt(mean(square(centred), dims, true) + eps);
}

Tensor layer_norm(const Tensor& x, std::int64_t normalized_dims, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  detail::check_defined(x, op, "input");
  detail::check_floating(x, op);
  if (normalized_dims < 1 || normalized_dims > x.dim())
    fail(op, "cannot normalise the last {} dims of input {}", normalized_dims, shape_str(x.shape()));
  std::vector<std::int64_t> dims;
  for (std::int64_t d = x.dim() - normalized_dims; d < x.dim(); ++d) dims.push_back(d);
  const Shape normalized(x.shape().end() - normalized_dims, x.shape().end());
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && t->shape() != normalized)
      fail(op, "weight and bias must have the normalised shape {}, got {}", shape_str(normalized),
           shape_str(t->shape()));
  Tensor y = normalize_over(x, dims, eps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "instance_norm";
  detail::check_defined(x, op, "input");
  detail::check_floating(x, op);
  if (x.dim() < 3) fail(op, "expected input (N,C,...) with at least 3 dims, got {}", shape_str(x.shape()));
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && (t->dim() != 1 || t->size(0) != x.size(1)))
      fail(op, "weight and bias must be ({}) for input {}, got {}", x.size(1), shape_str(x.shape()),
           shape_str(t->shape()));
  std::vector<std::int64_t> dims;
  for (std::int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Tensor y = normalize_over(x, dims, eps);
  if (weight.defined()) y = y * per_channel(weight, x.dim());
  if (bias.defined()) y = y + per_channel(bias, x.dim());
  return y;
}

}  // namespace fovea
