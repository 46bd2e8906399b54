#include "fovea/models/registry.h"

#include "fovea/models/spec.h"

#include <algorithm>

namespace fovea::models {

namespace {

struct Entry {
  ModelInfo info;
  std::function<nn::ModulePtr(const ModelOptions&)> make;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> e{
      {{"lenet5", "LeNet-5, modern form: ReLU and max-pooling, 61,706 parameters at 10 classes",
        "LeCun et al. 1998, Gradient-based learning applied to document recognition", {1, 28, 28}},
       lenet5},
  };
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
  std::string known;
  for (auto& e : entries()) known += (known.empty() ? "" : ", ") + e.info.name;
  fail("models", "unknown model '{}' (known: {})", name, known);
}

}  // namespace fovea::models
