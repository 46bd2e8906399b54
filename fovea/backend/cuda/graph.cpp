// CUDA graphs on the backend's stream (fovea/backend/graph.h): stream capture with the
// device's allocations routed to a pool of the graph's own (allocator.h), instantiation, replay.
#include <fmt/format.h>

#include <string>

#include "fovea/backend/cuda/allocator.h"
#include "fovea/backend/cuda/cuda_backend.h"
#include "fovea/backend/cuda/cuda_util.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

struct Recording {
  int device = 0;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  std::shared_ptr<GraphPool> pool;

  Recording() = default;
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;
  ~Recording() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    allocator().close(pool);
  }
};

constexpr const char* kRules =
    "the captured work may not copy between host and device or wait for the device (item(), .to(cpu), a "
    "loss's target on the host, dropout's host-drawn masks), and needs one eager run first (cuDNN's algorithm "
    "search, lazily made buffers)";

}  // namespace

std::shared_ptr<void> CudaBackend::capture_graph(Device d, const std::function<void()>& f) {
  const int device = d.index;
  cudaStream_t st = device_stream(device);
  FOVEA_CUDA_CHECK(cudaStreamSynchronize(st), "graph");
  auto rec = std::make_shared<Recording>();
  rec->device = device;
  rec->pool = allocator().begin_capture(device);
  // Relaxed: a cache miss may still cudaMalloc while capturing
  cudaError_t e = cudaStreamBeginCapture(st, cudaStreamCaptureModeRelaxed);
  if (e != cudaSuccess) {
    allocator().end_capture(device);
    check(e, "graph");
  }
  std::string failure;  // what f threw, when it did (often the refused call itself)
  try {
    f();
  } catch (const std::exception& ex) {
    failure = ex.what();
  } catch (...) {
    failure = "an exception";
  }
  e = cudaStreamEndCapture(st, &rec->graph);
  allocator().end_capture(device);
  if (failure.empty() && e == cudaSuccess) {
    check(cudaGraphInstantiate(&rec->exec, rec->graph, 0), "graph");
    return rec;
  }
  cudaGetLastError();
  if (failure.empty()) failure = fmt::format("{}: {}", cudaGetErrorName(e), cudaGetErrorString(e));
  fail("graph", "capturing on cuda:{} failed ({}): {}", device, failure, kRules);
}

void CudaBackend::replay_graph(const std::shared_ptr<void>& graph, Device d) {
  const auto* rec = static_cast<const Recording*>(graph.get());
  if (!rec) fail("graph", "replay of an empty graph");
  if (rec->device != d.index) fail("graph", "the graph was captured on cuda:{}, not {}", rec->device, d.str());
  check(cudaGraphLaunch(rec->exec, device_stream(rec->device)), "graph");
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
