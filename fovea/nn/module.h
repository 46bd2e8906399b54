#pragma once
// Module: run-time composition of layers. Parameters, buffers and children are registered by
// name, so state_dict() keys match torchvision's ("layer1.0.conv1.weight").
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fovea/core/tensor.h"
#include "fovea/ops/options.h"

namespace fovea::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;

// Hooks return a replacement tensor or an undefined Tensor to keep the original.
using ForwardPreHook = std::function<Tensor(Module&, const Tensor& input)>;
using ForwardHook = std::function<Tensor(Module&, const Tensor& input, const Tensor& output)>;
// Called when the gradient w.r.t. the module's input is known (input must require grad);
// may return a replacement for grad_input.
using BackwardHook = std::function<Tensor(Module&, const Tensor& grad_input, const Tensor& grad_output)>;

// The window a custom leaf module slides over its input, for receptive-field analysis
// (analysis::summarize); the library's conv and pooling modules are known without it.
struct Window2d {
  Pair kernel = 1, stride = 1, padding = 0, dilation = 1;  // padding: top / left
};

struct LoadReport {
  std::vector<std::string> missing;     // in the module, not in the file
  std::vector<std::string> unexpected;  // in the file, not in the module
  std::vector<std::string> mismatched;  // same name, other shape ("name: expected (..), got (..)")
  std::string source;                   // nn::load: where in the file the state dict was, if not plain
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string str() const;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type) : type_(std::move(type)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  // forward with hooks: use this, not forward(), to run a module
  Tensor operator()(const Tensor& x);

  const std::string& type() const { return type_; }
  // one line of options, as in PyTorch's repr: "3, 64, kernel_size=(7, 7), stride=(2, 2)"
  virtual std::string extra_repr() const { return ""; }
  // a custom leaf that slides a window says so here (Window2d)
  virtual std::optional<Window2d> window() const { return std::nullopt; }
  // Auxiliary classifiers (GoogLeNet's two): their logits (N,classes) from the last
  // training-mode forward, each with the weight its cross-entropy gets in the training loss.
  // None by default and after an eval-mode forward. The trainer adds them (train/trainer.cpp).
  struct AuxOutput {
    Tensor logits;
    double weight = 0;
  };
  virtual std::vector<AuxOutput> auxiliary_outputs() const { return {}; }
  std::string repr() const;

  // registration (returns the registered object)
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  // introspection; parameters shared between modules appear once
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, ModulePtr>> named_children() const { return children_; }
  // every module below this one (this one first, named ""), depth first
  std::vector<std::pair<std::string, Module*>> named_modules();
  ModulePtr child(const std::string& name) const;  // nullptr when absent
  Module& submodule(const std::string& path);      // "layer1.0.conv1"; throws when absent
  std::int64_t num_parameters(bool trainable_only = false) const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  void to(Device d);
  void to(DType t);  // floating parameters and buffers only

  NamedTensors state_dict() const;
  // strict: any missing, unexpected or mismatched key throws with the full report
  LoadReport load_state_dict(const NamedTensors& state, bool strict = true);

  // ---- transfer learning (freeze.cpp)
  // Turns requires_grad off for every parameter whose name matches `glob` (fnmatch: '*' any run
  // of characters including '.', '?' one character, [...] a set; "features.*" matches
  // "features.0.weight") and returns their names; throws when nothing matches. Batch-norm
  // layers (modules with a running_mean buffer) whose parameters all end up frozen, or whose
  // running statistics match the glob, are pinned to eval mode so their statistics stay as
  // pretrained, unless bn_update.
  std::vector<std::string> freeze(const std::string& glob, bool bn_update = false);
  // The reverse; batch-norm layers with a trainable parameter again are unpinned.
  std::vector<std::string> unfreeze(const std::string& glob);
  NamedTensors named_trainable_parameters() const;
  std::vector<Tensor> trainable_parameters() const;
  // Replaces the submodule at `path` ("fc", "classifier.6") by m and returns the old one. The
  // parent must run its registered children (Sequential, Concat, ...) or take the new child in
  // adopt_child; otherwise nothing changes and the call throws.
  ModulePtr replace_module(const std::string& path, ModulePtr m);
  // A pinned module stays in eval mode whatever train() says (frozen batch norm).
  void pin_eval(bool on);
  bool eval_pinned() const { return pinned_eval_; }

  int register_forward_pre_hook(ForwardPreHook h);
  int register_forward_hook(ForwardHook h);
  int register_backward_hook(BackwardHook h);
  void remove_hook(int handle);

 protected:
  virtual void on_train(bool) {}
  // Called by replace_module after child `name` became m: a module that keeps its own typed
  // pointers to children updates them and returns true. The default refuses (false).
  virtual bool adopt_child(const std::string& name, const ModulePtr& m);
  void add_child(const std::string& name, ModulePtr m);
  void replace_child(const std::string& name, ModulePtr m);

  bool training_ = true;
  bool pinned_eval_ = false;

 private:
  void collect(const std::string& prefix, NamedTensors& out, bool params, bool recurse,
               std::vector<const TensorImpl*>& seen) const;
  void apply_to_tensors(const std::function<Tensor(const Tensor&)>& f);

  std::string type_;
  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  std::vector<std::pair<int, ForwardPreHook>> pre_hooks_;
  std::vector<std::pair<int, ForwardHook>> fwd_hooks_;
  std::vector<std::pair<int, BackwardHook>> bwd_hooks_;
};

// Hooks that last for a scope: removed when the object goes.
class ScopedHooks {
 public:
  ScopedHooks() = default;
  ~ScopedHooks();
  ScopedHooks(const ScopedHooks&) = delete;
  ScopedHooks& operator=(const ScopedHooks&) = delete;
  void pre(Module& m, ForwardPreHook h) { hooks_.emplace_back(&m, m.register_forward_pre_hook(std::move(h))); }
  void post(Module& m, ForwardHook h) { hooks_.emplace_back(&m, m.register_forward_hook(std::move(h))); }

 private:
  std::vector<std::pair<Module*, int>> hooks_;
};

// Eval mode for a scope; the module's mode before is restored when the object goes.
class EvalGuard {
 public:
  explicit EvalGuard(Module& m) : m_(m), was_training_(m.is_training()) { m.eval(); }
  ~EvalGuard() { m_.train(was_training_); }
  EvalGuard(const EvalGuard&) = delete;
  EvalGuard& operator=(const EvalGuard&) = delete;

 private:
  Module& m_;
  bool was_training_;
};

// A module configured by an options struct: keeps it, and options() gives it back (summaries,
// the exporter and transfer learning read layers' options). Layers derive from WithOptions<O>
// and read o_.
template <typename O>
class WithOptions : public Module {
 public:
  using Options = O;
  const Options& options() const { return o_; }

 protected:
  WithOptions(std::string type, Options o) : Module(std::move(type)), o_(std::move(o)) {}
  Options o_;
};

// Constructs a module from its option struct: nn::make<nn::Conv2d>({.in = 3, .out = 64, .kernel = 7}).
template <typename M>
std::shared_ptr<M> make(typename M::Options o) {
  return std::make_shared<M>(std::move(o));
}
template <typename M>
std::shared_ptr<M> make() {
  return std::make_shared<M>();
}

}  // namespace fovea::nn
