// Transfer learning on modules: freezing by name pattern, frozen batch norm, replacing layers.
#include <fnmatch.h>

#include "fovea/nn/module.h"

namespace fovea::nn {

namespace {

bool matches(const std::string& glob, const std::string& name) { return fnmatch(glob.c_str(), name.c_str(), 0) == 0; }

// Every module with running statistics, with its path.
std::vector<std::pair<std::string, Module*>> norm_layers(Module& root) {
  std::vector<std::pair<std::string, Module*>> out;
  for (auto& [name, m] : root.named_modules())
    for (auto& [b, t] : m->named_buffers(false))
      if (b == "running_mean") out.emplace_back(name, m);
  return out;
}

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

std::vector<std::string> set_requires_grad(Module& root, const std::string& glob, bool on, const char* op) {
  if (glob.empty()) fail(op, "empty pattern");
  std::vector<std::string> hit;
  for (auto& [name, p] : root.named_parameters())
    if (matches(glob, name)) {
      p.requires_grad_(on);
      hit.push_back(name);
    }
  return hit;
}

}  // namespace

std::vector<std::string> Module::freeze(const std::string& glob, bool bn_update) {
  auto hit = set_requires_grad(*this, glob, false, "freeze");
  bool stats_match = false;
  for (auto& [name, m] : norm_layers(*this)) {
    const bool stats = matches(glob, join(name, "running_mean"));
    stats_match |= stats;
    bool all_frozen = true;
    for (auto& [k, p] : m->named_parameters(false)) all_frozen &= !p.requires_grad();
    const bool frozen = stats || (all_frozen && !m->named_parameters(false).empty());
    if (frozen && !bn_update) m->pin_eval(true);
  }
  if (hit.empty() && !stats_match)
    fail("freeze", "no parameter matches '{}' (names look like '{}')", glob,
         named_parameters().empty() ? std::string("-") : named_parameters().front().first);
  return hit;
}

std::vector<std::string> Module::unfreeze(const std::string& glob) {
  auto hit = set_requires_grad(*this, glob, true, "unfreeze");
  if (hit.empty())
    fail("unfreeze", "no parameter matches '{}' (names look like '{}')", glob,
         named_parameters().empty() ? std::string("-") : named_parameters().front().first);
  for (auto& [name, m] : norm_layers(*this)) {
    bool any = false;
    for (auto& [k, p] : m->named_parameters(false)) any |= p.requires_grad();
    if (any || matches(glob, join(name, "running_mean"))) m->pin_eval(false);
  }
  return hit;
}

NamedTensors Module::named_trainable_parameters() const {
  NamedTensors out;
  for (auto& [name, p] : named_parameters())
    if (p.requires_grad()) out.emplace_back(name, p);
  return out;
}

std::vector<Tensor> Module::trainable_parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, p] : named_trainable_parameters()) out.push_back(p);
  return out;
}

void Module::pin_eval(bool on) {
  pinned_eval_ = on;
  if (on) {
    training_ = false;
    on_train(false);
  }
}

bool Module::adopt_child(const std::string&, const ModulePtr&) { return false; }

ModulePtr Module::replace_module(const std::string& path, ModulePtr m) {
  if (!m) fail("replace_module", "the new module for '{}' is null", path);
  const auto dot = path.rfind('.');
  Module& parent = dot == std::string::npos ? *this : submodule(path.substr(0, dot));
  const std::string name = dot == std::string::npos ? path : path.substr(dot + 1);
  ModulePtr old = parent.child(name);
  if (!old) fail("replace_module", "no submodule '{}'", path);
  parent.replace_child(name, m);
  if (!parent.adopt_child(name, m)) {
    parent.replace_child(name, old);
    fail("replace_module",
         "'{}' is a child of a {} that keeps its own pointer to it; it cannot be replaced "
         "(replace a Sequential's children, or override adopt_child)",
         path, parent.type());
  }
  m->train(is_training());
  return old;
}

}  // namespace fovea::nn
