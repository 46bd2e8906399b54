#include <fovea/nn/nn.h>

#include <cstdio>

int main() {
  auto conv = fovea::nn::make<fovea::nn::Conv2d>({.in = 3, .out = 8, .kernel = 3, .padding = 1});
  fovea::Tensor y = (*conv)(fovea::randn({1, 3, 8, 8}));
  std::printf("%s\n", fovea::shape_str(y.shape()).c_str());
  return y.shape() == fovea::Shape{1, 8, 8, 8} ? 0 : 1;
}
