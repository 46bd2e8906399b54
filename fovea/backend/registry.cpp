// Device -> backend table. The meta backend allocates nothing and computes nothing: ops on
// meta tensors only infer shapes (summaries of large networks answer instantly).
#include <algorithm>
#include <array>
#include <memory>

#include "fovea/backend/backend.h"
#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/core/threads.h"
#ifdef FOVEA_HAS_CUDA
#include "fovea/backend/cuda/cuda_backend.h"
#endif

namespace fovea::backend {

namespace {

class MetaBackend final : public Backend {
 public:
  std::shared_ptr<std::byte> allocate(std::size_t, Device) override { return nullptr; }
  void copy(const Tensor&, const Tensor&) override {}
  void fill(const Tensor&, double) override {}
  void unary(UnaryOp, const Tensor&, const Tensor&) override {}
  void binary(BinaryOp, const Tensor&, const Tensor&, const Tensor&) override {}
  void where(const Tensor&, const Tensor&, const Tensor&, const Tensor&) override {}
  void reduce(ReduceOp, const Tensor&, const Tensor&) override {}
  void matmul(const Tensor&, const Tensor&, const Tensor*, const Tensor&) override {}
  void conv2d_forward(const Tensor&, const Tensor&, const Tensor*, const Tensor&, const Conv2dParams&) override {}
  void conv2d_backward_data(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&) override {}
  void conv2d_backward_weights(const Tensor&, const Tensor&, const Tensor&, const Tensor*,
                               const Conv2dParams&) override {}
  // the argmax indices have the output's shape (max_pool2d_with_indices returns them)
  Tensor pool2d_forward(const Tensor&, const Tensor& y, const Pool2dParams& p, bool training) override {
    if (training && p.kind == PoolKind::max) return empty(y.shape(), {.dtype = DType::i64, .device = kMeta});
    return empty({0}, {.device = kMeta});
  }
  void pool2d_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                       const Pool2dParams&) override {}
  void resample2d_forward(const Tensor&, const Tensor&, const Resample2dParams&) override {}
  void resample2d_backward(const Tensor&, const Tensor&, const Resample2dParams&) override {}
  void batch_norm_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                          double, bool) override {}
  void batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                           const Tensor&, const Tensor&, double) override {}
  void activation_forward(Act, const ActParams&, const Tensor&, const Tensor&) override {}
  void activation_backward(Act, const ActParams&, const Tensor&, const Tensor&, const Tensor&) override {}
  void softmax_forward(const Tensor&, const Tensor&, int, bool) override {}
  void softmax_backward(const Tensor&, const Tensor&, const Tensor&, int, bool) override {}
  void gather_rows(const Tensor&, const Tensor&, const Tensor&) override {}
  void scatter_add_rows(const Tensor&, const Tensor&, const Tensor&) override {}
  void uniform(const Tensor&, double, double, Generator&) override {}
  void normal(const Tensor&, double, double, Generator&) override {}
  void bernoulli(const Tensor&, double, Generator&) override {}
  void sgd_step(std::span<const Tensor>, std::span<const Tensor>, std::span<const Tensor>,
                std::span<const std::uint8_t>, const SgdStepParams&) override {}
  void adam_step(std::span<const Tensor>, std::span<const Tensor>, std::span<const Tensor>, std::span<const Tensor>,
                 std::span<const Tensor>, std::span<const double>, std::span<const double>,
                 const AdamStepParams&) override {}
};

std::array<Backend*, 3>& table() {
  init_threads_from_env();
  static MetaBackend meta;
#ifdef FOVEA_HAS_CUDA
  static std::array<Backend*, 3> t{cpu::cpu_backend(), cuda::cuda_backend(), &meta};
#else
  static std::array<Backend*, 3> t{cpu::cpu_backend(), nullptr, &meta};
#endif
  return t;
}

CudaMath& math() {
  static CudaMath m;
  return m;
}

}  // namespace

void Backend::synchronize(Device) {}
std::shared_ptr<std::byte> Backend::allocate_pinned(std::size_t nbytes) {
  return std::shared_ptr<std::byte>(new std::byte[std::max<std::size_t>(nbytes, 1)],
                                    std::default_delete<std::byte[]>());
}

std::shared_ptr<void> Backend::capture_graph(Device d, const std::function<void()>&) {
  fail("graph", "graphs record the work of a cuda device; {} has none", d.str());
}
void Backend::replay_graph(const std::shared_ptr<void>&, Device d) {
  fail("graph", "graphs record the work of a cuda device; {} has none", d.str());
}

void register_backend(DeviceType type, Backend* b) { table()[static_cast<size_t>(type)] = b; }

bool cuda_available() { return table()[static_cast<size_t>(DeviceType::cuda)] != nullptr; }
CudaMath cuda_math() { return math(); }
void set_cuda_math(CudaMath m) { math() = m; }

Backend& backend_for(Device d) {
  Backend* b = table()[static_cast<size_t>(d.type)];
  if (!b) {
#ifdef FOVEA_HAS_CUDA
    fail("device", "{} is not available: the CUDA runtime finds no GPU on this machine", d.str());
#else
    fail("device", "{} is not available in this build (fovea was built without CUDA: FOVEA_CUDA)", d.str());
#endif
  }
  return *b;
}

Backend& backend_for(const Tensor& t) { return backend_for(t.device()); }

}  // namespace fovea::backend
