// The process group on Open MPI (dist.h): start-up, ranks, collectives. Built without MPI
// (FOVEA_HAS_MPI unset), or run without a launcher, every process is a world of one.
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <thread>

#include "fovea/autograd/grad_mode.h"
#include "fovea/backend/backend.h"
#include "fovea/core/threads.h"
#include "fovea/dist/dist.h"

#ifdef FOVEA_HAS_MPI
#include <mpi.h>
// Open MPI's extensions (MPIX_Query_cuda_support) need mpi.h first
#include <mpi-ext.h>
#endif

namespace fovea::dist {

namespace {

constexpr const char* kOp = "dist";

// The variables MPI launchers give their processes: Open MPI's mpirun, PMIx (srun --mpi=pmix)
// and PMI-1/2 (MPICH's mpiexec, srun --mpi=pmi2).
bool env_names_a_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

struct Group {
  bool initialized = false;
  int rank = 0, size = 1, local_rank = 0, local_size = 1;
};
Group& group() {
  static Group g;
  return g;
}

// The ranks on one node share its cores: each gets cores / ranks-on-the-node threads (at least
// one, and no more than the cores mpirun bound it to), unless the user chose a count
// (FOVEA_NUM_THREADS, OMP_NUM_THREADS, or --threads after this).
void share_cores(int ranks_on_node) {
  if (std::getenv("FOVEA_NUM_THREADS") || std::getenv("OMP_NUM_THREADS")) return;
  int bound = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) bound = CPU_COUNT(&set);
  const int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  if (bound <= 0) bound = cores;
  set_num_threads(std::max(1, std::min(bound, cores / std::max(1, ranks_on_node))));
}

// The tensors collectives take, checked on every rank count (a world of one too, so that a program
// that works alone does not fail only under mpirun).
void check_tensor(const Tensor& t, const char* what) {
  if (!t.defined()) fail(kOp, "{}: the tensor is undefined", what);
  if (!t.is_contiguous())
    fail(kOp, "{} needs a contiguous tensor, got shape {} with strides {}", what, shape_str(t.shape()),
         shape_str(t.strides()));
  const DType d = t.dtype();
  if (d != DType::f32 && d != DType::f64 && d != DType::i64 && d != DType::u8)
    fail(kOp, "{} takes f32, f64, i64 or u8 tensors, got {}", what, dtype_name(d));
  if (t.is_meta()) fail(kOp, "{}: a meta tensor has no data", what);
}

// What MPI reads and writes for t: t itself when it is a CPU tensor, or a CUDA tensor with a
// CUDA-aware MPI (once the device has finished writing it); else a host copy.
Tensor mpi_buffer(const Tensor& t) {
  if (t.device() == kCPU) return t;
  if (cuda_aware()) {
    backend::backend_for(t).synchronize(t.device());
    return t;
  }
  return t.to(kCPU);
}

// Writes a host buffer back into t when they differ.
void write_back(const Tensor& host, const Tensor& t) {
  if (host.same(t)) return;
  NoGradGuard ng;
  t.copy_(host);
}

#ifdef FOVEA_HAS_MPI

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  fail(kOp, "{} failed on rank {} of {}: {}", call, group().rank, group().size, std::string(text, len));
}

MPI_Datatype mpi_type(DType d) {
  switch (d) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    case DType::u8: return MPI_UINT8_T;
    default: fail(kOp, "no MPI type for {}", dtype_name(d));
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return MPI_SUM;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::min: return MPI_MIN;
  }
  return MPI_SUM;
}

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

// MPI counts are int: a tensor goes in pieces of at most INT_MAX elements, f(start, count).
template <typename F>
void for_each_piece(const Tensor& h, F f) {
  constexpr std::int64_t kMaxCount = std::numeric_limits<int>::max();
  auto* p = static_cast<std::byte*>(h.raw_data());
  const auto esize = static_cast<std::int64_t>(dtype_size(h.dtype()));
  for (std::int64_t done = 0, n = h.numel(); done < n; done += kMaxCount)
    f(p + done * esize, static_cast<int>(std::min(kMaxCount, n - done)));
}

#endif

}  // namespace

bool available() {
#ifdef FOVEA_HAS_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpi() { return env_names_a_rank(); }

void init() {
  Group& g = group();
  if (g.initialized || !env_names_a_rank()) return;
#ifdef FOVEA_HAS_MPI
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    // Open MPI's non-blocking all-reduce (libnbc) picks a tree for 2 ranks, at half the speed of
    // its blocking one on 25 MB buckets; the ring (2(N-1)/N of the bytes per rank, the
    // bandwidth-optimal algorithm for large messages) matches it. The user's setting wins.
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    std::atexit(finalize_at_exit);
  }
  // errors come back as codes and become fovea errors naming the call
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &g.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &g.size), "MPI_Comm_size");
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  check(MPI_Comm_rank(node, &g.local_rank), "MPI_Comm_rank");
  check(MPI_Comm_size(node, &g.local_size), "MPI_Comm_size");
  MPI_Comm_free(&node);
  g.initialized = true;
  share_cores(g.local_size);
