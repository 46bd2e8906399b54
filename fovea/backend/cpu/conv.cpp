// Convolution through oneDNN. fovea tensors stay NCHW; each primitive works in the layout
// chosen for it (layout_for) and data is reordered in and out, as PyTorch's oneDNN path does.
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/dnnl_util.h"

namespace fovea::backend::cpu {

using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

namespace {

struct ConvEntry {
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd;
  dnnl::convolution_backward_weights bwd_w;
  bool has_bwd_data = false, has_bwd_w = false;
  std::mutex mu;                              // backward primitives are built on first use
  dnnl::memory::desc x_md, w_md, y_md, b_md;  // plain user layouts
  dims strides, dil, pad_l, pad_r;
};

dims weight_dims(const Shape& w, std::int64_t g) {
  if (g == 1) return dims(w.begin(), w.end());
  return {g, w[0] / g, w[1], w[2], w[3]};
}

enum class Kind { fwd, bwd_data, bwd_weights };

// oneDNN's blocked layouts pad channels to 8 or 16. Measured on AVX-512 (docs/backend.md):
// backward-data with 1-4 input channels (an image) is 2.7-2.9x faster in plain NCHW (GEMM +
// col2im); backward-weights with 5-15 input channels falls to an 8-blocked AVX2 kernel and is
// 2.2x faster in NHWC; everywhere else oneDNN's own choice wins. FOVEA_CONV_LAYOUT=any|nchw|nhwc
// forces one layout for every primitive (for benchmarks).
dnnl::memory::format_tag layout_for(Kind k, std::int64_t in_channels, std::int64_t groups) {
  static const char* forced = std::getenv("FOVEA_CONV_LAYOUT");
  if (forced && !std::strcmp(forced, "nchw")) return tag::nchw;
  if (forced && !std::strcmp(forced, "nhwc")) return tag::nhwc;
  if (forced && !std::strcmp(forced, "any")) return tag::any;
  if (groups != 1) return tag::any;
  if (k == Kind::bwd_data && in_channels <= 4) return tag::nchw;
  if (k == Kind::bwd_weights && in_channels > 4 && in_channels < 16) return tag::nhwc;
  return tag::any;
}

dnnl::memory::desc with_layout(const dnnl::memory::desc& md, dnnl::memory::format_tag t) {
  return dnnl::memory::desc(md.dims(), dnnl::memory::data_type::f32, t);
}

std::shared_ptr<ConvEntry> conv_entry(const Shape& x, const Shape& w, const Shape& y, bool bias,
                                      const Conv2dParams& p) {
  std::string key = fmt::format("conv{}{}{}b{}s{},{}p{},{},{},{}d{},{}g{}", shape_str(x), shape_str(w), shape_str(y),
                                bias, p.stride[0], p.stride[1], p.padding[0], p.padding[1], p.padding[2], p.padding[3],
                                p.dilation[0], p.dilation[1], p.groups);
  return cached<ConvEntry>(key, [&] {
    auto e = std::make_shared<ConvEntry>();
    const auto f32 = dnnl::memory::data_type::f32;
    e->x_md = dnnl::memory::desc(dims(x.begin(), x.end()), f32, tag::nchw);
    e->y_md = dnnl::memory::desc(dims(y.begin(), y.end()), f32, tag::nchw);
    e->w_md = dnnl::memory::desc(weight_dims(w, p.groups), f32, p.groups == 1 ? tag::oihw : tag::goihw);
    e->b_md = dnnl::memory::desc({w[0]}, f32, tag::x);
    e->strides = {p.stride[0], p.stride[1]};
    e->dil = {p.dilation[0] - 1, p.dilation[1] - 1};  // oneDNN counts dilation from 0
    e->pad_l = {p.padding[0], p.padding[2]};
    e->pad_r = {p.padding[1], p.padding[3]};
    const auto t = layout_for(Kind::fwd, x[1], p.groups);
    const auto xm = with_layout(e->x_md, t), wm = with_layout(e->w_md, tag::any), ym = with_layout(e->y_md, t);
    auto d =
        bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                               xm, wm, e->b_md, ym, e->strides, e->dil, e->pad_l, e->pad_r)
             : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                               xm, wm, ym, e->strides, e->dil, e->pad_l, e->pad_r);
    e->fwd_pd = dnnl::convolution_forward::primitive_desc(d, user_scratchpad(), engine());
    e->fwd = dnnl::convolution_forward(e->fwd_pd);
    return e;
  });
}

void ensure_bwd_data(ConvEntry& e, std::int64_t groups) {
  std::lock_guard<std::mutex> lock(e.mu);
  if (e.has_bwd_data) return;
  const auto t = layout_for(Kind::bwd_data, e.x_md.dims()[1], groups);
  dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, with_layout(e.x_md, t),
                                          with_layout(e.w_md, tag::any), with_layout(e.y_md, t), e.strides, e.dil,
                                          e.pad_l, e.pad_r);
  e.bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(d, user_scratchpad(), engine(), e.fwd_pd);
  e.bwd_data = dnnl::convolution_backward_data(e.bwd_data_pd);
  e.has_bwd_data = true;
}

