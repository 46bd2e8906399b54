// Optimizers, LR schedules and gradient clipping against PyTorch 1.13; the fixtures come from
// tests/golden/golden_optim.py (run through tests/golden/make_golden.py).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/safetensors.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/optim.h"

namespace fovea::optim {
namespace {

io::SafetensorsFile load_fixture(const std::string& name) {
  return io::load_safetensors(std::string(FOVEA_SOURCE_DIR) + "/tests/golden/fixtures/" + name + ".safetensors");
}

std::string meta(const io::SafetensorsFile& f, const std::string& key, const std::string& fallback = "") {
  auto it = f.metadata.find(key);
  return it == f.metadata.end() ? fallback : it->second;
}
double meta_d(const io::SafetensorsFile& f, const std::string& key, double fallback) {
  auto s = meta(f, key);
  return s.empty() ? fallback : std::stod(s);
}
std::int64_t meta_i(const io::SafetensorsFile& f, const std::string& key, std::int64_t fallback = 0) {
  auto s = meta(f, key);
  return s.empty() ? fallback : std::stoll(s);
}
bool meta_b(const io::SafetensorsFile& f, const std::string& key) { return meta(f, key) == "true"; }
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

std::vector<double> values(const Tensor& t) { return t.to(DType::f64).contiguous().to_vector<double>(); }

// |got - want| <= atol + rtol * |want|, element-wise; reports the first few misses.
void expect_close(const Tensor& got, const Tensor& want, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  auto g = values(got), w = values(want);
  int bad = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (!(std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i])) && ++bad <= 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << g[i] << ", want " << w[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

void expect_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  expect_close(got, want, 0, 0, what);
}

// Runs fn and checks that it throws fovea::Error whose message starts with `prefix`.
void expect_error(const std::function<void()>& fn, const std::string& prefix) {
  try {
    fn();
    ADD_FAILURE() << "expected an error starting with: " << prefix;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, prefix.size()), prefix) << "full message: " << e.what();
  }
}

// ---- the optimizer problem: initial parameters and the gradient of every step

struct Problem {
  std::vector<Tensor> init;                // (5,4) and (4,)
  std::vector<std::vector<Tensor>> grads;  // [step][param]
};

const Problem& problem() {
  static const Problem p = [] {
    auto f = load_fixture("optim_problem");
    Problem out;
    const auto n_params = meta_i(f, "params"), steps = meta_i(f, "steps");
    for (std::int64_t i = 0; i < n_params; ++i) out.init.push_back(f.at(fmt::format("param.init.{}", i)).clone());
    for (std::int64_t t = 0; t < steps; ++t) {
      out.grads.emplace_back();
      for (std::int64_t i = 0; i < n_params; ++i)
        out.grads.back().push_back(f.at(fmt::format("grad.{}.{}", t, i)).clone());
    }
    return out;
  }();
  return p;
}

std::vector<Tensor> fresh_params() {
  std::vector<Tensor> params;
  for (const auto& t : problem().init) params.push_back(t.clone().requires_grad_(true));
  return params;
}

// Sets step t's gradients; parameter 1 has none where t % skip == skip - 1.
void set_grads(const std::vector<Tensor>& params, std::size_t t, std::int64_t skip = 0) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const bool missing = i == 1 && skip > 0 && static_cast<std::int64_t>(t) % skip == skip - 1;
    params[i].set_grad(missing ? Tensor{} : problem().grads[t][i].clone());
  }
}

