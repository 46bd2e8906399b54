// Losses (PyTorch's definitions, https://pytorch.org/docs/stable/nn.html#loss-functions).
#include "fovea/ops/detail.h"

namespace fovea {

using detail::be;

namespace {

Tensor reduce_loss(const Tensor& l, Reduction r) {
  switch (r) {
    case Reduction::none: return l;
    case Reduction::sum: return sum(l);
    case Reduction::mean: return mean(l);
  }
  return l;
}

// (N,C,d1,...) -> (M,C) rows with C last; (N,C) passes through
Tensor class_rows(const Tensor& x) {
  if (x.dim() == 2) return x;
  std::vector<std::int64_t> perm{0};
  for (std::int64_t i = 2; i < x.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return x.permute(perm).reshape({-1, x.size(1)});
}

// Checks targets against the class count; returns the flat targets and the valid mask.
struct Targets {
  Tensor index;  // (M, 1) i64, ignored entries replaced by 0
  Tensor valid;  // (M) of the input's dtype: 1 where the target counts
};

Targets check_targets(const Tensor& input, const Tensor& target, std::int64_t ignore_index, const char* op) {
  detail::check_defined(target, op, "target");
  if (target.dtype() != DType::i64)
    fail(op, "expected class indices as i64 targets, got {}", dtype_name(target.dtype()));
  if (input.dim() < 2) fail(op, "expected input (N,C) or (N,C,d1,...), got {}", shape_str(input.shape()));
  Shape want = input.shape();
  want.erase(want.begin() + 1);
  if (target.shape() != want)
    fail(op, "target shape {} does not match input {} (expected {})", shape_str(target.shape()),
         shape_str(input.shape()), shape_str(want));
  const std::int64_t C = input.size(1);
  if (target.device().type != DeviceType::cpu) {
    // The targets stay on the GPU so that a training step never waits for it: ignored entries
    // become 0, and a target outside [0, C) is reported by the gather kernel at the next copy
    // from the device ("[gather] index 9 out of range for size 4", docs/gpu.md). Meta targets
    // have no values to check.
    detail::check_same_device(input, target, op);
    const Tensor flat = target.detach().reshape({-1, 1});
    const Tensor keep =
        ne(flat, full({1, 1}, static_cast<double>(ignore_index), {.dtype = DType::i64, .device = flat.device()}));
    return {where(keep, flat, zeros_like(flat)), keep.to(input.dtype()).view({flat.size(0)})};
  }
  Tensor t = target.to(kCPU).contiguous();
  std::vector<std::int64_t> idx = t.to_vector<std::int64_t>();
  std::vector<double> valid(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] == ignore_index) {
      idx[i] = 0;
      continue;
    }
    if (idx[i] < 0 || idx[i] >= C) fail(op, "target {} out of range for {} classes", idx[i], C);
    valid[i] = 1;
  }
  const auto M = static_cast<std::int64_t>(idx.size());
  return {from_vector(idx, {M, 1}, {.dtype = DType::i64, .device = input.device()}),
          from_vector(valid, {M}, {.dtype = input.dtype(), .device = input.device()})};
}

// picked[i] = x[i, index[i]]: x (M,C), index (M,1) -> (M)
Tensor pick(const Tensor& x, const Tensor& index) {
  const std::int64_t M = x.size(0);
  Tensor xc = x.detach().contiguous();
  Tensor out = detail::new_empty(x, {M, 1});
  be(x).gather_rows(xc, index, out);
  return autograd::record("gather", out.view({M}), {x}, [index, shape = x.shape()](const Tensor& g) {
    Tensor gx = zeros(shape, {.dtype = g.dtype(), .device = g.device()});
    be(g).scatter_add_rows(g.contiguous().view({shape[0], 1}), index, gx);
    return std::vector<Tensor>{gx};
  });
}

Tensor nll_rows(const Tensor& logp, const Targets& t, Reduction r, const Shape& target_shape) {
  Tensor l = neg(pick(class_rows(logp), t.index)) * t.valid;
  switch (r) {
    case Reduction::none: return l.reshape(target_shape);
    case Reduction::sum: return sum(l);
    case Reduction::mean: return sum(l) / sum(t.valid);  // over the targets that count
  }
  return l;
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& o) {
  detail::check_defined(log_probs, "nll_loss", "input");
  Targets t = check_targets(log_probs, target, o.ignore_index, "nll_loss");
  return nll_rows(log_probs, t, o.reduction, target.shape());
}

// With label smoothing e: (1 - e) * nll + e / C * (-sum_c log p_c), the smoothing term masked
// where the target is ignored and, under 'mean', averaged over the targets that count.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  const char* op = "cross_entropy";
  detail::check_defined(logits, op, "input");
  detail::check_floating(logits, op);
  if (o.label_smoothing < 0 || o.label_smoothing > 1)
    fail(op, "label_smoothing must be in [0, 1], got {}", o.label_smoothing);
  Targets t = check_targets(logits, target, o.ignore_index, op);
  Tensor logp = log_softmax(logits, 1);
  Tensor nll = nll_rows(logp, t, o.reduction, target.shape());
  if (o.label_smoothing == 0) return nll;
  const double e = o.label_smoothing;
  const auto C = static_cast<double>(logits.size(1));
  Tensor smooth = neg(sum(class_rows(logp), {1})) * t.valid;
  switch (o.reduction) {
    case Reduction::none: smooth = smooth.reshape(target.shape()); break;
    case Reduction::sum: smooth = sum(smooth); break;
    case Reduction::mean: smooth = sum(smooth) / sum(t.valid); break;
  }
  return nll * (1 - e) + smooth * (e / C);
}

Tensor mse_loss(const Tensor& x, const Tensor& target, Reduction r) {
  detail::check_defined(x, "mse_loss", "input");
  detail::check_defined(target, "mse_loss", "target");
  if (x.shape() != target.shape())
    fail("mse_loss", "input {} and target {} must have the same shape", shape_str(x.shape()),
         shape_str(target.shape()));
  return reduce_loss(square(x - target), r);
}

// Stable form: (1 - t) x + (1 + (pw - 1) t) (log1p(exp(-|x|)) + max(-x, 0))
Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, Reduction r, const Tensor& pos_weight) {
  const char* op = "binary_cross_entropy_with_logits";
  detail::check_defined(x, op, "input");
  detail::check_defined(target, op, "target");
  detail::check_floating(x, op);
  if (x.shape() != target.shape())
    fail(op, "input {} and target {} must have the same shape", shape_str(x.shape()), shape_str(target.shape()));
  Tensor softplus_neg = log1p(exp(neg(abs(x)))) + relu(neg(x));
  Tensor weight = pos_weight.defined() ? (pos_weight - 1.0) * target + 1.0 : Tensor();
  Tensor l = (1.0 - target) * x + (weight.defined() ? weight * softplus_neg : softplus_neg);
  return reduce_loss(l, r);
}

}  // namespace fovea
