// The CUDA emulator's runtime: device memory, streams and copies on the host, with the checks
// the CUDA runtime makes (bad devices, frees of unknown pointers, copies outside an
// allocation, launch configurations). Each stream is a queue: kernels, memsets and copies within
// device memory or from page-locked memory run when the host synchronises with the stream, as
// they would on a GPU, so a missing synchronisation reads stale data here too. Kernels run on
// fibers.
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define FOVEA_EMULATOR_ASAN 1
#endif

namespace fovea::backend::cuda::emulator {

namespace {

// Two devices, so that peer copies run too; each with this much memory.
constexpr int kDevices = 2;
constexpr std::size_t kDeviceBytes = std::size_t{16} << 30;
constexpr std::size_t kAlignment = 256;  // cudaMalloc's alignment

thread_local cudaError_t last_error = cudaSuccess;
thread_local int current_device = 0;

cudaError_t record(cudaError_t e) {
  if (e != cudaSuccess) last_error = e;
  return e;
}

struct Allocation {
  std::size_t bytes;
  int device;
};
struct Memory {
  std::mutex mu;
  std::map<std::uintptr_t, Allocation> live;     // device allocations by start address
  std::map<std::uintptr_t, std::size_t> pinned;  // cudaMallocHost's, by start address
  std::size_t used[kDevices] = {};
};

Memory& memory() {
  static Memory m;
  return m;
}

// Whether [p, p + bytes) lies inside one page-locked host allocation.
bool is_pinned(const void* p, std::size_t bytes) {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto it = m.pinned.upper_bound(a);
  if (it == m.pinned.begin()) return false;
  --it;
  return a + bytes <= it->first + it->second;
}

cudaError_t allocate(void** p, std::size_t size) {
  if (!p) return record(cudaErrorInvalidValue);
  *p = nullptr;
  if (size == 0) return cudaSuccess;
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  if (m.used[current_device] + size > kDeviceBytes) return record(cudaErrorMemoryAllocation);
  void* q = std::aligned_alloc(kAlignment, (size + kAlignment - 1) / kAlignment * kAlignment);
  if (!q) return record(cudaErrorMemoryAllocation);
  m.live.emplace(reinterpret_cast<std::uintptr_t>(q), Allocation{size, current_device});
  m.used[current_device] += size;
  *p = q;
  return cudaSuccess;
}

cudaError_t release(void* p) {
  if (!p) return cudaSuccess;
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  auto it = m.live.find(reinterpret_cast<std::uintptr_t>(p));
  if (it == m.live.end()) return record(cudaErrorInvalidValue);
  m.used[it->second.device] -= it->second.bytes;
  m.live.erase(it);
  std::free(p);
  return cudaSuccess;
}

// ---- stream capture ----------------------------------------------------------------------

struct Capture {
  cudaStream_t stream = nullptr;
  bool invalid = false;
  std::vector<std::function<void()>> work;
};
std::mutex capture_mu;
Capture capture;  // one at a time, as fovea makes them

bool capturing(cudaStream_t s) {
  std::lock_guard<std::mutex> lock(capture_mu);
  return s != nullptr && capture.stream == s;
}
// Appends work to the capture of s and returns true; false when s is not being captured.
bool record_work(cudaStream_t s, std::function<void()>& work) {
  std::lock_guard<std::mutex> lock(capture_mu);
  if (s == nullptr || capture.stream != s) return false;
  capture.work.push_back(std::move(work));
  return true;
}
// A call that cannot be captured: the capture is invalidated, as CUDA invalidates it.
cudaError_t refuse_while_capturing() {
  std::lock_guard<std::mutex> lock(capture_mu);
  capture.invalid = true;
  return record(cudaErrorStreamCaptureUnsupported);
}

struct Graph {
  std::vector<std::function<void()>> work;
};

// ---- stream queues ---------------------------------------------------------------------

std::mutex queues_mu;
std::map<cudaStream_t, std::deque<std::function<void()>>> queues;
thread_local bool executing = false;  // running queued work: what it issues runs at once

// Runs the queued work of `stream` (every stream when null) in order. Work that throws stops the
// flush and the exception reaches the synchronising call, as a sticky CUDA error would.
void flush(cudaStream_t stream) {
  if (executing) return;
  executing = true;
  try {
    for (;;) {
      std::function<void()> work;
      {
        std::lock_guard<std::mutex> lock(queues_mu);
        auto it = stream ? queues.find(stream) : queues.begin();
        while (!stream && it != queues.end() && it->second.empty()) ++it;
        if (it == queues.end() || it->second.empty()) break;
        work = std::move(it->second.front());
        it->second.pop_front();
      }
      work();
    }
  } catch (...) {
    executing = false;
    throw;
  }
  executing = false;
}

// Records work into the capture of `stream`, or queues it (runs it at once inside a flush).
void submit(cudaStream_t stream, std::function<void()> work) {
  if (record_work(stream, work)) return;
  if (executing || stream == nullptr) return work();
  std::lock_guard<std::mutex> lock(queues_mu);
  queues[stream].push_back(std::move(work));
}

// ---- fibers ----------------------------------------------------------------------------

// A stack switch without the signal-mask system call of swapcontext (which made the emulator
// several times slower): saves the callee-saved registers of the System V x86-64 ABI on the
// current stack, stores the stack pointer in *from and continues on `to`.
extern "C" void fovea_emulator_switch(void** from, void* to);
asm(R"(
  .text
  .globl fovea_emulator_switch
  .type fovea_emulator_switch, @function
fovea_emulator_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size fovea_emulator_switch, .-fovea_emulator_switch
)");

constexpr std::size_t kStackBytes = std::size_t{256} << 10;

enum class Mode { unknown, fibers, direct };

struct Fiber {
  void* sp = nullptr;  // the saved stack pointer while switched out
  std::unique_ptr<char[]> stack;
  bool done = false;
};

struct Scheduler {
  void* main_sp = nullptr;
  std::vector<Fiber> fibers;
  unsigned current = 0;
  bool in_fibers = false;
  bool saw_barrier = false;
  const std::function<void()>* body = nullptr;
  std::exception_ptr error;
#ifdef FOVEA_EMULATOR_ASAN
  const void* main_bottom = nullptr;
  std::size_t main_size = 0;
#endif
};
thread_local Scheduler sched;

// Context switches, telling AddressSanitizer which stack runs next when it is on.
void enter_fiber(Fiber& f) {
#ifdef FOVEA_EMULATOR_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f.stack.get(), kStackBytes);
  fovea_emulator_switch(&sched.main_sp, f.sp);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  fovea_emulator_switch(&sched.main_sp, f.sp);
#endif
}
// From the running fiber back to the scheduler; a finished fiber never resumes.
void leave_fiber(bool finishing) {
  void** from = &sched.fibers[sched.current].sp;
#ifdef FOVEA_EMULATOR_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(finishing ? nullptr : &fake, sched.main_bottom, sched.main_size);
  fovea_emulator_switch(from, sched.main_sp);
  __sanitizer_finish_switch_fiber(fake, &sched.main_bottom, &sched.main_size);
#else
  (void)finishing;
  fovea_emulator_switch(from, sched.main_sp);
#endif
}

void fiber_entry() {
#ifdef FOVEA_EMULATOR_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &sched.main_bottom, &sched.main_size);
#endif
  try {
    (*sched.body)();
  } catch (...) {
    if (!sched.error) sched.error = std::current_exception();
  }
  sched.fibers[sched.current].done = true;
  leave_fiber(true);
}

// The k-th thread to run: in order in even blocks (and barrier rounds), in reverse in odd ones,
// so that a kernel whose result depends on the order of its threads (a missing barrier, two
// threads writing one place) gives results that differ from the CPU's in the parity tests.
unsigned order(unsigned k, unsigned block, unsigned parity) { return parity % 2 ? block - 1 - k : k; }

// Runs one block's threads as fibers: each runs until it finishes or reaches __syncthreads;
// when every thread has, the waiting ones go on together.
void run_block_on_fibers(unsigned block) {
  if (sched.fibers.size() < block) sched.fibers.resize(block);
  for (unsigned t = 0; t < block; ++t) {
    Fiber& f = sched.fibers[t];
    if (!f.stack) f.stack.reset(new char[kStackBytes]);
    f.done = false;
    // The first switch to the fiber pops six zero registers and "returns" into fiber_entry,
    // which starts with the stack pointer 8 past a 16-byte boundary, as after a call.
    auto* top =
        reinterpret_cast<void**>((reinterpret_cast<std::uintptr_t>(f.stack.get()) + kStackBytes) & ~std::uintptr_t{15});
    top[-1] = nullptr;  // fiber_entry never returns
    top[-2] = reinterpret_cast<void*>(&fiber_entry);
    for (int r = 3; r <= 8; ++r) top[-r] = nullptr;
    f.sp = top - 8;
  }
  sched.in_fibers = true;
  for (unsigned round = 0, running = 1; running; ++round) {
    running = 0;
    for (unsigned k = 0; k < block; ++k) {
      const unsigned t = order(k, block, blockIdx.x + round);
      Fiber& f = sched.fibers[t];
      if (f.done) continue;
      sched.current = t;
      threadIdx = {t, 0, 0};
      enter_fiber(f);
      running |= f.done ? 0 : 1;
    }
  }
  sched.in_fibers = false;
}

std::mutex modes_mu;
std::unordered_map<const void*, Mode>& modes() {
  static std::unordered_map<const void*, Mode> m;
  return m;
}

}  // namespace

namespace {

// Runs every thread of a grid x block launch of `kernel` (body: one thread's call).
void execute_grid(const void* kernel, unsigned grid, unsigned block, const std::function<void()>& body) {
  Mode mode;
  {
    std::lock_guard<std::mutex> lock(modes_mu);
    mode = modes()[kernel];
  }
  const bool direct = mode == Mode::direct;
  gridDim = {grid, 1, 1};
  blockDim = {block, 1, 1};
  sched.body = &body;
  sched.error = nullptr;
  sched.saw_barrier = false;
  for (unsigned b = 0; b < grid; ++b) {
    blockIdx = {b, 0, 0};
    if (direct) {
      for (unsigned k = 0; k < block; ++k) {
        threadIdx = {order(k, block, b), 0, 0};
        body();
      }
    } else {
      run_block_on_fibers(block);
      if (sched.error) std::rethrow_exception(sched.error);
    }
  }
  if (mode == Mode::unknown) {
    std::lock_guard<std::mutex> lock(modes_mu);
    modes()[kernel] = sched.saw_barrier ? Mode::fibers : Mode::direct;
  }
}

}  // namespace

void run_grid(const void* kernel, unsigned grid, unsigned block, cudaStream_t stream, std::function<void()> body) {
  if (grid == 0 || block == 0 || block > 1024 || stream == nullptr) {
    record(cudaErrorInvalidConfiguration);
    return;
  }
  submit(stream, [=] { execute_grid(kernel, grid, block, body); });
}

void enqueue(cudaStream_t stream, std::function<void()> work) { submit(stream, std::move(work)); }

bool is_device_range(const void* p, std::size_t bytes, int device) {
  Memory& m = memory();
  std::lock_guard<std::mutex> lock(m.mu);
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto it = m.live.upper_bound(a);
  if (it == m.live.begin()) return false;
  --it;
  return a + bytes <= it->first + it->second.bytes && (device < 0 || it->second.device == device);
}

}  // namespace fovea::backend::cuda::emulator

