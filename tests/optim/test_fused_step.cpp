// The fused optimizer steps (Backend::sgd_step / adam_step, used by SGD, Adam and AdamW) against
// torch.optim's single-tensor updates written here with separate tensor ops: the same bits, in f32
// and f64, over several steps, for parameters of one element, a few and more than one chunk
// (8192 elements), some without a gradient at some steps.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "fovea/autograd/grad_mode.h"
#include "fovea/backend/backend.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/optim.h"
#include "tests/test_util.h"

using namespace fovea;
using namespace fovea::optim;

namespace {

constexpr int kSteps = 4;

// One element, a few, more than one chunk, and parameters that miss gradients (see grads_for).
const std::vector<Shape> kShapes = {{1}, {3, 4}, {5, 7000}, {7}, {2, 3, 3}};

std::vector<Tensor> make_params(DType dt, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> params;
  for (const Shape& s : kShapes) params.push_back(randn(s, {.dtype = dt}, gen).requires_grad_(true));
  return params;
}

// grads[step][i]: parameter 3 has none at steps 0 and 2 (its state starts at step 1), parameter
// 1 none at step 2.
std::vector<std::vector<Tensor>> grads_for(const std::vector<Tensor>& params, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<std::vector<Tensor>> grads(kSteps);
  for (int s = 0; s < kSteps; ++s) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      const bool missing = (i == 3 && s % 2 == 0) || (i == 1 && s == 2);
      grads[s].push_back(missing ? Tensor{} : randn(params[i].shape(), {.dtype = params[i].dtype()}, gen));
    }
  }
  return grads;
}

std::vector<Tensor> clones(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(t.detach().clone().requires_grad_(true));
  return out;
}

// torch/optim/sgd.py's _single_tensor_sgd with separate tensor ops
struct ReferenceSgd {
  SGDOptions o;
  std::map<std::size_t, Tensor> buffers{};
  void step(const std::vector<Tensor>& params) {
    NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Tensor& p = params[i];
      Tensor d = p.grad();
      if (!d.defined()) continue;
      if (o.weight_decay != 0) d = d.clone().add_(p, o.weight_decay);
      if (o.momentum != 0) {
        auto it = buffers.find(i);
        if (it == buffers.end()) it = buffers.emplace(i, d.clone()).first;
        else it->second.mul_(o.momentum).add_(d, 1 - o.dampening);
        d = o.nesterov ? d.clone().add_(it->second, o.momentum) : it->second;
      }
      p.add_(d, -o.lr);
    }
  }
};

// torch/optim/adam.py's and adamw.py's _single_tensor_adam(w) with separate tensor ops
struct ReferenceAdam {
  AdamOptions o;
  bool decoupled = false;
  struct State {
    Tensor m, v, v_max;
    int step = 0;
  };
  std::map<std::size_t, State> state{};
  void step(const std::vector<Tensor>& params) {
    NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Tensor& p = params[i];
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto [it, fresh] = state.try_emplace(i);
      State& s = it->second;
      if (fresh) s = {zeros_like(p), zeros_like(p), zeros_like(p), 0};
      s.step += 1;
      if (decoupled) p.mul_(1 - o.lr * o.weight_decay);
      else if (o.weight_decay != 0) g = g.clone().add_(p, o.weight_decay);
      s.m.mul_(o.beta1).add_(g, 1 - o.beta1);
      s.v.mul_(o.beta2).addcmul_(g, g, 1 - o.beta2);
      const double step_size = o.lr / (1 - std::pow(o.beta1, s.step));
      const double bias_correction2_sqrt = std::sqrt(1 - std::pow(o.beta2, s.step));
      Tensor second = s.v;
      if (o.amsgrad) {
        s.v_max.copy_(maximum(s.v_max, s.v));
        second = s.v_max;
      }
      p.addcdiv_(s.m, sqrt(second) / bias_correction2_sqrt + o.eps, -step_size);
    }
  }
};

// Steps the optimizer and the reference on the same gradients and expects equal bits after every
// step, and the gradients unchanged.
template <typename Reference>
void expect_same_steps(Optimizer& opt, const std::vector<Tensor>& params, Reference& ref,
                       const std::vector<Tensor>& ref_params, const std::vector<std::vector<Tensor>>& grads,
                       const std::string& what) {
  for (int s = 0; s < kSteps; ++s) {
    std::vector<Tensor> saved;
    for (std::size_t i = 0; i < params.size(); ++i) {
      params[i].set_grad(grads[s][i]);
      ref_params[i].set_grad(grads[s][i]);
      saved.push_back(grads[s][i].defined() ? grads[s][i].clone() : Tensor{});
    }
    opt.step();
    ref.step(ref_params);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const std::string at = what + ", step " + std::to_string(s) + ", parameter " + std::to_string(i);
      test::expect_close(params[i], ref_params[i], 0, at);
      if (saved[i].defined()) test::expect_close(grads[s][i], saved[i], 0, at + ": gradient modified");
    }
  }
}

