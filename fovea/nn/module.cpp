#include "fovea/nn/module.h"

#include <algorithm>
#include <sstream>

#include "fovea/autograd/grad_mode.h"
#include "fovea/autograd/node.h"

namespace fovea::nn {

namespace {
int g_next_module_hook = 1;

bool valid_name(const std::string& n) { return !n.empty() && n.find('.') == std::string::npos; }
}  // namespace

std::string LoadReport::str() const {
  std::string r;
  auto list = [&r](const char* what, const std::vector<std::string>& v) {
    if (v.empty()) return;
    r += fmt::format("{} {} key(s):", v.size(), what);
    for (size_t i = 0; i < v.size() && i < 20; ++i) r += "\n  " + v[i];
    if (v.size() > 20) r += fmt::format("\n  ... and {} more", v.size() - 20);
    r += "\n";
  };
  list("missing", missing);
  list("unexpected", unexpected);
  list("mismatched", mismatched);
  return r.empty() ? "all keys matched\n" : r;
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  if (!valid_name(name)) fail(type_, "invalid parameter name '{}'", name);
  if (t.defined() && requires_grad) t.requires_grad_();
  for (auto& [n, p] : params_)
    if (n == name) {
      p = t;
      return t;
    }
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  if (!valid_name(name)) fail(type_, "invalid buffer name '{}'", name);
  for (auto& [n, b] : buffers_)
    if (n == name) fail(type_, "buffer '{}' registered twice", name);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, ModulePtr m) {
  if (!valid_name(name)) fail(type_, "invalid submodule name '{}'", name);
  if (!m) fail(type_, "submodule '{}' is null", name);
  for (auto& [n, c] : children_)
    if (n == name) fail(type_, "submodule '{}' registered twice", name);
  children_.emplace_back(name, std::move(m));
}

void Module::replace_child(const std::string& name, ModulePtr m) {
  for (auto& [n, c] : children_)
    if (n == name) {
      c = std::move(m);
      return;
    }
  fail(type_, "no submodule named '{}'", name);
}

ModulePtr Module::child(const std::string& name) const {
  for (auto& [n, c] : children_)
    if (n == name) return c;
  return nullptr;
}

Module& Module::submodule(const std::string& path) {
  Module* m = this;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    auto c = m->child(part);
    if (!c) fail("module", "no submodule '{}' (failed at '{}')", path, part);
    m = c.get();
  }
  return *m;
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool params, bool recurse,
                     std::vector<const TensorImpl*>& seen) const {
  for (auto& [n, t] : params ? params_ : buffers_) {
    if (!t.defined()) continue;
    if (std::find(seen.begin(), seen.end(), t.impl()) != seen.end()) continue;
    seen.push_back(t.impl());
    out.emplace_back(prefix + n, t);
  }
  if (!recurse) return;
  for (auto& [n, c] : children_) c->collect(prefix + n + ".", out, params, true, seen);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  std::vector<const TensorImpl*> seen;
  collect("", out, true, recurse, seen);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> v;
  for (auto& [n, t] : named_parameters(recurse)) v.push_back(t);
  return v;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  std::vector<const TensorImpl*> seen;
  collect("", out, false, recurse, seen);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [n, c] : children_)
    for (auto& [cn, cm] : c->named_modules()) out.emplace_back(cn.empty() ? n : n + "." + cn, cm);
  return out;
}

std::int64_t Module::num_parameters(bool trainable_only) const {
  std::int64_t n = 0;
  for (auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on && !pinned_eval_;
  on_train(training_);
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.set_grad(Tensor());
}

void Module::apply_to_tensors(const std::function<Tensor(const Tensor&)>& f) {
  NoGradGuard ng;
  for (auto& t : parameters()) t.set_data(f(t));
  for (auto& [n, t] : named_buffers()) t.set_data(f(t));
}

void Module::to(Device d) {
  apply_to_tensors([d](const Tensor& t) { return t.detach().to(d); });
  for (auto& p : parameters())
    if (p.grad().defined()) p.set_grad(p.grad().to(d));
}

void Module::to(DType dt) {
  apply_to_tensors([dt](const Tensor& t) { return is_floating(t.dtype()) ? t.detach().to(dt) : t.detach(); });
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  std::vector<const TensorImpl*> seen;
  // PyTorch's order: each module's parameters, then its buffers, then its children
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (auto& [n, t] : m.params_)
      if (t.defined()) out.emplace_back(prefix + n, t);
    for (auto& [n, t] : m.buffers_)
      if (t.defined()) out.emplace_back(prefix + n, t);
    for (auto& [n, c] : m.children_) walk(*c, prefix + n + ".");
  };
  walk(*this, "");
  return out;
}