// The optimizer a fixture's metadata describes (its "groups" put one parameter in each group).
std::unique_ptr<Optimizer> make_optimizer(const io::SafetensorsFile& f, const std::vector<Tensor>& params) {
  std::vector<ParamGroup> groups;
  const auto n_groups = meta_i(f, "groups");
  if (n_groups == 0) groups.push_back({.params = params});
  for (std::int64_t g = 0; g < n_groups; ++g) {
    groups.push_back({.params = {params[g]},
                      .lr = meta_d(f, fmt::format("group.{}.lr", g), -1),
                      .weight_decay = meta_d(f, fmt::format("group.{}.weight_decay", g), -1)});
  }
  const auto kind = meta(f, "optimizer");
  if (kind == "sgd") {
    return std::make_unique<SGD>(groups, SGDOptions{.lr = meta_d(f, "lr", -1),
                                                    .momentum = meta_d(f, "momentum", 0),
                                                    .dampening = meta_d(f, "dampening", 0),
                                                    .weight_decay = meta_d(f, "weight_decay", 0),
                                                    .nesterov = meta_b(f, "nesterov")});
  }
  if (kind == "adam") {
    return std::make_unique<Adam>(groups, AdamOptions{.lr = meta_d(f, "lr", 1e-3),
                                                      .beta1 = meta_d(f, "beta1", 0.9),
                                                      .beta2 = meta_d(f, "beta2", 0.999),
                                                      .eps = meta_d(f, "eps", 1e-8),
                                                      .weight_decay = meta_d(f, "weight_decay", 0),
                                                      .amsgrad = meta_b(f, "amsgrad")});
  }
  if (kind == "adamw") {
    return std::make_unique<AdamW>(groups, AdamWOptions{.lr = meta_d(f, "lr", 1e-3),
                                                        .beta1 = meta_d(f, "beta1", 0.9),
                                                        .beta2 = meta_d(f, "beta2", 0.999),
                                                        .eps = meta_d(f, "eps", 1e-8),
                                                        .weight_decay = meta_d(f, "weight_decay", 1e-2),
                                                        .amsgrad = meta_b(f, "amsgrad")});
  }
  ADD_FAILURE() << "unknown optimizer '" << kind << "'";
  return nullptr;
}

// ---- golden parity: parameters after every step

class OptimizerGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(OptimizerGolden, MatchesPyTorchAfterEveryStep) {
  auto f = load_fixture(std::string("optim_") + GetParam());
  auto params = fresh_params();
  auto opt = make_optimizer(f, params);
  ASSERT_TRUE(opt);
  const auto steps = meta_i(f, "steps"), skip = meta_i(f, "skip");
  for (std::int64_t t = 0; t < steps; ++t) {
    set_grads(params, t, skip);
    opt->step();
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto name = fmt::format("param.{}.{}", t, i);
      expect_close(params[i].detach(), f.at(name), 1e-5, 1e-6, name);
    }
    if (HasFailure()) return;  // later steps only repeat the first difference
  }
}

INSTANTIATE_TEST_SUITE_P(Optim, OptimizerGolden,
                         ::testing::Values("sgd_plain", "sgd_momentum", "sgd_nesterov_wd", "adam", "adam_amsgrad_wd",
                                           "adamw", "sgd_groups"),
                         [](const auto& info) { return std::string(info.param); });

// ---- golden parity: schedules (SGD with momentum 0.9, two groups at lr 0.1 and 0.01)

struct ScheduleRig {
  explicit ScheduleRig(double lr0 = 0.1, double lr1 = 0.01, double momentum = 0.9)
      : opt(std::vector<ParamGroup>{{.params = {params[0]}, .lr = lr0}, {.params = {params[1]}, .lr = lr1}},
            SGDOptions{.lr = lr0, .momentum = momentum}) {}
  std::vector<Tensor> params{zeros({2}).requires_grad_(true), zeros({3}).requires_grad_(true)};
  SGD opt;
};

std::vector<std::int64_t> ints(const std::string& s) {
  std::vector<std::int64_t> out;
  for (const auto& x : split(s)) out.push_back(std::stoll(x));
  return out;
}

