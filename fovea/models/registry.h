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
  // a stem without the early down-sampling, for 28x28 and 32x32 images (where it makes sense)
  bool small_input = false;
  bool plain = false;          // resnet18/34: the same network without shortcuts
  bool aux_logits = true;      // googlenet: the two auxiliary classifiers (used in training only)
  bool inception_5x5 = false;  // googlenet: the paper's 5x5 branch (torchvision uses 3x3)
  bool rbf_head = true;        // lenet5_1998: the paper's RBF output layer (else a linear one)
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

// One entry of the zoo: its description and its constructor.
struct ZooEntry {
  ModelInfo info;
  std::function<nn::ModulePtr(const ModelOptions&)> make;
};

// The zoo's explicit lists, one per group of families (registry.cpp concatenates them).
std::vector<ZooEntry> zoo_lenet();     // lenet.cpp
std::vector<ZooEntry> zoo_classic();   // zoo_classic.cpp: alexnet, zfnet, vgg, googlenet, squeezenet, mobilenet
std::vector<ZooEntry> zoo_residual();  // zoo_residual.cpp: resnet, resnext, wide resnet, senet, densenet, shufflenet,
                                       // xception, inception-resnet

nn::ModulePtr lenet5(const ModelOptions& o);
nn::ModulePtr lenet5_1998(const ModelOptions& o);
nn::ModulePtr inception_resnet_v2(const ModelOptions& o);  // residual_inception.cpp

}  // namespace fovea::models
