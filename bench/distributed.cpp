// Data-parallel training speed (bench/distributed.py runs it alone and under mpirun beside
// PyTorch DistributedDataParallel). Rank 0 prints one JSON line per case.
//
//   bench_distributed THREADS train MODEL GLOBAL_BATCH BUDGET [SIDE]
//     SGD-momentum steps of lenet5 (1x28x28) or a zoo model (3xSIDExSIDE, default 32) on a fixed
//     random batch, each rank its share, through dist::DataParallel: the median step time.
//   bench_distributed THREADS allreduce MB BUDGET
//     the all-reduce of one MB-megabyte f32 bucket as DataParallel runs it
//     (dist::all_reduce_async, then wait) against a bare MPI_Allreduce loop on the same bytes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "fovea/core/threads.h"
#include "fovea/dist/data_parallel.h"
#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/optim.h"

#ifdef FOVEA_HAS_MPI
#include <mpi.h>
#endif

using namespace fovea;

namespace {

// f's median time over a number of runs rank 0 chooses to fill about `budget` seconds, each run
// started together (a barrier) and timed by the slowest rank; every rank must call it alike.
double timed(const std::function<void()>& f, double budget) {
  for (int i = 0; i < 2; ++i) f();  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  f();
  const double probe = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Tensor n = scalar_tensor(std::max(5.0, std::floor(budget / std::max(probe, 1e-6))), DType::i64);
  dist::broadcast(n);
  std::vector<double> t;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(n.item()); ++i) {
    dist::barrier();
    t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  Tensor all = from_vector(t, {static_cast<std::int64_t>(t.size())});
  dist::all_reduce(all, dist::ReduceOp::max);  // a run ends when the slowest rank's does
  t = all.to_vector<double>();
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void train(const std::string& name, std::int64_t global_batch, double budget, std::int64_t side) {
  const int world = dist::world_size();
  if (global_batch % world != 0) fail("bench", "batch {} does not divide by {} ranks", global_batch, world);
  const std::int64_t batch = global_batch / world;
  const bool lenet = name == "lenet5";
  manual_seed(0);
  auto model = models::create(name, {.num_classes = 10, .in_channels = lenet ? 1 : 3});
  dist::DataParallel ddp(model);
  optim::SGD opt(model->parameters(), {.lr = 0.01, .momentum = 0.9});
  Generator g(100 + static_cast<std::uint64_t>(dist::rank()));
  if (lenet) side = 28;
  const Tensor x = randn({batch, lenet ? 1 : 3, side, side}, {}, g);
  const Tensor y = (rand({batch}, {}, g) * 10.0).to(DType::i64);
  model->train();
  const double step_s = timed(
      [&] {
        opt.zero_grad();
        cross_entropy(ddp(x), y).backward();
        opt.step();
      },
      budget);
  if (dist::rank() == 0)
    std::printf(
        "{\"case\": \"train\", \"model\": \"%s\", \"side\": %ld, \"ranks\": %d, \"threads\": %d, "
        "\"step_ms\": %.3f, \"images_per_sec\": %.1f, \"buckets\": %zu, \"gradient_mb\": %.2f}\n",
        name.c_str(), static_cast<long>(side), world, num_threads(), 1e3 * step_s,
        static_cast<double>(global_batch) / step_s, ddp.bucket_count(),
        static_cast<double>(model->num_parameters(true)) * 4 / (1024 * 1024));
}

void allreduce(double mb, double budget) {
  const auto n = static_cast<std::int64_t>(mb * 1024 * 1024 / 4);
  const Tensor bucket = ones({n});
  const double fovea_s = timed(
      [&] {
        dist::Work w = dist::all_reduce_async(bucket);
        w.wait();
      },
      budget);
  double mpi_s = fovea_s;
#ifdef FOVEA_HAS_MPI
  std::vector<float> raw(static_cast<std::size_t>(n), 1.0F);
  mpi_s =
      timed([&] { MPI_Allreduce(MPI_IN_PLACE, raw.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); },
            budget);
#endif
  if (dist::rank() == 0)
    std::printf("{\"case\": \"allreduce\", \"mb\": %.1f, \"ranks\": %d, \"fovea_ms\": %.3f, \"mpi_ms\": %.3f}\n", mb,
                dist::world_size(), 1e3 * fovea_s, 1e3 * mpi_s);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    dist::init();
    if (argc < 5) fail("bench", "usage: bench_distributed THREADS train MODEL BATCH BUDGET | allreduce MB BUDGET");
    set_num_threads(std::atoi(argv[1]));
    const std::string mode = argv[2];
    if (mode == "train" && argc >= 6)
      train(argv[3], std::atoll(argv[4]), std::atof(argv[5]), argc > 6 ? std::atoll(argv[6]) : 32);
    else if (mode == "allreduce") allreduce(std::atof(argv[3]), std::atof(argv[4]));
    else fail("bench", "unknown case '{}'", mode);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_distributed: %s\n", e.what());
    dist::abort(1);
  }
}
