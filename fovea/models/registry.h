#pragma once
// The model zoo: an explicit list of network families (registry.cpp), one file per family.
#include <functional>
#include <string>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::models {

struct ModelOptions {
  std::int64_t num_classes = 10;
  std::int64_t in_channels = 1;
};

struct ModelInfo {
  std::string name;
  std::string description;
  std::string reference;  // the paper
  Shape input;            // usual input (C,H,W) for in_channels = 1 where it applies
};

std::vector<ModelInfo> list();
bool has(const std::string& name);
// A name ending in .json is a network spec file (spec.h). Unknown names throw an error that
// lists the known ones.
nn::ModulePtr create(const std::string& name, const ModelOptions& o = {});

// families (one file each)
nn::ModulePtr lenet5(const ModelOptions& o);

}  // namespace fovea::models