std::shared_ptr<LRScheduler> make_schedule(const std::string& name, const io::SafetensorsFile& f, Optimizer& opt) {
  if (name == "step_lr")
    return std::make_shared<StepLR>(opt,
                                    StepLROptions{.step_size = meta_i(f, "step_size"), .gamma = meta_d(f, "gamma", 0)});
  if (name == "multi_step_lr")
    return std::make_shared<MultiStepLR>(
        opt, MultiStepLROptions{.milestones = ints(meta(f, "milestones")), .gamma = meta_d(f, "gamma", 0)});
  if (name == "cosine_lr")
    return std::make_shared<CosineAnnealingLR>(
        opt, CosineAnnealingLROptions{.t_max = meta_i(f, "t_max"), .eta_min = meta_d(f, "eta_min", 0)});
  if (name == "linear_lr")
    return std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = meta_d(f, "start_factor", 0),
                                                           .end_factor = meta_d(f, "end_factor", 0),
                                                           .total_iters = meta_i(f, "total_iters")});
  if (name == "warmup_cosine_lr") {
    auto warmup = std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = meta_d(f, "start_factor", 0),
                                                                  .end_factor = meta_d(f, "end_factor", 0),
                                                                  .total_iters = meta_i(f, "total_iters")});
    auto cosine = std::make_shared<CosineAnnealingLR>(
        opt, CosineAnnealingLROptions{.t_max = meta_i(f, "t_max"), .eta_min = meta_d(f, "eta_min", 0)});
    return std::make_shared<SequentialLR>(opt, std::vector<std::shared_ptr<LRScheduler>>{warmup, cosine},
                                          std::vector<std::int64_t>{meta_i(f, "milestone")});
  }
  if (name == "one_cycle_lr" || name == "one_cycle_three_phase_lr") {
    OneCycleLROptions o{.total_steps = meta_i(f, "total_steps")};
    auto max_lrs = split(meta(f, "max_lr"));
    if (max_lrs.size() == 1) o.max_lr = std::stod(max_lrs[0]);
    else
      for (const auto& m : max_lrs) o.group_max_lr.push_back(std::stod(m));
    o.pct_start = meta_d(f, "pct_start", o.pct_start);
    o.anneal = meta(f, "anneal", "cos") == "linear" ? Anneal::linear : Anneal::cos;
    o.base_momentum = meta_d(f, "base_momentum", o.base_momentum);
    o.max_momentum = meta_d(f, "max_momentum", o.max_momentum);
    o.div_factor = meta_d(f, "div_factor", o.div_factor);
    o.final_div_factor = meta_d(f, "final_div_factor", o.final_div_factor);
    o.three_phase = meta_b(f, "three_phase");
    return std::make_shared<OneCycleLR>(opt, o);
  }
  ADD_FAILURE() << "unknown schedule '" << name << "'";
  return nullptr;
}

class ScheduleGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(ScheduleGolden, LrSequenceMatchesPyTorch) {
  const std::string name = GetParam();
  auto f = load_fixture("sched_" + name);
  const auto base_lrs = split(meta(f, "base_lrs"));
  ASSERT_EQ(base_lrs.size(), 2u);
  ScheduleRig rig(std::stod(base_lrs[0]), std::stod(base_lrs[1]), meta_d(f, "sgd_momentum", 0.9));
  auto sched = make_schedule(name, f, rig.opt);
  ASSERT_TRUE(sched);
  const auto want_lr = values(f.at("lr")), want_m = values(f.at("momentum"));
  const auto steps = meta_i(f, "steps");
  ASSERT_EQ(want_lr.size(), static_cast<std::size_t>(2 * (steps + 1)));
  for (std::int64_t e = 0; e <= steps; ++e) {
    if (e > 0) sched->step();
    ASSERT_EQ(sched->last_epoch(), e);
    const auto& lrs = sched->get_last_lr();
    ASSERT_EQ(lrs.size(), 2u);
    for (std::size_t g = 0; g < 2; ++g) {
      const double want = want_lr[e * 2 + g];
      EXPECT_NEAR(lrs[g], want, 1e-9 * std::abs(want) + 1e-15) << name << " epoch " << e << " group " << g;
      EXPECT_EQ(rig.opt.param_groups()[g].lr, lrs[g]) << name << " epoch " << e << " group " << g;
      const double m = want_m[e * 2 + g];
      EXPECT_NEAR(rig.opt.param_groups()[g].momentum, m, 1e-9 * std::abs(m)) << name << " momentum, epoch " << e;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Optim, ScheduleGolden,
                         ::testing::Values("step_lr", "multi_step_lr", "cosine_lr", "linear_lr", "warmup_cosine_lr",
                                           "one_cycle_lr", "one_cycle_three_phase_lr"),
                         [](const auto& info) { return std::string(info.param); });

// ---- golden parity: clipping

TEST(ClipGolden, MatchesPyTorch) {
  auto f = load_fixture("optim_clip");
  auto fresh = [&] {
    std::vector<Tensor> params;
    for (int i = 0; i < 2; ++i) {
      const Tensor& g = f.at(fmt::format("grad.{}", i));
      Tensor p = zeros(g.shape()).requires_grad_(true);
      p.set_grad(g.clone());
      params.push_back(p);
    }
    return params;
  };
  for (const auto& c : split(meta(f, "cases"))) {
    auto params = fresh();
    const double norm_type = meta_d(f, c + ".norm_type", 2), max_norm = meta_d(f, c + ".max_norm", 1);
    const double total = clip_grad_norm_(params, max_norm, norm_type);
    const double want = f.at(c + ".total_norm").item();
    EXPECT_NEAR(total, want, 1e-5 * want) << c;
    for (int i = 0; i < 2; ++i)
      expect_close(params[i].grad(), f.at(fmt::format("{}.grad.{}", c, i)), 1e-5, 1e-7,
                   c + " grad " + std::to_string(i));
  }
  auto params = fresh();
  clip_grad_value_(params, meta_d(f, "clip_value", 0));
  for (int i = 0; i < 2; ++i) expect_equal(params[i].grad(), f.at(fmt::format("value.grad.{}", i)), "value grad");
}

// ---- validation

TEST(Optim, SgdRejectsBadOptions) {
  auto params = fresh_params();
  expect_error([&] { SGD(params, {.lr = -1}); }, "[sgd] lr must be >= 0, got -1");
  expect_error([&] { SGD(params, {}); }, "[sgd] lr must be >= 0");  // lr is required
  expect_error([&] { SGD(params, {.lr = 0.1, .momentum = -0.5}); }, "[sgd] momentum must be >= 0");
  expect_error([&] { SGD(params, {.lr = 0.1, .weight_decay = -1}); }, "[sgd] weight_decay must be >= 0");
  expect_error([&] { SGD(params, {.lr = 0.1, .nesterov = true}); }, "[sgd] nesterov momentum requires");
  expect_error([&] { SGD(params, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
               "[sgd] nesterov momentum requires");
  expect_error(
      [&] {
        SGD(std::vector<ParamGroup>{{.params = {params[0]}, .momentum = 0}, {.params = {params[1]}}},
            {.lr = 0.1, .momentum = 0.9, .nesterov = true});
      },
      "[sgd] nesterov momentum requires momentum > 0, but group 0");
}

TEST(Optim, AdamRejectsBadOptions) {
  auto params = fresh_params();
  expect_error([&] { Adam(params, {.lr = -1}); }, "[adam] lr must be >= 0, got -1");
  expect_error([&] { Adam(params, {.beta1 = 1.0}); }, "[adam] beta1 must be in [0, 1)");
  expect_error([&] { Adam(params, {.beta2 = -0.1}); }, "[adam] beta2 must be in [0, 1)");
  expect_error([&] { Adam(params, {.eps = -1}); }, "[adam] eps must be >= 0");
  expect_error([&] { Adam(params, {.weight_decay = -1}); }, "[adam] weight_decay must be >= 0");
  expect_error([&] { AdamW(params, {.lr = -1}); }, "[adamw] lr must be >= 0");
  expect_error([&] { Adam(std::vector<ParamGroup>{{.params = params, .momentum = 1.5}}); },
               "[adam] beta1 (momentum) of group 0 must be in [0, 1)");
}

TEST(Optim, RejectsBadParameters) {
  auto params = fresh_params();
  expect_error([&] { SGD(std::vector<Tensor>{}, {.lr = 0.1}); }, "[sgd] got an empty parameter list");
  expect_error([&] { SGD({params[0], Tensor{}}, {.lr = 0.1}); }, "[sgd] parameter 1 of group 0 is undefined");
  expect_error(
      [&] {
        SGD({params[0], params[0]}, {.lr = 0.1});
      },
      "[sgd] parameter 1 of group 0 appears more than once");
  expect_error(
      [&] {
        Adam(std::vector<ParamGroup>{{.params = {params[0]}}, {.params = {params[1], params[0]}}});
      },
      "[adam] parameter 1 of group 1 appears more than once");
  expect_error([&] { SGD({zeros({2}, {.dtype = DType::i64})}, {.lr = 0.1}); }, "[sgd] parameter 0 of group 0 is i64");
}

TEST(Optim, GroupsTakeDefaultsUnlessSet) {
  auto params = fresh_params();
  SGD opt(std::vector<ParamGroup>{{.params = {params[0]}, .lr = 0.5, .name = "backbone"},
                                  {.params = {params[1]}, .weight_decay = 0.1, .momentum = 0}},
          {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4});
  const auto& g = opt.param_groups();
  EXPECT_EQ(g[0].lr, 0.5);
  EXPECT_EQ(g[0].weight_decay, 1e-4);
  EXPECT_EQ(g[0].momentum, 0.9);
  EXPECT_EQ(g[0].name, "backbone");
  EXPECT_EQ(g[1].lr, 0.1);
  EXPECT_EQ(g[1].weight_decay, 0.1);
  EXPECT_EQ(g[1].momentum, 0);
  EXPECT_LT(g[0].initial_lr, 0);  // recorded by a schedule, not by the optimizer
}

// ---- behaviour

TEST(Optim, ParamsWithoutGradAreSkipped) {
  for (int kind = 0; kind < 3; ++kind) {
    auto params = fresh_params();
    std::unique_ptr<Optimizer> opt;
    if (kind == 0) opt = std::make_unique<SGD>(params, SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
    if (kind == 1) opt = std::make_unique<Adam>(params, AdamOptions{.weight_decay = 0.1});
    if (kind == 2) opt = std::make_unique<AdamW>(params);
    params[0].set_grad(problem().grads[0][0].clone());
    opt->step();
    expect_equal(params[1].detach(), problem().init[1], opt->name() + ": parameter without gradient");
    for (const auto& [name, t] : opt->state_dict()) EXPECT_NE(name.rfind("0.1.", 0), 0u) << opt->name() << ": " << name;
  }
}

TEST(Optim, ZeroGrad) {
  auto params = fresh_params();
  SGD opt(params, {.lr = 0.1});
  set_grads(params, 0);
  opt.zero_grad(false);
  expect_equal(params[0].grad(), zeros({5, 4}), "zeroed grad");
  opt.zero_grad();
  EXPECT_FALSE(params[0].grad().defined());
  EXPECT_FALSE(params[1].grad().defined());
}

// SGD on loss = sum((w - target)^2) with gradients from backward(): w converges to target.
TEST(Optim, MinimisesAQuadraticWithAutograd) {
  Tensor target = from_vector<float>({1.f, -2.f, 3.f}, {3});
  Tensor w = zeros({3}).requires_grad_(true);
  SGD opt({w}, {.lr = 0.1, .momentum = 0.5});
  for (int i = 0; i < 100; ++i) {
    opt.zero_grad();
    Tensor loss = sum(square(w - target));
    loss.backward();
    opt.step();
  }
  expect_close(w.detach(), target, 0, 1e-4, "w");
}

// ---- state round trip: 10 steps, save, new optimizer, load, 10 more == 20 uninterrupted steps

using Factory = std::function<std::unique_ptr<Optimizer>(const std::vector<Tensor>&)>;

void check_round_trip(const Factory& make, bool through_safetensors, const std::string& what) {
  constexpr std::size_t kSteps = 20, kHalf = 10;
  constexpr std::int64_t kSkip = 4;  // parameter 1 misses some gradients: its state lags
  auto straight = fresh_params();
  auto opt = make(straight);
  for (std::size_t t = 0; t < kSteps; ++t) {
    set_grads(straight, t, kSkip);
    opt->step();
  }

  auto first = fresh_params();
  auto opt1 = make(first);
  for (std::size_t t = 0; t < kHalf; ++t) {
    set_grads(first, t, kSkip);
    opt1->step();
  }
  NamedTensors state = opt1->state_dict();
  if (through_safetensors) state = io::parse_safetensors(io::serialize_safetensors(state), "memory").tensors;

  std::vector<Tensor> resumed;
  for (const auto& p : first) resumed.push_back(p.detach().clone().requires_grad_(true));
  auto opt2 = make(resumed);
  opt2->load_state_dict(state);
  for (std::size_t t = kHalf; t < kSteps; ++t) {
    set_grads(resumed, t, kSkip);
    opt2->step();
  }
  for (std::size_t i = 0; i < resumed.size(); ++i)
    expect_equal(resumed[i].detach(), straight[i].detach(), what + " parameter " + std::to_string(i));
}

TEST(Optim, StateRoundTripSgd) {
  check_round_trip(
      [](const std::vector<Tensor>& p) {
        return std::make_unique<SGD>(p,
                                     SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
      },
      false, "sgd");
}

TEST(Optim, StateRoundTripAdamAmsgrad) {
  check_round_trip(
      [](const std::vector<Tensor>& p) {
        return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01, .weight_decay = 0.01, .amsgrad = true});
      },
      false, "adam");
}

TEST(Optim, StateRoundTripAdamWThroughSafetensors) {
  check_round_trip(
      [](const std::vector<Tensor>& p) {
        return std::make_unique<AdamW>(std::vector<ParamGroup>{{.params = {p[0]}, .lr = 0.02}, {.params = {p[1]}}},
                                       AdamWOptions{.lr = 0.01});
      },
      true, "adamw");
}

TEST(Optim, StateDictRestoresGroupHyperParameters) {
  auto params = fresh_params();
  SGD a(params, {.lr = 0.1, .momentum = 0.9});
  a.param_groups()[0].lr = 0.025;
  a.param_groups()[0].initial_lr = 0.1;
  SGD b(params, {.lr = 0.1, .momentum = 0.9});
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.param_groups()[0].lr, 0.025);
  EXPECT_EQ(b.param_groups()[0].initial_lr, 0.1);
  EXPECT_EQ(b.param_groups()[0].momentum, 0.9);
}

TEST(Optim, LoadStateDictRejectsMismatches) {
  auto params = fresh_params();
  auto trained = [&](Optimizer& opt) {
    set_grads(params, 0);
    opt.step();
    return opt.state_dict();
  };
  Adam adam(params, {.lr = 0.01});
  const auto adam_state = trained(adam);

  Adam amsgrad(params, {.lr = 0.01, .amsgrad = true});
  expect_error([&] { amsgrad.load_state_dict(adam_state); }, "[adam] state_dict: missing '0.0.max_exp_avg_sq'");
  EXPECT_TRUE(amsgrad.state_dict().size() == 5u) << "a failed load must change nothing";

  auto wrong_shape = adam_state;
  for (auto& [name, t] : wrong_shape) {
    if (name == "0.1.exp_avg") t = zeros({3});
  }
  expect_error([&] { adam.load_state_dict(wrong_shape); }, "[adam] state_dict: '0.1.exp_avg' has shape ");

  auto extra = adam_state;
  extra.emplace_back("0.0.momentum_buffer", zeros({5, 4}));
  expect_error([&] { adam.load_state_dict(extra); }, "[adam] state_dict: unexpected key '0.0.momentum_buffer'");
  auto junk = adam_state;
  junk.emplace_back("epoch", zeros({1}));
  expect_error([&] { adam.load_state_dict(junk); }, "[adam] state_dict: unexpected key 'epoch'");

  SGD sgd(params, {.lr = 0.1, .momentum = 0.9});
  const auto sgd_state = trained(sgd);
  expect_error([&] { adam.load_state_dict(sgd_state); }, "[adam] state_dict: missing '0.0.exp_avg'");
  expect_error([&] { sgd.load_state_dict(adam_state); }, "[sgd] state_dict: unexpected key '0.0.step'");

  SGD one_param({params[0]}, {.lr = 0.1});
  SGD two_groups(std::vector<ParamGroup>{{.params = {params[0]}}, {.params = {params[1]}}}, {.lr = 0.1});
  expect_error([&] { two_groups.load_state_dict(one_param.state_dict()); }, "[sgd] state_dict: missing '1.lr'");
  expect_error([&] { sgd.load_state_dict(two_groups.state_dict()); },
               "[sgd] state_dict: '1.lr' names group 1, but the optimizer has 1 group(s)");
  expect_error(
      [&] {
        one_param.load_state_dict(SGD({params[1], params[0]}, {.lr = 0.1}).state_dict());
      },
      "[sgd] state_dict: group 0 has 2 parameter(s), but the optimizer's group 0 has 1");
}

// ---- schedules: behaviour and validation

TEST(Schedule, StateRoundTrip) {
  ScheduleRig a, b;
  auto warmup = [](Optimizer& opt) {
    return std::make_shared<SequentialLR>(
        opt,
        std::vector<std::shared_ptr<LRScheduler>>{
            std::make_shared<LinearLR>(opt, LinearLROptions{.start_factor = 0.1, .total_iters = 3}),
            std::make_shared<CosineAnnealingLR>(opt, CosineAnnealingLROptions{.t_max = 10})},
        std::vector<std::int64_t>{3});
  };
  auto sa = warmup(a.opt);
  for (int i = 0; i < 7; ++i) sa->step();
  auto sb = warmup(b.opt);
  b.opt.load_state_dict(a.opt.state_dict());
  sb->load_state_dict(sa->state_dict());
  EXPECT_EQ(sb->last_epoch(), 7);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(sb->get_last_lr(), sa->get_last_lr());
    for (std::size_t g = 0; g < 2; ++g) EXPECT_EQ(b.opt.param_groups()[g].lr, a.opt.param_groups()[g].lr);
    sa->step();
    sb->step();
  }
  expect_error(
      [&] {
        sb->load_state_dict({{"epoch", zeros({1})}});
      },
      "[sequential_lr] state_dict: unexpected key 'epoch'");
  expect_error([&] { sb->load_state_dict({}); }, "[sequential_lr] state_dict: missing 'last_epoch'");
}

TEST(Schedule, RejectsBadOptions) {
  ScheduleRig rig, other;
  expect_error([&] { StepLR(rig.opt, {.step_size = 0}); }, "[step_lr] step_size must be > 0, got 0");
  expect_error([&] { CosineAnnealingLR(rig.opt, {.t_max = 0}); }, "[cosine_annealing_lr] t_max must be > 0");
  expect_error([&] { LinearLR(rig.opt, {.start_factor = 0}); }, "[linear_lr] start_factor must be in (0, 1]");
  expect_error([&] { LinearLR(rig.opt, {.end_factor = 1.5}); }, "[linear_lr] end_factor must be in [0, 1]");
  expect_error([&] { OneCycleLR(rig.opt, {.max_lr = 1}); }, "[one_cycle_lr] total_steps must be > 0");
  expect_error([&] { OneCycleLR(rig.opt, {.group_max_lr = {1.0}, .total_steps = 10}); },
               "[one_cycle_lr] expected 2 values in group_max_lr");
  auto cos = std::make_shared<CosineAnnealingLR>(rig.opt, CosineAnnealingLROptions{.t_max = 5});
  auto foreign = std::make_shared<StepLR>(other.opt, StepLROptions{.step_size = 2});
  expect_error([&] { SequentialLR(rig.opt, {cos, cos}, {}); }, "[sequential_lr] expected one milestone fewer");
  expect_error([&] { SequentialLR(rig.opt, {cos, foreign}, {3}); }, "[sequential_lr] scheduler 1 belongs to another");
  expect_error([&] { SequentialLR(rig.opt, {cos, cos, cos}, {3, 3}); }, "[sequential_lr] milestones must be positive");
}

TEST(Schedule, OneCycleStopsAtTotalSteps) {
  ScheduleRig rig;
  OneCycleLR sched(rig.opt, {.max_lr = 1.0, .total_steps = 4});
  for (int i = 0; i < 4; ++i) sched.step();
  expect_error([&] { sched.step(); }, "[one_cycle_lr] epoch 5 is past the end of the cycle (total_steps = 4)");
  EXPECT_EQ(sched.last_epoch(), 4);
}

TEST(Schedule, OneCycleCyclesAdamBeta1) {
  auto params = fresh_params();
  Adam opt(params, {.lr = 0.01});
  OneCycleLR sched(opt, {.max_lr = 0.01, .total_steps = 10});
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].momentum, 0.95);  // beta1 starts at max_momentum
  EXPECT_NEAR(opt.param_groups()[0].lr, 0.01 / 25, 1e-15);
  for (int i = 0; i < 2; ++i) sched.step();  // the peak: pct_start * 10 - 1 = 2
  EXPECT_NEAR(opt.param_groups()[0].momentum, 0.85, 1e-12);
  EXPECT_NEAR(opt.param_groups()[0].lr, 0.01, 1e-15);
}