void ensure_bwd_w(ConvEntry& e, bool bias, std::int64_t groups) {
  std::lock_guard<std::mutex> lock(e.mu);
  if (e.has_bwd_w) return;
  const auto t = layout_for(Kind::bwd_weights, e.x_md.dims()[1], groups);
  const auto xm = with_layout(e.x_md, t), wm = with_layout(e.w_md, tag::any), ym = with_layout(e.y_md, t);
  auto d = bias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, xm, wm, e.b_md, ym,
                                                           e.strides, e.dil, e.pad_l, e.pad_r)
                : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, xm, wm, ym, e.strides,
                                                           e.dil, e.pad_l, e.pad_r);
  e.bwd_w_pd = dnnl::convolution_backward_weights::primitive_desc(d, user_scratchpad(), engine(), e.fwd_pd);
  e.bwd_w = dnnl::convolution_backward_weights(e.bwd_w_pd);
  e.has_bwd_w = true;
}

void check_f32(const Tensor& t) {
  if (t.dtype() != DType::f32) fail("conv2d", "the CPU path supports f32, got {}", dtype_name(t.dtype()));
}

}  // namespace

// x: (N,C,H,W), w: (O,C/g,kH,kW), b: (O) -> y: (N,O,H',W'); all contiguous
void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y,
                                const Conv2dParams& p) {
  check_f32(x);
  ScratchScope scope;
  auto e = conv_entry(x.shape(), w.shape(), y.shape(), b != nullptr, p);
  auto xm = as_layout(make_memory(e->x_md, x), e->fwd_pd.src_desc(), true);
  auto wm = as_layout(make_memory(e->w_md, w), e->fwd_pd.weights_desc(), true);
  auto y_plain = make_memory(e->y_md, y);
  auto ym = as_layout(y_plain, e->fwd_pd.dst_desc(), false);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, ym}};
  if (b) args.emplace(DNNL_ARG_BIAS, make_memory(e->b_md, *b));
  execute(e->fwd, e->fwd_pd.scratchpad_desc(), args);
  if (ym != y_plain) reorder(ym, y_plain);
  stream().wait();
}

// gy: (N,O,H',W'), w -> gx: (N,C,H,W)
void CpuBackend::conv2d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv2dParams& p) {
  check_f32(gy);
  ScratchScope scope;
  auto e = conv_entry(gx.shape(), w.shape(), gy.shape(), false, p);
  ensure_bwd_data(*e, p.groups);
  auto gym = as_layout(make_memory(e->y_md, gy), e->bwd_data_pd.diff_dst_desc(), true);
  auto wm = as_layout(make_memory(e->w_md, w), e->bwd_data_pd.weights_desc(), true);
  auto gx_plain = make_memory(e->x_md, gx);
  auto gxm = as_layout(gx_plain, e->bwd_data_pd.diff_src_desc(), false);
  execute(e->bwd_data, e->bwd_data_pd.scratchpad_desc(),
          {{DNNL_ARG_DIFF_DST, gym}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, gxm}});
  if (gxm != gx_plain) reorder(gxm, gx_plain);
  stream().wait();
}

// gy, x -> gw: (O,C/g,kH,kW), gb: (O)
void CpuBackend::conv2d_backward_weights(const Tensor& gy, const Tensor& x, const Tensor& gw, const Tensor* gb,
                                         const Conv2dParams& p) {
  check_f32(gy);
  ScratchScope scope;
  auto e = conv_entry(x.shape(), gw.shape(), gy.shape(), gb != nullptr, p);
  ensure_bwd_w(*e, gb != nullptr, p.groups);
  auto xm = as_layout(make_memory(e->x_md, x), e->bwd_w_pd.src_desc(), true);
  auto gym = as_layout(make_memory(e->y_md, gy), e->bwd_w_pd.diff_dst_desc(), true);
  auto gw_plain = make_memory(e->w_md, gw);
  auto gwm = as_layout(gw_plain, e->bwd_w_pd.diff_weights_desc(), false);
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, xm}, {DNNL_ARG_DIFF_DST, gym}, {DNNL_ARG_DIFF_WEIGHTS, gwm}};
  if (gb) args.emplace(DNNL_ARG_DIFF_BIAS, make_memory(e->b_md, *gb));
  execute(e->bwd_w, e->bwd_w_pd.scratchpad_desc(), args);
  if (gwm != gw_plain) reorder(gwm, gw_plain);
  stream().wait();
}

}  // namespace fovea::backend::cpu
