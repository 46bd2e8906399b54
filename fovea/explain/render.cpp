// Explanation pictures and files (render.h).
#include "fovea/explain/render.h"

#include <algorithm>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/image.h"
#include "fovea/io/safetensors.h"
#include "fovea/ops/ops.h"

namespace fovea::explain {

namespace {

// [0, 1] floats (C,H,W) -> u8
Tensor to_u8(const Tensor& v01) {
  const auto v = v01.to(DType::f32).to(kCPU).contiguous().to_vector<float>();
  std::vector<std::uint8_t> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(),
                 [](float f) { return static_cast<std::uint8_t>(std::lround(std::clamp(f, 0.f, 1.f) * 255)); });
  return from_vector<std::uint8_t>(out, v01.shape());
}

std::string title(Method m) {
  switch (m) {
    case Method::vanilla: return "vanilla";
    case Method::guided: return "guided backprop";
    case Method::deconvnet: return "deconvnet";
    case Method::gradcam: return "Grad-CAM";
    case Method::guided_gradcam: return "guided Grad-CAM";
    case Method::smoothgrad: return "SmoothGrad";
    case Method::occlusion: return "occlusion";
    case Method::gradcam_pp: return "Grad-CAM++";
    case Method::scorecam: return "Score-CAM";
    case Method::layercam: return "LayerCAM";
    case Method::integrated_gradients: return "integrated gradients";
  }
  return "?";
}

}  // namespace

Tensor display_image(const Tensor& x, std::int64_t i) {
  if (x.dim() != 4) fail("explain", "expected an input (N,C,H,W), got {}", shape_str(x.shape()));
  NoGradGuard ng;
  Tensor img = x.detach().select(0, i);
  if (img.size(0) != 1 && img.size(0) != 3) img = mean(img, {0}, true);
  return to_u8(normalize01(img));
}

Tensor render_map(const Explanation& e, Method m, std::int64_t i, const Tensor& image, const RenderOptions& o) {
  auto it = e.maps.find(m);
  if (it == e.maps.end()) fail("explain", "the explanation has no {} map", method_name(m));
  NoGradGuard ng;
  const Tensor map = it->second.select(0, i);  // (C,H,W)
  if (!is_gradient_map(m)) {
    const Tensor v = m == Method::occlusion ? normalize01(map) : map;
    return overlay(image, v, o.colormap, o.alpha);
  }
  if (o.reduce == Reduce::none) {
    const Tensor signed01 = normalize_signed(map);
    return to_u8(map.size(0) == 3 ? signed01
                                  : signed01.select(0, 0).unsqueeze(0).expand({3, map.size(1), map.size(2)}));
  }
  const Tensor r = reduce_channels(map.unsqueeze(0), o.reduce).select(0, 0);  // (1,H,W)
  return apply_colormap(normalize01(r), o.colormap);
}

Tensor figure(const std::vector<FigureRow>& rows, const std::vector<Method>& methods, const RenderOptions& o) {
  if (rows.empty()) fail("explain", "a figure needs at least one image");
  std::int64_t h = 0, w = 0;
  for (auto& r : rows) {
    if (!r.e) fail("explain", "figure row '{}' has no explanation", r.label);
    h = std::max(h, r.image.size(1));
    w = std::max(w, r.image.size(2));
  }
  const int scale = std::max<int>(1, static_cast<int>((o.min_cell + std::min(h, w) - 1) / std::min(h, w)));
  const int cw = static_cast<int>(w) * scale, ch = static_cast<int>(h) * scale;
  const int pad = 8, ts = 1, line = kGlyphRows * ts + 4;
  std::vector<std::string> titles{"input"};
  for (auto m : methods) titles.push_back(title(m));
  int col = cw;
  for (auto& t : titles) col = std::max(col, text_px(t, ts));
  const int ncol = static_cast<int>(titles.size());
  const int width = pad + ncol * (col + pad);
  const int height = pad + line + static_cast<int>(rows.size()) * (line + ch + pad);
  Canvas c(width, height);
  const Rgb ink{30, 30, 30};
  for (int j = 0; j < ncol; ++j)
    c.text(pad + j * (col + pad) + (col - text_px(titles[j], ts)) / 2, pad, titles[j], ts, ink);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const int y = pad + line + static_cast<int>(r) * (line + ch + pad);
    c.text(pad, y, rows[r].label, ts, ink);
    auto cell = [&](int j, const Tensor& img) { c.blit(pad + j * (col + pad) + (col - cw) / 2, y + line, img, scale); };
    cell(0, rows[r].image);
    for (int j = 1; j < ncol; ++j) cell(j, render_map(*rows[r].e, methods[j - 1], rows[r].index, rows[r].image, o));
  }
  return c.tensor();
}

void save_maps(const std::string& path, const Explanation& e) {
  NamedTensors out;
  for (auto& [m, t] : e.maps) out.emplace_back(method_name(m), t.detach().to(kCPU).contiguous());
  out.emplace_back("logits", e.logits.to(kCPU).contiguous());
  out.emplace_back("target", e.target.to(kCPU).contiguous());
  io::save_safetensors(path, out, {{"layer", e.layer}});
}

}  // namespace fovea::explain