using fovea::backend::cuda::emulator::is_device_range;
namespace em = fovea::backend::cuda::emulator;

void __syncthreads() {
  if (!em::sched.in_fibers)
    throw std::logic_error(
        "CUDA emulator: __syncthreads in a kernel whose first launch reached none (its later launches run without "
        "fibers)");
  em::sched.saw_barrier = true;
  em::leave_fiber(false);
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
  }
  return "unknown error";
}
cudaError_t cudaGetLastError() { return std::exchange(em::last_error, cudaSuccess); }
cudaError_t cudaPeekAtLastError() { return em::last_error; }

cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return em::record(cudaErrorInvalidValue);
  *count = em::kDevices;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (device < 0 || device >= em::kDevices) return em::record(cudaErrorInvalidDevice);
  em::current_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  if (!device) return em::record(cudaErrorInvalidValue);
  *device = em::current_device;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, std::size_t size) { return em::allocate(p, size); }
cudaError_t cudaFree(void* p) {  // synchronises the device, as CUDA's
  em::flush(nullptr);
  return em::release(p);
}
cudaError_t cudaMallocAsync(void** p, std::size_t size, cudaStream_t) { return em::allocate(p, size); }
cudaError_t cudaFreeAsync(void* p, cudaStream_t stream) {
  if (!p) return cudaSuccess;
  if (!is_device_range(p, 1)) return em::record(cudaErrorInvalidValue);
  em::submit(stream, [p] { em::release(p); });
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, std::size_t size) {
  if (!p) return em::record(cudaErrorInvalidValue);
  *p = std::malloc(size > 0 ? size : 1);
  if (!*p) return em::record(cudaErrorMemoryAllocation);
  em::Memory& m = em::memory();
  std::lock_guard<std::mutex> lock(m.mu);
  m.pinned.emplace(reinterpret_cast<std::uintptr_t>(*p), size > 0 ? size : 1);
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  em::flush(nullptr);
  em::Memory& m = em::memory();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.pinned.erase(reinterpret_cast<std::uintptr_t>(p)) == 0) return em::record(cudaErrorInvalidValue);
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  em::Memory& m = em::memory();
  std::lock_guard<std::mutex> lock(m.mu);
  *free_bytes = em::kDeviceBytes - m.used[em::current_device];
  *total_bytes = em::kDeviceBytes;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  static char handles[em::kDevices];  // a distinct non-null handle per device
  if (!stream) return em::record(cudaErrorInvalidValue);
  *stream = reinterpret_cast<cudaStream_t>(&handles[em::current_device]);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (em::capturing(stream)) return em::refuse_while_capturing();
  em::flush(stream);
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  if (!status) return em::record(cudaErrorInvalidValue);
  *status = em::capturing(stream) ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

