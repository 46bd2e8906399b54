// Learning-rate schedules, closed forms of torch.optim.lr_scheduler (PyTorch 1.13):
// https://github.com/pytorch/pytorch/blob/v1.13.0/torch/optim/lr_scheduler.py
#include "fovea/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace fovea::optim {

// ---- LRScheduler

LRScheduler::LRScheduler(std::string op, Optimizer& optimizer) : op_(std::move(op)), optimizer_(&optimizer) {
  for (auto& group : optimizer.param_groups()) {
    if (group.initial_lr < 0) group.initial_lr = group.lr;
    base_lrs_.push_back(group.initial_lr);
  }
}

void LRScheduler::step() { go_to(last_epoch_ + 1); }

void LRScheduler::go_to(std::int64_t epoch) {
  const auto n = optimizer_->param_groups().size();
  if (n != base_lrs_.size())
    fail(op_, "the optimizer has {} parameter group(s), but the schedule was built for {}", n, base_lrs_.size());
  apply(epoch);
  last_epoch_ = epoch;
}

void LRScheduler::apply(std::int64_t epoch) {
  last_lr_ = lr_at(epoch);
  auto& groups = optimizer_->param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].lr = last_lr_[g];
}

NamedTensors LRScheduler::state_dict() const {
  return {{"last_epoch", scalar_tensor(static_cast<double>(last_epoch_), DType::i64)}};
}

void LRScheduler::load_state_dict(const NamedTensors& state) {
  const Tensor* epoch = nullptr;
  for (const auto& [name, t] : state) {
    if (name != "last_epoch") fail(op_, "state_dict: unexpected key '{}' (expected only 'last_epoch')", name);
    epoch = &t;
  }
  if (!epoch || !epoch->defined()) fail(op_, "state_dict: missing 'last_epoch'");
  if (epoch->numel() != 1)
    fail(op_, "state_dict: 'last_epoch' must hold one value, got shape {}", shape_str(epoch->shape()));
  const double e = epoch->item();
  if (!(e >= 0) || e != std::floor(e)) fail(op_, "state_dict: 'last_epoch' must be a whole number >= 0, got {}", e);
  go_to(static_cast<std::int64_t>(e));
}

// ---- StepLR

StepLR::StepLR(Optimizer& optimizer, const StepLROptions& options)
    : LRScheduler("step_lr", optimizer), options_(options) {
  if (options_.step_size <= 0) fail(op_, "step_size must be > 0, got {}", options_.step_size);
  start();
}

std::vector<double> StepLR::lr_at(std::int64_t epoch) const {
  std::vector<double> lrs;
  for (double base : base_lrs_)
    lrs.push_back(base * std::pow(options_.gamma, static_cast<double>(epoch / options_.step_size)));
  return lrs;
}

// ---- MultiStepLR

MultiStepLR::MultiStepLR(Optimizer& optimizer, const MultiStepLROptions& options)
    : LRScheduler("multi_step_lr", optimizer), options_(options) {
  std::sort(options_.milestones.begin(), options_.milestones.end());
  start();
}

std::vector<double> MultiStepLR::lr_at(std::int64_t epoch) const {
  const auto& m = options_.milestones;
  const auto passed = std::upper_bound(m.begin(), m.end(), epoch) - m.begin();
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * std::pow(options_.gamma, static_cast<double>(passed)));
  return lrs;
}

// ---- CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, const CosineAnnealingLROptions& options)
    : LRScheduler("cosine_annealing_lr", optimizer), options_(options) {
  if (options_.t_max <= 0) fail(op_, "t_max must be > 0, got {}", options_.t_max);
  start();
}

std::vector<double> CosineAnnealingLR::lr_at(std::int64_t epoch) const {
  // eta_min + (eta_max - eta_min) (1 + cos(pi T_cur / T_max)) / 2  (https://arxiv.org/abs/1608.03983, eq. 5)
  const double eta_min = options_.eta_min;
  const double c = 1 + std::cos(std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(options_.t_max));
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(eta_min + (base - eta_min) * c / 2);
  return lrs;
}

// ---- LinearLR

LinearLR::LinearLR(Optimizer& optimizer, const LinearLROptions& options)
    : LRScheduler("linear_lr", optimizer), options_(options) {
  // start_factor 0 would make PyTorch's recursive form divide by zero; newer PyTorch rejects it too
  if (!(options_.start_factor > 0 && options_.start_factor <= 1))
    fail(op_, "start_factor must be in (0, 1], got {}", options_.start_factor);
  if (!(options_.end_factor >= 0 && options_.end_factor <= 1))
    fail(op_, "end_factor must be in [0, 1], got {}", options_.end_factor);
  if (options_.total_iters <= 0) fail(op_, "total_iters must be > 0, got {}", options_.total_iters);
  start();
}

std::vector<double> LinearLR::lr_at(std::int64_t epoch) const {
  const auto [start, end, total] = options_;
  const auto done = static_cast<double>(std::min(total, epoch));
  std::vector<double> lrs;
  for (double base : base_lrs_) lrs.push_back(base * (start + (end - start) * done / static_cast<double>(total)));
  return lrs;
}

