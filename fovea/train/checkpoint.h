#pragma once
// Checkpoints: one safetensors file with the model's weights ("model.<key>"), the optimizer's
// and schedule's state ("optimizer.<key>", "scheduler.<key>"), the global generator's state
// ("rng.default"; a distributed run adds every rank's, "rng.ranks" (ranks, 4)) and, in the
// metadata, the run configuration and the progress (epoch, step, ranks). Written atomically: a
// crash or Ctrl-C never leaves a half-written file.
#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fovea/nn/module.h"
#include "fovea/optim/optimizer.h"
#include "fovea/optim/schedule.h"
#include "fovea/train/config.h"

namespace fovea::train {

struct RunState {
  std::int64_t epoch = 0;          // the epoch in progress (0-based)
  std::int64_t step_in_epoch = 0;  // batches of it already done
  std::int64_t global_step = 0;
  double best_top1 = -1;
  // the epoch in progress so far, so an interrupted epoch's record covers all of it
  double epoch_loss_sum = 0;
  std::int64_t epoch_seen = 0, epoch_correct = 0;
  std::int64_t world_size = 1;  // the ranks that trained it (docs/distributed.md)
  // the finished epochs' records, as metrics.json holds them (a JSON array): a resume restores
  // the ones a crash kept out of metrics.json
  std::string records = "[]";
};

using GeneratorState = std::array<std::uint64_t, 4>;

struct Checkpoint {
  RunConfig config;
  RunState state;
  NamedTensors model, optimizer, scheduler;
  std::optional<GeneratorState> rng;
  std::vector<GeneratorState> rank_rngs;  // one per rank of a distributed run, else empty
};

// rank_rngs: every rank's generator state (a distributed run), written as "rng.ranks"
void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer* opt,
                     const optim::LRScheduler* sched, const RunConfig& config, const RunState& state,
                     std::span<const GeneratorState> rank_rngs = {});
// Errors name the file: not a fovea checkpoint, or missing parts.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace fovea::train