#else
  fail(kOp,
       "this process was started by an MPI launcher (mpirun, srun), but fovea was built without MPI; rebuild with "
       "libopenmpi-dev installed (FOVEA_MPI=ON), or run it without the launcher");
#endif
}

bool is_initialized() { return group().initialized; }

void abort(int code) {
#ifdef FOVEA_HAS_MPI
  if (group().initialized && group().size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}
int rank() { return group().rank; }
int world_size() { return group().size; }
int local_rank() { return group().local_rank; }
int local_size() { return group().local_size; }

bool cuda_aware() {
#if defined(FOVEA_HAS_MPI) && defined(MPIX_CUDA_AWARE_SUPPORT)
  return group().initialized && MPIX_Query_cuda_support() == 1;
#else
  return false;
#endif
}

void all_reduce(const Tensor& t, ReduceOp op) {
  check_tensor(t, "all_reduce");
  if (world_size() == 1) return;
#ifdef FOVEA_HAS_MPI
  // blocking: MPI_Allreduce, whose algorithm Open MPI chooses by size (small ones by latency)
  Tensor h = mpi_buffer(t);
  for_each_piece(h, [&](std::byte* p, int count) {
    check(MPI_Allreduce(MPI_IN_PLACE, p, count, mpi_type(h.dtype()), mpi_op(op), MPI_COMM_WORLD), "MPI_Allreduce");
  });
  write_back(h, t);
#else
  (void)op;
#endif
}

void broadcast(const Tensor& t, int root) {
  check_tensor(t, "broadcast");
  if (root < 0 || root >= world_size()) fail(kOp, "broadcast root {} is not a rank of {}", root, world_size());
  if (world_size() == 1) return;
#ifdef FOVEA_HAS_MPI
  Tensor h = mpi_buffer(t);
  for_each_piece(h, [&](std::byte* p, int count) {
    check(MPI_Bcast(p, count, mpi_type(h.dtype()), root, MPI_COMM_WORLD), "MPI_Bcast");
  });
  write_back(h, t);
#endif
}

void barrier() {
  if (world_size() == 1) return;
#ifdef FOVEA_HAS_MPI
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

std::vector<std::uint64_t> all_gather(std::uint64_t v) {
  std::vector<std::uint64_t> out(static_cast<std::size_t>(world_size()), v);
  if (world_size() == 1) return out;
#ifdef FOVEA_HAS_MPI
  check(MPI_Allgather(&v, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Allgather");
#endif
  return out;
}

struct Work::State {
  Tensor target;  // what the caller passed
  Tensor host;    // what MPI works on: target itself, or its host copy
  bool done = false;
#ifdef FOVEA_HAS_MPI
  std::vector<MPI_Request> requests;
#endif
};

Work::Work() = default;
Work::Work(std::unique_ptr<State> s) : s_(std::move(s)) {}
Work::~Work() {
  // a collective cannot be cancelled: it is completed before its buffer goes
  if (pending()) {
    try {
      wait();
    } catch (const Error&) {
    }
  }
}
Work::Work(Work&& o) noexcept = default;
Work& Work::operator=(Work&& o) noexcept {
  if (this != &o) {
    if (pending()) wait();
    s_ = std::move(o.s_);
  }
  return *this;
}

bool Work::pending() const { return s_ && !s_->done; }

bool Work::test() {
  if (!pending()) return true;
#ifdef FOVEA_HAS_MPI
  int flag = 0;
  check(MPI_Testall(static_cast<int>(s_->requests.size()), s_->requests.data(), &flag, MPI_STATUSES_IGNORE),
        "MPI_Testall");
  if (!flag) return false;
#endif
  s_->done = true;
  write_back(s_->host, s_->target);
  return true;
}

void Work::wait() {
  if (!pending()) return;
#ifdef FOVEA_HAS_MPI
  check(MPI_Waitall(static_cast<int>(s_->requests.size()), s_->requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
#endif
  s_->done = true;
  write_back(s_->host, s_->target);
}

Work all_reduce_async(const Tensor& t, ReduceOp op) {
  check_tensor(t, "all_reduce");
  auto s = std::make_unique<Work::State>();
  s->target = s->host = t;
  if (world_size() == 1) {  // the sum over one rank
    s->done = true;
    return Work(std::move(s));
  }
  s->host = mpi_buffer(t);
#ifndef FOVEA_HAS_MPI
  (void)op;
#else
  for_each_piece(s->host, [&](std::byte* p, int count) {
    MPI_Request r;
    check(MPI_Iallreduce(MPI_IN_PLACE, p, count, mpi_type(s->host.dtype()), mpi_op(op), MPI_COMM_WORLD, &r),
          "MPI_Iallreduce");
    s->requests.push_back(r);
  });
#endif
  return Work(std::move(s));
}

}  // namespace fovea::dist
