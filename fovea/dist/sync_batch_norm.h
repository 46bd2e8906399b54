#pragma once
// Synchronised batch norm for data-parallel training (docs/distributed.md), as
// torch.nn.SyncBatchNorm.convert_sync_batchnorm: every BatchNorm2d of a model normalises with
// the statistics of the whole global batch instead of its rank's share.
//
//   dist::init();
//   dist::sync_batch_norm(*model);        // before wrapping it
//   dist::DataParallel ddp(model);
#include "fovea/core/tensor.h"
#include "fovea/nn/module.h"

namespace fovea::dist {

// x summed over every rank (all_reduce into a new tensor), differentiable: backward sums the
// ranks' gradients the same way. In a world of one, x itself.
Tensor sum_over_ranks(const Tensor& x);

// Makes every BatchNorm2d in `model` synchronise its batch statistics over the ranks (forward
// all-reduces the per-channel sums, backward their gradients) and returns how many it changed.
// Every rank must call it, and then run the same forward passes. In a world of one it changes
// nothing (the local statistics are the global ones) and returns 0.
int sync_batch_norm(nn::Module& model);

}  // namespace fovea::dist