const DType kDtypes[] = {DType::f32, DType::f64};

struct SgdCase {
  const char* name;
  SGDOptions options;
};

void PrintTo(const SgdCase& c, std::ostream* os) { *os << c.name; }

class FusedSgd : public ::testing::TestWithParam<SgdCase> {};

TEST_P(FusedSgd, MatchesSeparateOpsBitForBit) {
  for (DType dt : kDtypes) {
    const auto params = make_params(dt, 1), ref_params = clones(params);
    SGD opt(params, GetParam().options);
    ReferenceSgd ref{GetParam().options};
    expect_same_steps(opt, params, ref, ref_params, grads_for(params, 2),
                      std::string(GetParam().name) + " " + std::string(dtype_name(dt)));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Options, FusedSgd,
    ::testing::Values(SgdCase{"plain", {.lr = 0.1}}, SgdCase{"weight_decay", {.lr = 0.1, .weight_decay = 1e-2}},
                      SgdCase{"momentum", {.lr = 0.05, .momentum = 0.9}},
                      SgdCase{"momentum_dampening_decay",
                              {.lr = 0.05, .momentum = 0.9, .dampening = 0.3, .weight_decay = 5e-4}},
                      SgdCase{"nesterov", {.lr = 0.05, .momentum = 0.8, .weight_decay = 1e-3, .nesterov = true}}),
    [](const auto& info) { return std::string(info.param.name); });

struct AdamCase {
  const char* name;
  AdamOptions options;
  bool decoupled;
};

void PrintTo(const AdamCase& c, std::ostream* os) { *os << c.name; }

class FusedAdam : public ::testing::TestWithParam<AdamCase> {};

TEST_P(FusedAdam, MatchesSeparateOpsBitForBit) {
  const AdamCase& c = GetParam();
  for (DType dt : kDtypes) {
    const auto params = make_params(dt, 3), ref_params = clones(params);
    std::unique_ptr<Optimizer> opt;
    if (c.decoupled) {
      const AdamOptions& o = c.options;
      opt = std::make_unique<AdamW>(params, AdamWOptions{.lr = o.lr,
                                                         .beta1 = o.beta1,
                                                         .beta2 = o.beta2,
                                                         .eps = o.eps,
                                                         .weight_decay = o.weight_decay,
                                                         .amsgrad = o.amsgrad});
    } else {
      opt = std::make_unique<Adam>(params, c.options);
    }
    ReferenceAdam ref{c.options, c.decoupled};
    expect_same_steps(*opt, params, ref, ref_params, grads_for(params, 4),
                      std::string(c.name) + " " + std::string(dtype_name(dt)));
  }
}

// AdamW's lr * weight_decay is exact in these cases, so 1 - lr * weight_decay rounds the same
// whether or not the compiler fuses it into an FMA in the reference.
INSTANTIATE_TEST_SUITE_P(
    Options, FusedAdam,
    ::testing::Values(
        AdamCase{"adam", {.lr = 1e-2}, false},
        AdamCase{"adam_weight_decay", {.lr = 1e-2, .beta1 = 0.8, .weight_decay = 1e-2}, false},
        AdamCase{"adam_amsgrad", {.lr = 1e-2, .weight_decay = 1e-3, .amsgrad = true}, false},
        AdamCase{"adamw", {.lr = 0.015625, .weight_decay = 0.5}, true},
        AdamCase{"adamw_amsgrad", {.lr = 0.03125, .beta2 = 0.99, .weight_decay = 0.25, .amsgrad = true}, true}),
    [](const auto& info) { return std::string(info.param.name); });

// f32 and f64 parameters in one group: one backend call per dtype, each as the reference.
TEST(FusedStep, MixedDtypesInOneGroup) {
  auto params = make_params(DType::f32, 5);
  params[2] = params[2].detach().to(DType::f64).requires_grad_(true);
  params[4] = params[4].detach().to(DType::f64).requires_grad_(true);
  const auto ref_params = clones(params);
  const SGDOptions o{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3};
  SGD opt(params, o);
  ReferenceSgd ref{o};
  expect_same_steps(opt, params, ref, ref_params, grads_for(params, 6), "mixed dtypes");
}

// A non-contiguous parameter is updated through a contiguous copy written back into it.
TEST(FusedStep, NonContiguousParameterIsUpdatedInPlace) {
  Generator gen(7);
  const Tensor base = randn({4, 6}, {}, gen);
  const std::vector<Tensor> params = {base.t().requires_grad_(true), randn({3}, {}, gen).requires_grad_(true)};
  ASSERT_FALSE(params[0].is_contiguous());
  const auto ref_params = clones(params);
  const AdamOptions o{.lr = 1e-2, .amsgrad = true};
  Adam opt(params, o);
  ReferenceAdam ref{o, false};
  std::vector<std::vector<Tensor>> grads(kSteps);
  for (auto& g : grads) g = {randn({6, 4}, {}, gen), randn({3}, {}, gen)};
  expect_same_steps(opt, params, ref, ref_params, grads, "non-contiguous");
  EXPECT_FALSE(params[0].is_contiguous());
  test::expect_close(base, ref_params[0].detach().t(), 0, "the base of the transposed parameter");
}

// More parameters than a CUDA launch takes (24), on the CPU here; tests/cuda checks the device.
TEST(FusedStep, ManyParameters) {
  Generator gen(8);
  std::vector<Tensor> params;
  for (int i = 0; i < 30; ++i) params.push_back(randn({i % 5 + 1, 3}, {}, gen).requires_grad_(true));
  const auto ref_params = clones(params);
  const AdamOptions o{.lr = 1e-2, .weight_decay = 1e-2};
  Adam opt(params, o);
  ReferenceAdam ref{o, false};
  std::vector<std::vector<Tensor>> grads(kSteps);
  for (auto& g : grads)
    for (const Tensor& p : params) g.push_back(randn(p.shape(), {}, gen));
  expect_same_steps(opt, params, ref, ref_params, grads, "30 parameters");
}

TEST(FusedStep, BackendRejectsBadArguments) {
  auto& be = backend::backend_for(kCPU);
  const Tensor p = zeros({2, 3}), g = zeros({2, 3});
  const std::vector<Tensor> ps{p}, gs{g};
  const backend::SgdStepParams sgd{.lr = 0.1};
  const backend::SgdStepParams sgd_momentum{.lr = 0.1, .momentum = 0.9};
  const backend::AdamStepParams adam{.lr = 0.1, .amsgrad = true};
  const std::vector<double> one{1.0};
  EXPECT_EQ(test::error_of([&] { be.sgd_step(std::vector<Tensor>{p.t()}, std::vector<Tensor>{g.t()}, {}, {}, sgd); }),
            "[sgd] params[0] is not contiguous");
  EXPECT_EQ(test::error_of([&] {
              be.sgd_step(std::vector<Tensor>{zeros({2}, {.dtype = DType::i64})},
                          std::vector<Tensor>{zeros({2}, {.dtype = DType::i64})}, {}, {}, sgd);
            }),
            "[sgd] params[0] is i64, expected f32 or f64");
  EXPECT_EQ(test::error_of([&] { be.sgd_step(ps, std::vector<Tensor>{g.to(DType::f64)}, {}, {}, sgd); }),
            "[sgd] grads[0] must be a contiguous f32 (2,3) on cpu like params[0], got f64 (2,3) on cpu");
  EXPECT_EQ(test::error_of([&] { be.sgd_step(ps, {}, {}, {}, sgd); }),
            "[sgd] expected one grads tensor per parameter (1), got 0");
  EXPECT_EQ(test::error_of([&] { be.sgd_step(ps, gs, {}, {}, sgd_momentum); }),
            "[sgd] expected one momentum_buffers tensor per parameter (1), got 0");
  EXPECT_EQ(test::error_of([&] { be.sgd_step(ps, gs, gs, std::vector<std::uint8_t>{}, sgd_momentum); }),
            "[sgd] expected one buffer_is_new flag per momentum buffer (1), got 0");
  EXPECT_EQ(test::error_of([&] { be.adam_step(ps, gs, gs, gs, {}, one, one, adam); }),
            "[adam] expected one max_exp_avg_sq tensor per parameter (1), got 0");
  EXPECT_EQ(test::error_of([&] { be.adam_step(ps, gs, gs, gs, {}, {}, one, {.lr = 0.1, .decoupled = true}); }),
            "[adamw] expected one step_size per parameter (1), got 0");
  // nothing was written
  test::expect_close(p, zeros({2, 3}), 0, "parameter after rejected calls");
}

}  // namespace
