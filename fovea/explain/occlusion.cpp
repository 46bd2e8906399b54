// Occlusion sensitivity (Zeiler and Fergus 2013, section 4.2): how much the class's score drops
// when a square of the input is covered.
#include <algorithm>
#include <cmath>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/detail.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

namespace {

constexpr const char* kOp = "occlusion";

// Window starts along one axis of length n: every `stride`, plus one flush with the end.
std::vector<std::int64_t> starts(std::int64_t n, std::int64_t window, std::int64_t stride) {
  std::vector<std::int64_t> s;
  for (std::int64_t i = 0; i + window <= n; i += stride) s.push_back(i);
  if (s.empty() || s.back() + window < n) s.push_back(n - window);
  return s;
}

// Scores of each row of logits (B,K) for class k
std::vector<float> class_scores(const Tensor& logits, std::int64_t k, Score s) {
  const Tensor col = logits.select(1, k);
  return (s == Score::sigmoid ? sigmoid(col) : col).to(DType::f32).to(kCPU).contiguous().to_vector<float>();
}

}  // namespace

Tensor occlusion(nn::Module& model, const Tensor& x, const Tensor& target, const ExplainOptions& o) {
  const Tensor t = detail::check_inputs(x, target, kOp);
  const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const std::int64_t win =
      o.occlusion_window ? o.occlusion_window : std::max<std::int64_t>(1, std::lround(std::min(h, w) / 7.0));
  const std::int64_t stride = o.occlusion_stride ? o.occlusion_stride : std::max<std::int64_t>(1, win / 2);
  if (win < 1 || win > std::min(h, w)) fail(kOp, "window {} must be in [1, {}]", win, std::min(h, w));
  if (stride < 1) fail(kOp, "stride must be >= 1, got {}", stride);
  if (o.forward_batch < 1) fail(kOp, "batch must be >= 1, got {}", o.forward_batch);
  const auto ys = starts(h, win, stride), xs = starts(w, win, stride);
  std::vector<std::pair<std::int64_t, std::int64_t>> windows;
  for (auto y : ys)
    for (auto xx : xs) windows.emplace_back(y, xx);

  detail::Scope scope(model);
  NoGradGuard ng;
  const auto tv = t.to(kCPU).to_vector<std::int64_t>();
  const Tensor xd = x.detach();
  const Tensor logits = model(xd);
  detail::class_score(logits, t, o.score, kOp);  // checks the logits' shape and the targets
  std::vector<float> out(static_cast<std::size_t>(n * h * w));
  for (std::int64_t i = 0; i < n; ++i) {
    const float base = class_scores(logits.slice(0, i, i + 1), tv[i], o.score)[0];
    std::vector<float> drop(static_cast<std::size_t>(h * w), 0.f), count(drop.size(), 0.f);
    const Tensor img = xd.slice(0, i, i + 1);  // (1,C,H,W)
    for (std::size_t b0 = 0; b0 < windows.size(); b0 += static_cast<std::size_t>(o.forward_batch)) {
      const std::size_t b1 = std::min(windows.size(), b0 + static_cast<std::size_t>(o.forward_batch));
      const auto nb = static_cast<std::int64_t>(b1 - b0);
      Tensor batch = img.expand({nb, x.size(1), h, w}).contiguous();
      for (std::size_t j = b0; j < b1; ++j) {
        const auto [y, xx] = windows[j];
        batch.select(0, static_cast<std::int64_t>(j - b0))
            .slice(1, y, y + win)
            .slice(2, xx, xx + win)
            .fill_(o.occlusion_fill);
      }
      const auto scores = class_scores(model(batch), tv[i], o.score);
      for (std::size_t j = b0; j < b1; ++j) {
        const auto [y, xx] = windows[j];
        const float d = base - scores[j - b0];
        for (std::int64_t yy = y; yy < y + win; ++yy)
          for (std::int64_t xw = xx; xw < xx + win; ++xw) {
            drop[static_cast<std::size_t>(yy * w + xw)] += d;
            count[static_cast<std::size_t>(yy * w + xw)] += 1;
          }
      }
    }
    for (std::size_t p = 0; p < drop.size(); ++p)
      out[static_cast<std::size_t>(i * h * w) + p] = count[p] > 0 ? drop[p] / count[p] : 0.f;
  }
  return from_vector<float>(out, {n, 1, h, w}).to(x.device());
}

}  // namespace fovea::explain