LoadReport Module::load_state_dict(const NamedTensors& state, bool strict) {
  LoadReport rep;
  NamedTensors mine = state_dict();
  std::vector<bool> used(state.size());
  std::vector<std::pair<Tensor, Tensor>> copies;
  for (auto& [name, t] : mine) {
    auto it = std::find_if(state.begin(), state.end(), [&name = name](auto& p) { return p.first == name; });
    if (it == state.end()) {
      rep.missing.push_back(name);
      continue;
    }
    used[it - state.begin()] = true;
    if (it->second.shape() != t.shape()) {
      rep.mismatched.push_back(
          fmt::format("{}: expected {}, got {}", name, shape_str(t.shape()), shape_str(it->second.shape())));
      continue;
    }
    copies.emplace_back(t, it->second);
  }
  for (size_t i = 0; i < state.size(); ++i)
    if (!used[i]) rep.unexpected.push_back(state[i].first);
  if (strict && !rep.ok()) fail("load_state_dict", "the weights do not match the {}:\n{}", type_, rep.str());
  NoGradGuard ng;
  for (auto& [dst, src] : copies) dst.copy_(src.to(dst.dtype()));
  return rep;
}

int Module::register_forward_pre_hook(ForwardPreHook h) {
  pre_hooks_.emplace_back(g_next_module_hook, std::move(h));
  return g_next_module_hook++;
}
int Module::register_forward_hook(ForwardHook h) {
  fwd_hooks_.emplace_back(g_next_module_hook, std::move(h));
  return g_next_module_hook++;
}
int Module::register_backward_hook(BackwardHook h) {
  bwd_hooks_.emplace_back(g_next_module_hook, std::move(h));
  return g_next_module_hook++;
}
void Module::remove_hook(int handle) {
  auto drop = [handle](auto& v) { std::erase_if(v, [handle](auto& p) { return p.first == handle; }); };
  drop(pre_hooks_);
  drop(fwd_hooks_);
  drop(bwd_hooks_);
}

namespace {
// A new handle on the same data whose backward passes the gradient through `fn`.
Tensor identity_with(const char* name, const Tensor& x, std::function<Tensor(const Tensor&)> fn) {
  Tensor alias = make_view(x, x.shape(), x.strides(), x.offset());
  return autograd::record(name, alias, {x},
                          [fn = std::move(fn)](const Tensor& g) { return std::vector<Tensor>{fn(g)}; });
}
}  // namespace

Tensor Module::operator()(const Tensor& x) {
  Tensor in = x;
  for (auto& [id, h] : pre_hooks_) {
    Tensor r = h(*this, in);
    if (r.defined()) in = r;
  }
  const bool bw = !bwd_hooks_.empty() && grad_enabled() && in.defined() && in.requires_grad();
  auto grad_out = std::make_shared<Tensor>();
  if (bw) {
    // the gradient reaching the input node runs after the output node has recorded grad_output;
    // a module owned by a shared_ptr that is gone by then runs no hooks
    std::weak_ptr<Module> owner = weak_from_this();
    const bool owned = !owner.expired();
    in = identity_with("BackwardHookIn", in, [this, owner, owned, grad_out](const Tensor& g) {
      auto keep = owner.lock();
      if (owned && !keep) return g;
      Tensor gi = g;
      for (auto& [id, h] : bwd_hooks_) {
        Tensor r = h(*this, gi, *grad_out);
        if (r.defined()) gi = r;
      }
      return gi;
    });
  }
  Tensor out = forward(in);
  for (auto& [id, h] : fwd_hooks_) {
    Tensor r = h(*this, in, out);
    if (r.defined()) out = r;
  }
  if (bw && out.requires_grad())
    out = identity_with("BackwardHookOut", out, [grad_out](const Tensor& g) {
      *grad_out = g;
      return g;
    });
  return out;
}

std::string Module::repr() const {
  std::string r = type_ + "(" + extra_repr();
  if (children_.empty()) return r + ")";
  r += "\n";
  for (auto& [n, c] : children_) {
    std::string cr = c->repr();
    std::string indented;
    for (char ch : cr) indented += ch == '\n' ? std::string("\n  ") : std::string(1, ch);
    r += "  (" + n + "): " + indented + "\n";
  }
  return r + ")";
}

ScopedHooks::~ScopedHooks() {
  for (auto& [m, h] : hooks_) m->remove_hook(h);
}

}  // namespace fovea::nn
