// Synchronised batch norm (sync_batch_norm.h): the differentiable sum over ranks that
// nn::BatchNorm2d's synchronised path calls.
#include "fovea/dist/sync_batch_norm.h"

#include "fovea/autograd/grad_mode.h"
#include "fovea/autograd/node.h"
#include "fovea/dist/dist.h"
#include "fovea/nn/norm.h"

namespace fovea::dist {

namespace {

// A contiguous copy of t, summed over the ranks.
Tensor summed_copy(const Tensor& t) {
  NoGradGuard ng;
  Tensor out = t.contiguous().clone();
  all_reduce(out);
  return out;
}

}  // namespace

Tensor sum_over_ranks(const Tensor& x) {
  if (world_size() == 1) return x;
  // every rank's loss depends on the sum, so each rank's share of it gets the sum of the
  // gradients that reached the sum on every rank
  return autograd::record("sum_over_ranks", summed_copy(x.detach()), {x},
                          [](const Tensor& g) { return std::vector<Tensor>{summed_copy(g)}; });
}

int sync_batch_norm(nn::Module& model) {
  if (world_size() == 1) return 0;
  int changed = 0;
  for (auto& [name, m] : model.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      bn->sync_statistics(sum_over_ranks);
      ++changed;
    }
  return changed;
}

}  // namespace fovea::dist
