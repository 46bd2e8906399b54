#include "fovea/nn/init.h"

#include <cmath>

#include "fovea/autograd/grad_mode.h"
#include "fovea/ops/ops.h"

namespace fovea::nn::init {

std::pair<std::int64_t, std::int64_t> fans(const Tensor& w) {
  if (w.dim() < 2) fail("init", "fan in and fan out need a tensor with at least 2 dims, got {}", shape_str(w.shape()));
  std::int64_t field = 1;
  for (std::int64_t i = 2; i < w.dim(); ++i) field *= w.size(i);
  return {w.size(1) * field, w.size(0) * field};
}

double gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "conv2d" || nl == "sigmoid" || nl == "identity") return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nl == "selu") return 0.75;
  fail("init", "unknown nonlinearity '{}'", nl);
}

// Initialisers write in place on parameters, drawing on the host (ops' random fills), so a
// seed gives the same weights on every device.
void uniform_(const Tensor& t, double lo, double hi, Generator& g) {
  NoGradGuard ng;
  fovea::fill_uniform_(t, lo, hi, g);
}
void normal_(const Tensor& t, double mean, double std, Generator& g) {
  NoGradGuard ng;
  fovea::fill_normal_(t, mean, std, g);
}
void constant_(const Tensor& t, double v) {
  NoGradGuard ng;
  t.fill_(v);
}

static double kaiming_std(const Tensor& t, double a, FanMode mode, const std::string& nl) {
  auto [fi, fo] = fans(t);
  return gain(nl, a) / std::sqrt(static_cast<double>(mode == FanMode::fan_in ? fi : fo));
}

void kaiming_uniform_(const Tensor& t, double a, FanMode mode, const std::string& nl, Generator& g) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  uniform_(t, -bound, bound, g);
}
void kaiming_normal_(const Tensor& t, double a, FanMode mode, const std::string& nl, Generator& g) {
  normal_(t, 0, kaiming_std(t, a, mode, nl), g);
}
void xavier_uniform_(const Tensor& t, double gn, Generator& g) {
  auto [fi, fo] = fans(t);
  double bound = gn * std::sqrt(6.0 / static_cast<double>(fi + fo));
  uniform_(t, -bound, bound, g);
}
void xavier_normal_(const Tensor& t, double gn, Generator& g) {
  auto [fi, fo] = fans(t);
  normal_(t, 0, gn * std::sqrt(2.0 / static_cast<double>(fi + fo)), g);
}

void default_layer_init_(const Tensor& w, const Tensor& b, Generator& g) {
  kaiming_uniform_(w, std::sqrt(5.0), FanMode::fan_in, "leaky_relu", g);
  if (!b.defined()) return;
  const double bound = 1.0 / std::sqrt(static_cast<double>(fans(w).first));
  uniform_(b, -bound, bound, g);
}

}  // namespace fovea::nn::init