// Copies as CUDA's cudaMemcpyAsync: within device memory, or from / to page-locked memory, they
// run in stream order; from pageable memory the source is read at the call; to pageable memory
// the call waits for the stream first. Refused while capturing when host memory is involved.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  const bool src_dev = is_device_range(src, count), dst_dev = is_device_range(dst, count);
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToHost: ok = !src_dev && !dst_dev; break;
    case cudaMemcpyHostToDevice: ok = !src_dev && dst_dev; break;
    case cudaMemcpyDeviceToHost: ok = src_dev && !dst_dev; break;
    case cudaMemcpyDeviceToDevice: ok = src_dev && dst_dev; break;
    case cudaMemcpyDefault: break;
  }
  if (!ok) return em::record(cudaErrorInvalidValue);
  if (em::capturing(stream) && (!src_dev || !dst_dev)) return em::refuse_while_capturing();
  if (!src_dev && !em::is_pinned(src, count)) {  // pageable source: taken now
    auto bytes =
        std::make_shared<std::vector<char>>(static_cast<const char*>(src), static_cast<const char*>(src) + count);
    if (!dst_dev) return std::memmove(dst, bytes->data(), count), cudaSuccess;
    em::submit(stream, [dst, bytes] { std::memcpy(dst, bytes->data(), bytes->size()); });
    return cudaSuccess;
  }
  if (!dst_dev && !em::is_pinned(dst, count)) {  // pageable destination: after the stream's work
    em::flush(stream);
    std::memmove(dst, src, count);
    return cudaSuccess;
  }
  em::submit(stream, [=] { std::memmove(dst, src, count); });
  return cudaSuccess;
}
cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, std::size_t count,
                                cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (!is_device_range(dst, count, dst_device) || !is_device_range(src, count, src_device))
    return em::record(cudaErrorInvalidValue);
  em::submit(stream, [=] { std::memmove(dst, src, count); });
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, std::size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  if (!is_device_range(p, count)) return em::record(cudaErrorInvalidValue);
  em::submit(stream, [=] { std::memset(p, value, count); });
  return cudaSuccess;
}

