#pragma once
// Learning-rate schedules with PyTorch's semantics (torch.optim.lr_scheduler, 1.13): building a
// schedule sets epoch 0's lr; call step() after each optimizer.step() epoch (or iteration).
//   SGD opt(params, {.lr = 0.1, .momentum = 0.9});
//   CosineAnnealingLR sched(opt, {.t_max = 90});
//   for (int epoch = 0; epoch < 90; ++epoch) { train_one_epoch(opt); sched.step(); }
// Every schedule is computed in closed form from each group's initial_lr and the epoch, which
// equals PyTorch's recursive (chainable) form as long as nothing else changes the lr.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fovea/optim/optimizer.h"

namespace fovea::optim {

// A schedule keeps a reference to its optimizer, which must outlive it.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch and sets every group's lr.
  void step();
  // Epochs stepped since construction (0 right after it), as PyTorch's last_epoch.
  std::int64_t last_epoch() const { return last_epoch_; }
  // The lr of every group set by the last step (or the constructor).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  // The lr of every group at `epoch`.
  virtual std::vector<double> lr_at(std::int64_t epoch) const = 0;
  Optimizer& optimizer() const { return *optimizer_; }

  // {"last_epoch"} for checkpoints; loading sets the epoch and the groups' lr (and momentum).
  NamedTensors state_dict() const;
  void load_state_dict(const NamedTensors& state);

 protected:
  // Records each group's initial_lr (its current lr unless already set). Derived constructors
  // end with start(), which applies epoch 0.
  LRScheduler(std::string op, Optimizer& optimizer);
  void start() { go_to(0); }
  void go_to(std::int64_t epoch);
  // Sets the groups' lr for `epoch`; OneCycleLR also sets momentum.
  virtual void apply(std::int64_t epoch);

  std::string op_;
  Optimizer* optimizer_;
  std::vector<double> base_lrs_;  // each group's initial_lr
  std::int64_t last_epoch_ = -1;
  std::vector<double> last_lr_;

  friend class SequentialLR;
};

struct StepLROptions {
  std::int64_t step_size = 0;  // required: epochs between decays
  double gamma = 0.1;
};

// lr = initial_lr * gamma^floor(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, const StepLROptions& options);
  std::vector<double> lr_at(std::int64_t epoch) const override;

 private:
  StepLROptions options_;
};

struct MultiStepLROptions {
  std::vector<std::int64_t> milestones{};  // epochs at which lr is multiplied by gamma
  double gamma = 0.1;
};

// lr = initial_lr * gamma^(number of milestones <= epoch); a repeated milestone decays twice
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& options);
  std::vector<double> lr_at(std::int64_t epoch) const override;

 private:
  MultiStepLROptions options_;  // milestones sorted
};

struct CosineAnnealingLROptions {
  std::int64_t t_max = 0;  // required: epochs from initial_lr down to eta_min
  double eta_min = 0;
};

// lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2; past t_max it
// rises again (period 2 t_max), as PyTorch's. SGDR without restarts: https://arxiv.org/abs/1608.03983
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options);
  std::vector<double> lr_at(std::int64_t epoch) const override;

 private:
  CosineAnnealingLROptions options_;
};

struct LinearLROptions {
  double start_factor = 1.0 / 3;  // in (0, 1]
  double end_factor = 1.0;        // in [0, 1]
  std::int64_t total_iters = 5;
};

// Linear warm-up (or decay): lr = initial_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, const LinearLROptions& options = {});
  std::vector<double> lr_at(std::int64_t epoch) const override;

 private:
  LinearLROptions options_;
};

// Runs schedulers[0] until milestones[0], then schedulers[1] from its epoch 0, and so on:
//   SequentialLR sched(opt, {std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = 0.1}),
//                            std::make_shared<CosineAnnealingLR>(opt, CosineAnnealingLROptions{.t_max = 85})},
//                      {5});
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  std::vector<double> lr_at(std::int64_t epoch) const override;

 protected:
  void apply(std::int64_t epoch) override;

 private:
  // The scheduler active at `epoch` and its own epoch.
  std::pair<LRScheduler*, std::int64_t> active(std::int64_t epoch) const;
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
};

enum class Anneal { cos, linear };

struct OneCycleLROptions {
  double max_lr = -1;                  // required unless group_max_lr is given
  std::vector<double> group_max_lr{};  // one per group; overrides max_lr
  std::int64_t total_steps = 0;        // required: the number of step() calls the cycle lasts
  double pct_start = 0.3;              // fraction of the cycle spent increasing the lr
  Anneal anneal = Anneal::cos;
  bool cycle_momentum = true;  // momentum (Adam: beta1) goes max -> base -> max, inversely to lr
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25;         // initial_lr = max_lr / div_factor
  double final_div_factor = 1e4;  // min_lr = initial_lr / final_div_factor
  bool three_phase = false;       // up, symmetric down to initial_lr, then down to min_lr (the paper's form)
};

// The 1cycle policy (Smith & Topin, https://arxiv.org/abs/1708.07120), stepped after every batch.
// It sets each group's initial_lr, and with cycle_momentum each group's momentum, as PyTorch does
// (so it turns momentum on for a plain SGD).
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);
  std::vector<double> lr_at(std::int64_t epoch) const override;
  // Each group's momentum at `epoch` (meaningful with cycle_momentum).
  std::vector<double> momentum_at(std::int64_t epoch) const;

 protected:
  void apply(std::int64_t epoch) override;

 private:
  enum class Level { initial, peak, floor };  // a group's initial_lr, max_lr, min_lr
  struct Phase {
    double end_step;  // the last epoch of the phase
    Level lr_from, lr_to;
    bool momentum_from_max, momentum_to_max;  // else base_momentum
  };
  // (lr, momentum) of group g at `epoch`
  std::pair<double, double> at(std::int64_t epoch, std::size_t g) const;
  OneCycleLROptions options_;
  std::vector<double> max_lrs_, min_lrs_;
  std::vector<Phase> phases_;
};

}  // namespace fovea::optim