TEST(Schedule, RecordsInitialLrOnce) {
  ScheduleRig rig;
  StepLR first(rig.opt, {.step_size = 1, .gamma = 0.5});
  first.step();  // lr 0.05
  // a second schedule scales from the recorded initial_lr, as PyTorch's
  CosineAnnealingLR second(rig.opt, {.t_max = 10});
  EXPECT_DOUBLE_EQ(rig.opt.param_groups()[0].initial_lr, 0.1);
  EXPECT_DOUBLE_EQ(second.get_last_lr()[0], 0.1);
}

// ---- clipping: behaviour and validation

TEST(Clip, Edges) {
  Tensor a = zeros({2}).requires_grad_(true), b = zeros({2}).requires_grad_(true);
  EXPECT_EQ(clip_grad_norm_({a, b}, 1.0), 0.0);  // no gradients
  a.set_grad(from_vector<float>({3.f, 4.f}, {2}));
  EXPECT_NEAR(clip_grad_norm_({a, b}, 10.0), 5.0, 1e-6);  // below max_norm: unchanged
  expect_equal(a.grad(), from_vector<float>({3.f, 4.f}, {2}), "unclipped");
  EXPECT_NEAR(clip_grad_norm_({a, b}, 1.0, std::numeric_limits<double>::infinity()), 4.0, 1e-6);
  expect_close(a.grad(), from_vector<float>({0.75f, 1.f}, {2}), 1e-6, 0, "inf-norm clipped");
  expect_error([&] { clip_grad_norm_({a}, -1.0); }, "[clip_grad_norm_] max_norm must be >= 0");
  expect_error([&] { clip_grad_norm_({a}, 1.0, 0.0); }, "[clip_grad_norm_] norm_type must be > 0 or infinity");
  expect_error([&] { clip_grad_value_({a}, -1.0); }, "[clip_grad_value_] clip_value must be >= 0");
}

}  // namespace
}  // namespace fovea::optim
