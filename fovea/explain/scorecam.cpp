// Score-CAM (Wang et al. 2020, "Score-CAM: Score-Weighted Visual Explanations for CNNs"): each
// channel of the layer, up-sampled and scaled to [0, 1], masks the input; the channel's weight is
// the class's softmax probability on the masked input, as in the authors' code.
#include <algorithm>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/detail.h"
#include "fovea/ops/ops.h"

namespace fovea::explain::detail {

Tensor score_cam_from(nn::Module& model, const Tensor& x, const Tensor& target, const Tensor& act,
                      const ExplainOptions& o) {
  constexpr const char* op = "score_cam";
  if (act.dim() != 4 || act.size(0) != x.size(0))
    fail(op, "layer activations {} must be (N,K,h,w) for {} images", shape_str(act.shape()), x.size(0));
  NoGradGuard ng;
  const std::int64_t n = x.size(0), k = act.size(1);
  const Pair size{x.size(2), x.size(3)};
  const auto t = target.to(kCPU).to_vector<std::int64_t>();
  std::vector<Tensor> cams;
  for (std::int64_t i = 0; i < n; ++i) {
    const Tensor a = act.select(0, i).detach();               // (K,h,w)
    const Tensor img = x.detach().select(0, i).unsqueeze(0);  // (1,C,H,W)
    std::vector<float> weight(static_cast<std::size_t>(k), 0.f);
    // forward_batch channels at a time: each up-sampled and scaled to [0, 1] masks the image;
    // flat channels weigh 0 and are not run
    for (std::int64_t c0 = 0; c0 < k; c0 += o.forward_batch) {
      const std::int64_t c1 = std::min(k, c0 + o.forward_batch);
      const Tensor up = upsample(a.slice(0, c0, c1).unsqueeze(0),
                                 {.size = size, .mode = UpsampleMode::bilinear, .align_corners = false})
                            .view({c1 - c0, 1, size.h, size.w});
      const auto lo = min(up.flatten(1), 1).to(DType::f32).to(kCPU).to_vector<float>();
      const auto hi = max(up.flatten(1), 1).to(DType::f32).to(kCPU).to_vector<float>();
      std::vector<std::int64_t> live;  // channels (from c0) with a non-flat mask
      for (std::int64_t c = 0; c < c1 - c0; ++c)
        if (hi[static_cast<std::size_t>(c)] > lo[static_cast<std::size_t>(c)]) live.push_back(c);
      if (live.empty()) continue;
      const Tensor masks = scale01(up);
      std::vector<Tensor> batch;
      for (auto c : live) batch.push_back(masks.select(0, c));
      const Tensor logits = model(mul(img, stack(batch, 0)));  // (B,C,H,W) in
      if (logits.dim() != 2 || t[i] < 0 || t[i] >= logits.size(1))
        fail(op, "the model must return logits (B,K) with class {} among them, got {}", t[i],
             shape_str(logits.shape()));
      const auto p = softmax(logits, 1).select(1, t[i]).to(DType::f32).to(kCPU).contiguous().to_vector<float>();
      for (std::size_t j = 0; j < live.size(); ++j) weight[static_cast<std::size_t>(c0 + live[j])] = p[j];
    }
    const Tensor w = from_vector<float>(weight, {k, 1, 1}).to(a.dtype()).to(a.device());
    cams.push_back(relu(sum(mul(w, a), {0}, true)));  // (1,h,w)
  }
  return finish_cam(stack(cams, 0), size);
}

}  // namespace fovea::explain::detail
