// Device -> backend table. The meta backend allocates nothing and computes nothing: ops on
// meta tensors only infer shapes (summaries of large networks answer instantly); what they
// would allocate can be counted (meta_memory.h).
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>
#include <string>

#include "fovea/backend/backend.h"
#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/meta_memory.h"
#include "fovea/core/threads.h"

namespace fovea::backend {

namespace {

class MetaBackend final : public Backend {
 public:
  std::shared_ptr<std::byte> allocate(std::size_t nbytes, Device) override { return meta_allocation(nbytes); }
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

// The cuda slot is empty unless register_backend fills it (the emulator's tests do); the real
// backend is loaded on demand by cuda_plugin().
std::array<Backend*, 3>& table() {
  init_threads_from_env();
  static MetaBackend meta;
  static std::array<Backend*, 3> t{cpu::cpu_backend(), nullptr, &meta};
  return t;
}

struct CudaPlugin {
  Backend* backend = nullptr;
  std::string why_not;  // when backend is null: what is missing
};

// libfovea_cuda.so (CMakeLists.txt), loaded once, the first time a cuda device is asked for:
// first beside this library, then by the loader's search path.
const CudaPlugin& cuda_plugin() {
  static const CudaPlugin plugin = [] {
    CudaPlugin p;
#ifdef FOVEA_HAS_CUDA
    constexpr const char* kName = "libfovea_cuda.so";
    void* handle = nullptr;
    Dl_info self{};
    if (dladdr(reinterpret_cast<void*>(&table), &self) && self.dli_fname) {
      const auto beside = std::filesystem::path(self.dli_fname).parent_path() / kName;
      handle = dlopen(beside.c_str(), RTLD_NOW | RTLD_LOCAL);
    }
    if (!handle) handle = dlopen(kName, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* e = dlerror();
      p.why_not = fmt::format("the CUDA backend {} cannot be loaded ({})", kName, e ? e : "not found");
      return p;
    }
    using Entry = Backend* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, "fovea_cuda_backend"));
    p.backend = entry ? entry() : nullptr;
    if (!entry) p.why_not = fmt::format("{} has no entry point fovea_cuda_backend", kName);
    else if (!p.backend) p.why_not = "the CUDA runtime finds no GPU on this machine";
#else
    p.why_not = "fovea was built without CUDA (FOVEA_CUDA)";
#endif
    return p;
  }();
  return plugin;
}

Backend* cuda_backend() {
  Backend* b = table()[static_cast<std::size_t>(DeviceType::cuda)];
  return b ? b : cuda_plugin().backend;
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

bool cuda_available() { return cuda_backend() != nullptr; }
CudaMath cuda_math() { return math(); }
void set_cuda_math(CudaMath m) { math() = m; }

Backend& backend_for(Device d) {
  Backend* b = d.type == DeviceType::cuda ? cuda_backend() : table()[static_cast<size_t>(d.type)];
  if (!b) fail("device", "{} is not available: {}", d.str(), cuda_plugin().why_not);
  return *b;
}

Backend& backend_for(const Tensor& t) { return backend_for(t.device()); }

}  // namespace fovea::backend
