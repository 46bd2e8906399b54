// Topological backward over the dynamic tape (Kahn's algorithm on dependency counts).
#include <unordered_map>
#include <unordered_set>

#include "fovea/autograd/grad_mode.h"
#include "fovea/autograd/node.h"
#include "fovea/ops/ops.h"

namespace fovea {

namespace {
thread_local bool g_grad_enabled = true;
}
bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

namespace autograd {

namespace {
thread_local std::vector<std::function<void()>> g_callbacks;
thread_local bool g_in_backward = false;

// Marks the thread as running a backward pass; callbacks queued by a failed pass are dropped.
class BackwardScope {
 public:
  BackwardScope() : outer_(g_in_backward) { g_in_backward = true; }
  ~BackwardScope() {
    g_in_backward = outer_;
    if (!outer_) g_callbacks.clear();
  }
  BackwardScope(const BackwardScope&) = delete;
  BackwardScope& operator=(const BackwardScope&) = delete;
  bool nested() const { return outer_; }

 private:
  bool outer_;
};
}  // namespace

void queue_callback(std::function<void()> f) {
  if (g_in_backward) g_callbacks.push_back(std::move(f));
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad) {
  if (!fn)
    fail(name,
         "trying to backward through the graph a second time (or after its saved tensors were freed); "
         "pass retain_graph=true to the first backward");
  return fn(grad);
}

static Tensor run_hooks(const std::vector<std::pair<int, TensorHook>>& hooks, Tensor g) {
  for (auto& [id, h] : hooks) {
    Tensor r = h(g);
    if (r.defined()) {
      if (r.shape() != g.shape())
        fail("hook", "hook returned a gradient of shape {}, expected {}", shape_str(r.shape()), shape_str(g.shape()));
      g = r;
    }
  }
  return g;
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad) {
  Tensor g = run_hooks(leaf->hooks, grad);
  if (!leaf->grad.defined()) {
    // own the memory: the incoming gradient may alias a saved tensor or an expanded view
    leaf->grad = g.contiguous().same(g) && g.storage().use_count() == 1 ? g : g.clone();
    if (leaf->grad.shape() != leaf->shape) leaf->grad = leaf->grad.reshape(leaf->shape);
  } else {
    leaf->grad.add_(g);
  }
  return {};
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  auto* impl = t.impl();
  if (impl->grad_fn) return impl->grad_fn;
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    auto a = std::make_shared<AccumulateGrad>();
    a->name = "AccumulateGrad";
    a->leaf = t.impl_ptr();
    impl->grad_accumulator = a;
    acc = a;
  }
  return acc;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  for (auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, Tensor out, const std::vector<Tensor>& inputs, BackwardFn fn) {
  if (!grad_enabled() || !any_requires_grad(inputs)) return out;
  auto node = std::make_shared<FunctionNode>();
  node->name = name;
  node->fn = std::move(fn);
  node->next.reserve(inputs.size());
  for (auto& t : inputs) node->next.push_back(gradient_edge(t));
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NoGradGuard no_grad;
  BackwardScope scope;
  std::unordered_map<Node*, int> deps;
  std::unordered_map<Node*, Tensor> pending;
  std::vector<std::shared_ptr<Node>> stack;
  std::unordered_set<Node*> seen;

  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    if (!r.requires_grad()) fail("backward", "tensor does not require grad and has no grad_fn");
    Tensor g = grads[i];
    if (!g.defined()) {
      if (r.numel() != 1)
        fail("backward", "grad can be implicitly created only for scalar outputs, got shape {}", shape_str(r.shape()));
      g = ones_like(r);
    } else if (g.shape() != r.shape()) {
      fail("backward", "gradient of shape {} given for a tensor of shape {}", shape_str(g.shape()),
           shape_str(r.shape()));
    }
    auto n = gradient_edge(r);
    auto& p = pending[n.get()];
    p = p.defined() ? add(p, g) : g;
    if (seen.insert(n.get()).second) stack.push_back(n);
  }
  std::vector<std::shared_ptr<Node>> root_nodes = stack;
  // count, for every reachable node, how many edges lead into it
  while (!stack.empty()) {
    auto n = stack.back();
    stack.pop_back();
    for (auto& nx : n->next) {
      if (!nx) continue;
      deps[nx.get()]++;
      if (seen.insert(nx.get()).second) stack.push_back(nx);
    }
  }
  std::vector<std::shared_ptr<Node>> ready;
  for (auto& n : root_nodes)
    if (deps[n.get()] == 0) ready.push_back(n);
  while (!ready.empty()) {
    auto n = std::move(ready.back());
    ready.pop_back();
    Tensor g = std::move(pending[n.get()]);
    pending.erase(n.get());
    // a node whose every incoming gradient was undefined passes nothing on
    std::vector<Tensor> outs;
    if (g.defined()) {
      if (!n->pre_hooks.empty()) g = run_hooks(n->pre_hooks, g);
      outs = n->apply(g);
    }
    g = Tensor();
    if (!retain_graph) n->release();
    for (size_t i = 0; i < n->next.size(); ++i) {
      auto& nx = n->next[i];
      if (!nx) continue;
      if (i < outs.size() && outs[i].defined()) {
        auto& p = pending[nx.get()];
        p = p.defined() ? add(p, outs[i]) : outs[i];
      }
      if (--deps[nx.get()] == 0) ready.push_back(nx);
    }
  }
  // the outermost pass runs what its hooks queued, in order (a callback may queue more)
  if (!scope.nested())
    for (std::size_t i = 0; i < g_callbacks.size(); ++i) {
      auto f = std::move(g_callbacks[i]);
      f();
    }
}

}  // namespace autograd
}  // namespace fovea
