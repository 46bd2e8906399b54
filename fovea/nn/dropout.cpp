#include "fovea/nn/dropout.h"

namespace fovea::nn {

Dropout::Dropout(Options o) : WithOptions("Dropout", o) {
  if (o.p < 0 || o.p > 1) fail("Dropout", "p must be in [0, 1], got {}", o.p);
}
std::string Dropout::extra_repr() const { return fmt::format("p={}", o_.p); }

}  // namespace fovea::nn
