// Device parity of the fused optimizer steps: SGD, Adam and AdamW on CUDA (cuda/optim.cu) against
// the CPU backend's, in f32 and f64, over several steps, with more parameters than one launch
// takes (24), parameters of one element and of more than one block's chunk, and parameters
// without a gradient at some steps. Both compute each operation as the separate tensor ops do
// (backend/optim_math.h), so they should agree to the bit; the tolerance allows the last one.
// Skipped, with a message saying so, where fovea was built without CUDA or the machine has no GPU.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fovea/backend/backend.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/optim.h"
#include "tests/cuda/cuda_test.h"
#include "tests/test_util.h"

using namespace fovea;
using namespace fovea::optim;

namespace {

const Device kCuda{DeviceType::cuda, 0};

class OptimParity : public ::testing::Test {
 protected:
  void SetUp() override { FOVEA_SKIP_WITHOUT_CUDA("fused optimizer parity"); }
};

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;

// The same optimizer on CPU and CUDA parameters: equal (to rtol) after every step, the device's
// gradients unchanged.
void check(const std::string& what, DType dt, const MakeOptimizer& make) {
  Generator gen(11);
  std::vector<Tensor> cpu, gpu;
  for (int i = 0; i < 30; ++i) {
    const Shape s = i == 0 ? Shape{1} : i == 1 ? Shape{3, 9000} : Shape{i % 7 + 1, 5};
    const Tensor p = randn(s, {.dtype = dt}, gen);
    cpu.push_back(p.clone().requires_grad_(true));
    gpu.push_back(p.to(kCuda).requires_grad_(true));
  }
  auto opt_cpu = make(cpu), opt_gpu = make(gpu);
  const double rtol = dt == DType::f32 ? 1e-6 : 1e-14;
  for (int step = 0; step < 4; ++step) {
    std::vector<Tensor> grads;
    for (std::size_t i = 0; i < cpu.size(); ++i) {
      const bool missing = i % 5 == 2 && step % 2 == 0;
      const Tensor g = missing ? Tensor{} : randn(cpu[i].shape(), {.dtype = dt}, gen);
      grads.push_back(g);
      cpu[i].set_grad(g);
      gpu[i].set_grad(missing ? Tensor{} : g.to(kCuda));
    }
    opt_cpu->step();
    opt_gpu->step();
    for (std::size_t i = 0; i < cpu.size(); ++i) {
      const std::string at = what + " " + std::string(dtype_name(dt)) + ", step " + std::to_string(step) +
                             ", parameter " + std::to_string(i);
      ASSERT_EQ(gpu[i].device(), kCuda) << at;
      test::expect_close(gpu[i].to(kCPU), cpu[i], rtol, at);
      if (grads[i].defined()) test::expect_close(gpu[i].grad().to(kCPU), grads[i], 0, at + ": gradient modified");
    }
  }
}

const DType kDtypes[] = {DType::f32, DType::f64};

TEST_F(OptimParity, Sgd) {
  for (DType dt : kDtypes) {
    check("sgd", dt, [](auto p) { return std::make_unique<SGD>(std::move(p), SGDOptions{.lr = 0.1}); });
    check("sgd momentum dampening decay", dt, [](auto p) {
      return std::make_unique<SGD>(std::move(p),
                                   SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.2, .weight_decay = 5e-4});
    });
    check("sgd nesterov", dt, [](auto p) {
      return std::make_unique<SGD>(std::move(p),
                                   SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
    });
  }
}

TEST_F(OptimParity, Adam) {
  for (DType dt : kDtypes) {
    check("adam decay", dt,
          [](auto p) { return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 1e-2, .weight_decay = 1e-2}); });
    check("adam amsgrad", dt,
          [](auto p) { return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 1e-2, .amsgrad = true}); });
    check("adamw amsgrad", dt, [](auto p) {
      return std::make_unique<AdamW>(std::move(p), AdamWOptions{.lr = 1e-2, .weight_decay = 0.05, .amsgrad = true});
    });
  }
}

}  // namespace
