#pragma once
// Optimizers with PyTorch's update rules and parameter groups.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::optim {

// A set of parameters with its own hyper-parameters, e.g. a pretrained backbone at a low lr
// and a new head at a high one. Fields < 0 take the optimizer's default at construction.
struct ParamGroup {
  std::vector<Tensor> params{};
  double lr = -1;            // < 0: the optimizer's default
  double weight_decay = -1;  // < 0: the optimizer's default
  double momentum = -1;      // < 0: the optimizer's default (SGD: momentum, Adam: beta1); OneCycleLR cycles it
  double initial_lr = -1;    // < 0 until a schedule records the group's lr; schedules scale from it
  std::string name{};
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; the others are skipped.
  virtual void step() = 0;
  // set_to_none drops the gradients (the next backward allocates them); otherwise zeroes them.
  void zero_grad(bool set_to_none = true);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // The op name that prefixes this optimizer's errors: "sgd", "adam", "adamw".
  const std::string& name() const { return op_; }

  // Per-parameter state as named tensors ("{group}.{index}.{slot}", e.g. "0.3.exp_avg", and
  // "{group}.{index}.step") plus each group's hyper-parameters ("{group}.lr", "{group}.initial_lr",
  // "{group}.weight_decay", "{group}.momentum", "{group}.size"), for checkpoints. The tensors alias
  // the live state: clone them to keep a snapshot. load_state_dict checks every name and shape
  // before it changes anything, and copies the values.
  virtual NamedTensors state_dict() const;
  virtual void load_state_dict(const NamedTensors& state);

 protected:
  struct GroupDefaults {
    double lr = -1;
    double weight_decay = 0;
    double momentum = 0;
  };
  // The state of one parameter; empty until its first update.
  struct ParamState {
    std::map<std::string, Tensor> buffers;  // each of the parameter's shape, dtype and device
    std::int64_t step = 0;                  // updates applied (Adam's bias correction)
    bool empty() const { return buffers.empty() && step == 0; }
  };

  // Resolves the groups' defaults and checks the parameters (defined, floating, leaf, each in
  // one group only); `op` prefixes every error.
  Optimizer(std::string op, std::vector<ParamGroup> groups, const GroupDefaults& defaults);
  // The groups a list of parameters makes: one group with every field at the default.
  static std::vector<ParamGroup> single_group(std::vector<Tensor> params);

  ParamState& state(std::size_t group, std::size_t index);
  // The indices of a group's parameters that have a gradient, split by device and dtype (in order
  // of first appearance): each part is one fused backend step (backend.h: sgd_step, adam_step).
  std::vector<std::vector<std::size_t>> grad_buckets(std::size_t group) const;

  // Contiguous stand-ins for the tensors of a fused backend step, which takes contiguous tensors
  // only. Parameters and their state are contiguous in practice; a non-contiguous one is updated
  // through a contiguous copy that write_back() copies into it.
  class Staging {
   public:
    // t as a contiguous tensor of dtype, only read (a gradient)
    Tensor read(const Tensor& t, DType dtype);
    // t itself when contiguous, else a contiguous copy to be written back
    Tensor update(const Tensor& t);
    void write_back();

   private:
    std::vector<std::pair<Tensor, Tensor>> copies_;  // (contiguous copy, original)
  };
  // The buffers a parameter of this group holds once updated (load_state_dict requires exactly these).
  virtual std::vector<std::string> buffer_slots(const ParamGroup& group) const = 0;
  // Whether ParamState::step is part of the state (Adam's bias correction needs it).
  virtual bool counts_steps() const { return false; }

  std::string op_;
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  // [group][index], grown on use
};

}  // namespace fovea::optim
