// LeNet-5 in its common modern form (LeCun et al. 1998 with ReLU and max-pooling):
// conv 6@5x5 pad 2 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 -> classes.
// Input (C,28,28); 61,706 parameters for one channel and 10 classes.
#include "fovea/models/registry.h"
#include "fovea/nn/layers.h"

namespace fovea::models {

std::vector<ZooEntry> zoo_lenet() {
  return {{{"lenet5", "LeNet-5, modern form: ReLU and max-pooling, 61,706 parameters at 10 classes",
            "LeCun et al. 1998, Gradient-based learning applied to document recognition", {1, 28, 28}},
           lenet5}};
}

nn::ModulePtr lenet5(const ModelOptions& o) {
  auto features = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Conv2d>({.in = o.in_channels, .out = 6, .kernel = 5, .padding = 2}), nn::make<nn::ReLU>(),
      nn::make<nn::MaxPool2d>({.kernel = 2}), nn::make<nn::Conv2d>({.in = 6, .out = 16, .kernel = 5}),
      nn::make<nn::ReLU>(), nn::make<nn::MaxPool2d>({.kernel = 2})});
  auto classifier = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      nn::make<nn::Linear>({.in = 16 * 5 * 5, .out = 120}), nn::make<nn::ReLU>(),
      nn::make<nn::Linear>({.in = 120, .out = 84}), nn::make<nn::ReLU>(),
      nn::make<nn::Linear>({.in = 84, .out = o.num_classes})});
  auto net = std::make_shared<nn::Sequential>();
  net->add("features", features);
  net->add("flatten", nn::make<nn::Flatten>());
  net->add("classifier", classifier);
  return net;
}

}  // namespace fovea::models
