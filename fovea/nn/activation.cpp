#include "fovea/nn/activation.h"

namespace fovea::nn {

std::string LeakyReLU::extra_repr() const { return fmt::format("negative_slope={}", o_.negative_slope); }
std::string ELU::extra_repr() const { return fmt::format("alpha={}", o_.alpha); }
std::string Softmax::extra_repr() const { return fmt::format("dim={}", o_.dim); }
std::string LogSoftmax::extra_repr() const { return fmt::format("dim={}", o_.dim); }

}  // namespace fovea::nn
