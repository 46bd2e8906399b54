#pragma once
// Dynamic tape: each differentiable op's output points at a Node that knows how to turn the
// gradient of that output into gradients of the op's inputs (one entry per input).
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::autograd {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad)>;

struct Node {
  std::string name;
  // one per input of the op; null where that input needs no gradient
  std::vector<std::shared_ptr<Node>> next;
  // hooks on the gradient arriving at this node (tensor hooks of non-leaf outputs)
  std::vector<std::pair<int, TensorHook>> pre_hooks;

  virtual ~Node() = default;
  virtual std::vector<Tensor> apply(const Tensor& grad) = 0;
  virtual void release() {}  // frees saved tensors once backward has used them
  virtual bool released() const { return false; }
};

// Node running a closure; saved tensors live in the closure's captures.
struct FunctionNode final : Node {
  BackwardFn fn;
  std::vector<Tensor> apply(const Tensor& grad) override;
  void release() override { fn = nullptr; }
  bool released() const override { return !fn; }
};

// Sink of a leaf tensor: runs the leaf's hooks and accumulates into its .grad.
struct AccumulateGrad final : Node {
  std::shared_ptr<TensorImpl> leaf;
  std::vector<Tensor> apply(const Tensor& grad) override;
};

// The edge an input contributes: its grad_fn, its accumulator (leaf needing grad), or null.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

// Records `out` as produced by an op of `inputs` when any input requires grad and grad mode
// is on. `fn` must capture saved tensors detached (no cycles through their grad_fn).
Tensor record(const char* name, Tensor out, const std::vector<Tensor>& inputs, BackwardFn fn);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Runs backward from `roots` with the given gradients (the engine, engine.cpp).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

// Queues f to run once, when the backward pass running on this thread has computed every
// gradient (PyTorch's queue_callback): how a gradient hook arranges work for the end of the
// pass (dist::DataParallel waits there for its all-reduces). Called outside a backward pass, or
// when the pass fails, f never runs.
void queue_callback(std::function<void()> f);

}  // namespace fovea::autograd