// Events: a mark in a stream's queue; waiting for one runs the stream up to it (here: all of it).
struct CUevent_st {
  cudaStream_t stream = nullptr;
};
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  if (!event) return em::record(cudaErrorInvalidValue);
  *event = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event) return em::record(cudaErrorInvalidValue);
  event->stream = stream;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event) return em::record(cudaErrorInvalidValue);
  if (event->stream) em::flush(event->stream);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  if (!stream) return em::record(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(em::capture_mu);
  if (em::capture.stream) return em::record(cudaErrorInvalidValue);
  em::capture = {.stream = stream, .invalid = false, .work = {}};
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  std::lock_guard<std::mutex> lock(em::capture_mu);
  if (!graph || em::capture.stream != stream) return em::record(cudaErrorInvalidValue);
  em::Capture done = std::move(em::capture);
  em::capture = {};
  *graph = nullptr;
  if (done.invalid) return em::record(cudaErrorStreamCaptureInvalidated);
  *graph = reinterpret_cast<cudaGraph_t>(new em::Graph{std::move(done.work)});
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!exec || !graph) return em::record(cudaErrorInvalidValue);
  *exec = reinterpret_cast<cudaGraphExec_t>(new em::Graph(*reinterpret_cast<em::Graph*>(graph)));
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (!exec || !stream) return em::record(cudaErrorInvalidValue);
  for (const auto& w : reinterpret_cast<em::Graph*>(exec)->work) em::submit(stream, w);
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete reinterpret_cast<em::Graph*>(exec);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete reinterpret_cast<em::Graph*>(graph);
  return cudaSuccess;
}
