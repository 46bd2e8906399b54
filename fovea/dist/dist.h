#pragma once
// Processes that train one model together (docs/distributed.md), on Open MPI: the process
// group every rank belongs to and its collectives. Jobs start as any MPI program does (mpirun,
// a hostfile, srun under Slurm); the same binary started alone is one process, with no MPI
// start-up cost, and every collective is then the identity. MPI types never leave dist/.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::dist {

// Whether fovea was built with MPI (CMake FOVEA_MPI).
bool available();
// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun): its environment
// names a rank.
bool launched_by_mpi();
// Starts MPI (MPI_Init_thread, funneled: only the thread that called init uses MPI) when the
// process was launched by MPI; otherwise does nothing. Idempotent; MPI is finalized at exit.
// Launched by MPI in a build without it: "[dist] ... fovea was built without MPI".
// Each rank then uses its share of its node's cores (cores / ranks on the node) unless
// FOVEA_NUM_THREADS or OMP_NUM_THREADS says otherwise; set_num_threads() after init overrides.
void init();
// An error every rank finds at the same point (a check all of them ran on gathered values):
// programs print it once, from rank 0, and every rank exits normally with an error code,
// without MPI_Abort.
struct AgreedError : Error {
  using Error::Error;
};

// Whether init() started MPI in this process.
bool is_initialized();
// Ends every rank of the job with `code` (MPI_Abort), so that an error one rank found cannot
// leave the others waiting in a collective; without MPI, std::exit(code).
[[noreturn]] void abort(int code);

// This process's rank in [0, world_size()), and the ranks on its node (for threads per rank).
// 0 / 1 without MPI.
int rank();
int world_size();
int local_rank();
int local_size();

// Open MPI's CUDA-aware support (MPIX_Query_cuda_support): collectives then read device memory
// directly; otherwise CUDA tensors go through host memory.
bool cuda_aware();

enum class ReduceOp { sum, max, min };

// In place on every rank, the result on every rank. Tensors: contiguous, f32, f64, i64 or u8,
// on the CPU or a CUDA device; every rank passes the same shape and dtype.
void all_reduce(const Tensor& t, ReduceOp op = ReduceOp::sum);
// Root's values into t on every rank.
void broadcast(const Tensor& t, int root = 0);
void barrier();
// v from every rank, in rank order (world_size() values).
std::vector<std::uint64_t> all_gather(std::uint64_t v);

// A collective in flight (MPI_Iallreduce): its tensor must stay alive and untouched until
// wait() returns. test() drives MPI's progress and says whether it has completed.
class Work {
 public:
  Work();
  ~Work();
  Work(Work&& o) noexcept;
  Work& operator=(Work&& o) noexcept;
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
  bool test();
  void wait();
  bool pending() const;

  struct State;  // MPI's request and the tensor it works on (process_group.cpp)

 private:
  explicit Work(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
  friend Work all_reduce_async(const Tensor& t, ReduceOp op);
};
// A non-blocking all_reduce (contiguous CPU tensor, or CUDA with cuda_aware()). Without MPI it
// has already completed.
Work all_reduce_async(const Tensor& t, ReduceOp op = ReduceOp::sum);

}  // namespace fovea::dist
