// Nearest and bilinear resampling on CUDA (own kernels, resample.cu). The source taps are
// computed on the host by fovea/backend/interpolation.h, as on the CPU, so the indices and weights
// are the CPU backend's bit for bit; they are uploaded once per shape and kept on the device.
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/resample_kernels.h"
#include "fovea/backend/interpolation.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

constexpr const char* kOp = "upsample";

// x: (N,C,H,W) and y: (N,C,OH,OW), both contiguous, of one floating dtype on one device
cuda::ResamplePlan plan_for(const Tensor& x, const Tensor& y, const Resample2dParams& p) {
  if (x.dim() != 4 || y.dim() != 4 || x.size(0) != y.size(0) || x.size(1) != y.size(1))
    fail(kOp, "expected (N,C,H,W) and (N,C,H',W'), got {} and {}", shape_str(x.shape()), shape_str(y.shape()));
  cuda::require_dtype(x, {DType::f32, DType::f64}, kOp);
  if (y.dtype() != x.dtype())
    fail(kOp, "expected {} and {} of one dtype", dtype_name(x.dtype()), dtype_name(y.dtype()));
  if (!x.is_contiguous() || !y.is_contiguous()) fail(kOp, "expected contiguous tensors");
  if (y.device() != x.device()) fail(kOp, "expected tensors on one device");
  return {.bilinear = p.mode == ResampleMode::bilinear,
          .planes = x.size(0) * x.size(1),
          .H = x.size(2),
          .W = x.size(3),
          .OH = y.size(2),
          .OW = y.size(3)};
}

// The taps of rows then columns on device d: idx (OH+OW, 2) i64 [i0, i1], wts (OH+OW, 2) [l0, l1]
struct DeviceTaps {
  Tensor idx, wts;
};

template <typename T>
DeviceTaps upload_taps(const Resample2dParams& p, const cuda::ResamplePlan& plan, Device d) {
  std::vector<std::int64_t> idx;
  std::vector<T> wts;
  idx.reserve(static_cast<std::size_t>(2 * (plan.OH + plan.OW)));
  wts.reserve(idx.capacity());
  const std::int64_t in[2] = {plan.H, plan.W}, out[2] = {plan.OH, plan.OW};
  for (int axis = 0; axis < 2; ++axis) {
    const auto taps = p.mode == ResampleMode::nearest
                          ? interp::nearest_taps<T>(in[axis], out[axis], p.scale[axis])
                          : interp::linear_taps<T>(in[axis], out[axis], p.align_corners, p.scale[axis]);
    for (const interp::Tap<T>& t : taps) {
      idx.insert(idx.end(), {t.i0, t.i1});
      wts.insert(wts.end(), {t.l0, t.l1});
    }
  }
  const Shape s{plan.OH + plan.OW, 2};
  return {from_vector(idx, s, {.device = d}), from_vector(wts, s, {.device = d})};
}

// The taps for x's device, dtype, sizes and options: uploaded on first use (a synchronising host
// copy), then reused; beyond kCached sets, one is dropped for each new one.
DeviceTaps taps_for(const Tensor& x, const Resample2dParams& p, const cuda::ResamplePlan& plan) {
  using Key = std::tuple<int, int, int, bool, double, double, std::int64_t, std::int64_t, std::int64_t, std::int64_t>;
  constexpr std::size_t kCached = 256;
  static std::mutex mu;
  static std::map<Key, DeviceTaps> cache;
  const Key key{x.device().index,
                static_cast<int>(x.dtype()),
                static_cast<int>(p.mode),
                p.align_corners,
                p.scale[0],
                p.scale[1],
                plan.H,
                plan.W,
                plan.OH,
                plan.OW};
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  DeviceTaps taps =
      x.dtype() == DType::f64 ? upload_taps<double>(p, plan, x.device()) : upload_taps<float>(p, plan, x.device());
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= kCached) cache.erase(cache.begin());
  return cache.emplace(key, std::move(taps)).first->second;
}

}  // namespace

void CudaBackend::resample2d_forward(const Tensor& x, const Tensor& y, const Resample2dParams& p) {
  const cuda::ResamplePlan plan = plan_for(x, y, p);
  const DeviceTaps taps = taps_for(x, p, plan);
  cuda::resample2d_forward(cuda::code(x.dtype()), cuda::ptr(x), cuda::ptr(y),
                           static_cast<const std::int64_t*>(cuda::ptr(taps.idx)), cuda::ptr(taps.wts), plan,
                           cuda::stream_for(x));
  FOVEA_CUDA_LAUNCHED(kOp);
}

// gy: (N,C,OH,OW) -> gx: (N,C,H,W) (overwritten)
void CudaBackend::resample2d_backward(const Tensor& gy, const Tensor& gx, const Resample2dParams& p) {
  const cuda::ResamplePlan plan = plan_for(gx, gy, p);
  const DeviceTaps taps = taps_for(gx, p, plan);
  const cudaStream_t s = cuda::stream_for(gx);
  const auto nbytes = static_cast<std::size_t>(gx.numel()) * dtype_size(gx.dtype());
  FOVEA_CUDA_CHECK(cudaMemsetAsync(cuda::ptr(gx), 0, nbytes, s), kOp);
  cuda::resample2d_backward(cuda::code(gx.dtype()), cuda::ptr(gy), cuda::ptr(gx),
                            static_cast<const std::int64_t*>(cuda::ptr(taps.idx)), cuda::ptr(taps.wts), plan, s);
  FOVEA_CUDA_LAUNCHED(kOp);
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
