#pragma once
// Checkpoints: one safetensors file with the model's weights ("model.<key>"), the optimizer's
// and schedule's state ("optimizer.<key>", "scheduler.<key>"), the global generator's state
// ("rng.default") and, in the metadata, the run configuration and the progress (epoch, step).
// Written atomically: a crash or Ctrl-C never leaves a half-written file.
#include <array>
#include <optional>
#include <string>

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
};

struct Checkpoint {
  RunConfig config;
  RunState state;
  NamedTensors model, optimizer, scheduler;
  std::optional<std::array<std::uint64_t, 4>> rng;
};

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer* opt,
                     const optim::LRScheduler* sched, const RunConfig& config, const RunState& state);
// Errors name the file: not a fovea checkpoint, or missing parts.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace fovea::train