// ---- SequentialLR

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler("sequential_lr", optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  if (schedulers_.empty()) fail(op_, "expected at least one scheduler");
  for (std::size_t i = 0; i < schedulers_.size(); ++i) {
    if (!schedulers_[i]) fail(op_, "scheduler {} is null", i);
    if (&schedulers_[i]->optimizer() != &optimizer) fail(op_, "scheduler {} belongs to another optimizer", i);
  }
  if (milestones_.size() + 1 != schedulers_.size())
    fail(op_, "expected one milestone fewer than schedulers, got {} scheduler(s) and {} milestone(s)",
         schedulers_.size(), milestones_.size());
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    if (milestones_[i] <= (i == 0 ? 0 : milestones_[i - 1]))
      fail(op_, "milestones must be positive and increasing, got {} after {}", milestones_[i],
           i == 0 ? 0 : milestones_[i - 1]);
  }
  start();
}

std::pair<LRScheduler*, std::int64_t> SequentialLR::active(std::int64_t epoch) const {
  const auto idx = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  const std::int64_t begin = idx == 0 ? 0 : milestones_[idx - 1];
  return {schedulers_[idx].get(), epoch - begin};
}

std::vector<double> SequentialLR::lr_at(std::int64_t epoch) const {
  auto [s, local] = active(epoch);
  return s->lr_at(local);
}

void SequentialLR::apply(std::int64_t epoch) {
  auto [s, local] = active(epoch);
  s->go_to(local);
  last_lr_ = s->last_lr_;
}

// ---- OneCycleLR

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : LRScheduler("one_cycle_lr", optimizer), options_(options) {
  const auto& o = options_;
  auto& groups = optimizer.param_groups();
  if (o.total_steps <= 0) fail(op_, "total_steps must be > 0, got {}", o.total_steps);
  if (!(o.pct_start >= 0 && o.pct_start <= 1)) fail(op_, "pct_start must be in [0, 1], got {}", o.pct_start);
  if (!(o.div_factor > 0)) fail(op_, "div_factor must be > 0, got {}", o.div_factor);
  if (!(o.final_div_factor > 0)) fail(op_, "final_div_factor must be > 0, got {}", o.final_div_factor);
  if (!o.group_max_lr.empty()) {
    if (o.group_max_lr.size() != groups.size())
      fail(op_, "expected {} values in group_max_lr (one per group), got {}", groups.size(), o.group_max_lr.size());
    max_lrs_ = o.group_max_lr;
  } else {
    max_lrs_.assign(groups.size(), o.max_lr);
  }
  for (double m : max_lrs_) {
    if (!(m >= 0)) fail(op_, "max_lr must be >= 0, got {}", m);
  }

  const double total = static_cast<double>(o.total_steps);
  if (o.three_phase) {
    phases_ = {{o.pct_start * total - 1, Level::initial, Level::peak, true, false},
               {2 * o.pct_start * total - 2, Level::peak, Level::initial, false, true},
               {total - 1, Level::initial, Level::floor, true, true}};
  } else {
    phases_ = {{o.pct_start * total - 1, Level::initial, Level::peak, true, false},
               {total - 1, Level::peak, Level::floor, false, true}};
  }

  // initial_lr = max_lr / div_factor, min_lr = initial_lr / final_div_factor
  for (std::size_t g = 0; g < groups.size(); ++g) {
    groups[g].initial_lr = max_lrs_[g] / o.div_factor;
    base_lrs_[g] = groups[g].initial_lr;
    min_lrs_.push_back(groups[g].initial_lr / o.final_div_factor);
    if (o.cycle_momentum) groups[g].momentum = o.max_momentum;
  }
  start();
}

std::pair<double, double> OneCycleLR::at(std::int64_t epoch, std::size_t g) const {
  if (epoch > options_.total_steps)
    fail(op_, "epoch {} is past the end of the cycle (total_steps = {})", epoch, options_.total_steps);
  const double lr_level[] = {base_lrs_[g], max_lrs_[g], min_lrs_[g]};
  // cos: end + (start - end) / 2 * (1 + cos(pi * pct)); linear: start + (end - start) * pct
  // (https://arxiv.org/abs/1708.07120, fastai's annealing)
  auto anneal = [&](double from, double to, double pct) {
    if (options_.anneal == Anneal::cos) return to + (from - to) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
    return (to - from) * pct + from;
  };
  const auto step = static_cast<double>(epoch);
  double start = 0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    const Phase& ph = phases_[i];
    if (step <= ph.end_step || i + 1 == phases_.size()) {
      const double pct = (step - start) / (ph.end_step - start);
      const double m_from = ph.momentum_from_max ? options_.max_momentum : options_.base_momentum;
      const double m_to = ph.momentum_to_max ? options_.max_momentum : options_.base_momentum;
      return {anneal(lr_level[static_cast<int>(ph.lr_from)], lr_level[static_cast<int>(ph.lr_to)], pct),
              anneal(m_from, m_to, pct)};
    }
    start = ph.end_step;
  }
  return {};  // not reached: the last phase always matches
}

std::vector<double> OneCycleLR::lr_at(std::int64_t epoch) const {
  std::vector<double> lrs;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) lrs.push_back(at(epoch, g).first);
  return lrs;
}

std::vector<double> OneCycleLR::momentum_at(std::int64_t epoch) const {
  std::vector<double> ms;
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) ms.push_back(at(epoch, g).second);
  return ms;
}

void OneCycleLR::apply(std::int64_t epoch) {
  LRScheduler::apply(epoch);
  if (!options_.cycle_momentum) return;
  auto& groups = optimizer_->param_groups();
  const auto ms = momentum_at(epoch);
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].momentum = ms[g];
}

}  // namespace fovea::optim
