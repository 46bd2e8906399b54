// Max and average pooling through oneDNN on plain NCHW.
// PyTorch's count_include_pad divisor excludes the extra bottom/right cells that ceil_mode
// adds; oneDNN counts them, so such windows are rescaled by a per-position factor.
#include <algorithm>

#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/dnnl_util.h"

namespace fovea::backend {

using namespace cpu;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;

namespace {

struct PoolEntry {
  dnnl::pooling_forward::primitive_desc fwd_pd;
  dnnl::pooling_forward fwd;
  dnnl::pooling_backward::primitive_desc bwd_pd;
  dnnl::pooling_backward bwd;
  bool has_bwd = false;
  dnnl::memory::desc x_md, y_md;
  dnnl::algorithm alg;
};

std::shared_ptr<PoolEntry> pool_entry(const Shape& x, const Shape& y, const Pool2dParams& p, bool training) {
  std::string key = fmt::format("pool{}{}{}k{},{}s{},{}p{},{},{},{}i{}t{}", shape_str(x), shape_str(y),
                                static_cast<int>(p.kind), p.kernel[0], p.kernel[1], p.stride[0], p.stride[1],
                                p.padding[0], p.padding[1], p.padding[2], p.padding[3], p.count_include_pad, training);
  return cached<PoolEntry>(key, [&] {
    auto e = std::make_shared<PoolEntry>();
    const auto f32 = dnnl::memory::data_type::f32;
    e->x_md = dnnl::memory::desc(dims(x.begin(), x.end()), f32, tag::nchw);
    e->y_md = dnnl::memory::desc(dims(y.begin(), y.end()), f32, tag::nchw);
    e->alg = p.kind == PoolKind::max ? dnnl::algorithm::pooling_max
             : p.count_include_pad   ? dnnl::algorithm::pooling_avg_include_padding
                                     : dnnl::algorithm::pooling_avg_exclude_padding;
    dnnl::pooling_forward::desc d(training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
                                  e->alg, e->x_md, e->y_md, {p.stride[0], p.stride[1]}, {p.kernel[0], p.kernel[1]},
                                  {p.padding[0], p.padding[2]}, {p.padding[1], p.padding[3]});
    e->fwd_pd = dnnl::pooling_forward::primitive_desc(d, engine());
    e->fwd = dnnl::pooling_forward(e->fwd_pd);
    if (training) {
      dnnl::pooling_backward::desc bd(e->alg, e->x_md, e->y_md, {p.stride[0], p.stride[1]}, {p.kernel[0], p.kernel[1]},
                                      {p.padding[0], p.padding[2]}, {p.padding[1], p.padding[3]});
      e->bwd_pd = dnnl::pooling_backward::primitive_desc(bd, engine(), e->fwd_pd);
      e->bwd = dnnl::pooling_backward(e->bwd_pd);
      e->has_bwd = true;
    }
    return e;
  });
}

// Factor kH*kW / PyTorch's divisor per output position, or an empty vector when all are 1.
std::vector<float> ceil_mode_factors(const Shape& x, const Shape& y, const Pool2dParams& p) {
  if (p.kind != PoolKind::avg || !p.count_include_pad) return {};
  if (p.padding[1] <= p.pad_begin_limit[0] && p.padding[3] <= p.pad_begin_limit[1]) return {};
  const std::int64_t H = x[2], W = x[3], OH = y[2], OW = y[3];
  std::vector<float> f(static_cast<size_t>(OH * OW));
  for (std::int64_t oh = 0; oh < OH; ++oh)
    for (std::int64_t ow = 0; ow < OW; ++ow) {
      std::int64_t hs = oh * p.stride[0] - p.padding[0], ws = ow * p.stride[1] - p.padding[2];
      std::int64_t he = std::min(hs + p.kernel[0], H + p.pad_begin_limit[0]);
      std::int64_t we = std::min(ws + p.kernel[1], W + p.pad_begin_limit[1]);
      f[oh * OW + ow] = static_cast<float>(p.kernel[0] * p.kernel[1]) / static_cast<float>((he - hs) * (we - ws));
    }
  return f;
}

// t: (N,C,OH,OW) contiguous, scaled in place per spatial position
void scale_positions(const Tensor& t, const std::vector<float>& f) {
  float* p = t.data<float>();
  const std::int64_t plane = static_cast<std::int64_t>(f.size()), planes = t.numel() / plane;
#pragma omp parallel for if (t.numel() > 32768)
  for (std::int64_t i = 0; i < planes; ++i)
    for (std::int64_t k = 0; k < plane; ++k) p[i * plane + k] *= f[k];
}

}  // namespace

Tensor CpuBackend::pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dParams& p, bool training) {
  if (x.dtype() != DType::f32) fail("pool2d", "the CPU path supports f32, got {}", dtype_name(x.dtype()));
  auto e = pool_entry(x.shape(), y.shape(), p, training);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, make_memory(e->x_md, x)}, {DNNL_ARG_DST, make_memory(e->y_md, y)}};
  Tensor ws;
  if (training && p.kind == PoolKind::max) {
    auto wmd = e->fwd_pd.workspace_desc();
    ws = empty({static_cast<std::int64_t>(wmd.get_size())}, {.dtype = DType::u8});
    args.emplace(DNNL_ARG_WORKSPACE, dnnl::memory(wmd, engine(), ws.raw_data()));
  }
  e->fwd.execute(stream(), args);
  stream().wait();
  auto f = ceil_mode_factors(x.shape(), y.shape(), p);
  if (!f.empty()) scale_positions(y, f);
  return ws;
}

void CpuBackend::pool2d_backward(const Tensor& gy, const Tensor& x, const Tensor& y, const Tensor& workspace,
                                 const Tensor& gx, const Pool2dParams& p) {
  (void)y;
  auto e = pool_entry(x.shape(), gy.shape(), p, true);
  Tensor g = gy;
  auto f = ceil_mode_factors(x.shape(), gy.shape(), p);
  if (!f.empty()) {
    g = gy.clone();
    scale_positions(g, f);
  }
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DIFF_DST, make_memory(e->y_md, g)},
                                             {DNNL_ARG_DIFF_SRC, make_memory(e->x_md, gx)}};
  if (p.kind == PoolKind::max) {
    if (!workspace.defined()) fail("max_pool2d", "backward needs the forward pass to run in training mode");
    args.emplace(DNNL_ARG_WORKSPACE, dnnl::memory(e->fwd_pd.workspace_desc(), engine(), workspace.raw_data()));
  }
  e->bwd.execute(stream(), args);
  stream().wait();
}

}  // namespace fovea::backend
