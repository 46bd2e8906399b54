#include "fovea/models/registry.h"

#include "fovea/models/spec.h"
#include "fovea/onnx/import.h"

#include <algorithm>

namespace fovea::models {

namespace {

const std::vector<ZooEntry>& entries() {
  static const std::vector<ZooEntry> e = [] {
    std::vector<ZooEntry> all;
    for (auto group : {zoo_lenet, zoo_classic, zoo_residual})
      for (auto& entry : group()) all.push_back(std::move(entry));
    return all;
  }();
  return e;
}

}  // namespace

std::vector<ModelInfo> list() {
  std::vector<ModelInfo> v;
  for (auto& e : entries()) v.push_back(e.info);
  return v;
}

bool has(const std::string& name) {
  return std::any_of(entries().begin(), entries().end(), [&](auto& e) { return e.info.name == name; });
}

nn::ModulePtr create(const std::string& name, const ModelOptions& o) {
  if (o.num_classes < 1) fail("models", "num_classes must be >= 1, got {}", o.num_classes);
  if (o.in_channels < 1) fail("models", "in_channels must be >= 1, got {}", o.in_channels);
  for (auto& e : entries())
    if (e.info.name == name) return e.make(o);
  if (is_spec_path(name)) return load_spec(name).net;
  if (onnx::is_onnx_path(name)) return onnx::load_model(name);  // the file fixes classes and channels
  std::string known;
  for (auto& e : entries()) known += (known.empty() ? "" : ", ") + e.info.name;
  fail("models", "unknown model '{}' (known: {})", name, known);
}

}  // namespace fovea::models
