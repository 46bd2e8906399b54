// Golden parity with PyTorch: every op fixture written by tests/golden/make_golden.py is run
// through fovea and its forward result, updated running stats and input gradients compared.
// Fixture layout (see make_golden.py): meta "op", "inputs", "grad", "outputs" + the op's options;
// tensors: the inputs, "y", "gy", and "g<input>" = d/d input of sum(y * gy).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/safetensors.h"
#include "fovea/ops/ops.h"
#include "fovea/ops/options.h"
#include "tests/test_util.h"

namespace fovea {
namespace {

// f32 as the design asks (1e-4 relative); f64 tighter, so an f64 op computed in f32 shows.
double rtol_for(DType t) { return t == DType::f64 ? 1e-7 : 1e-4; }

std::string fixture_dir() { return std::string(FOVEA_SOURCE_DIR) + "/tests/golden/fixtures"; }

// Fixture names (file stems) starting with prefix, sorted; empty if the folder is missing.
std::vector<std::string> fixtures_with_prefix(const std::string& prefix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(fixture_dir(), ec)) {
    const auto& p = e.path();
    if (p.extension() == ".safetensors" && p.stem().string().rfind(prefix, 0) == 0) names.push_back(p.stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    const std::size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// One loaded fixture with typed access to its string options.
struct Case {
  std::string name;
  io::SafetensorsFile file;
  std::map<std::string, Tensor> in;  // the inputs, copied, gradient-enabled where "grad" says

  bool has(const std::string& key) const { return file.metadata.count(key) > 0; }
  const std::string& str(const std::string& key) const {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) throw std::runtime_error("fixture " + name + ": no metadata '" + key + "'");
    return it->second;
  }
  double num(const std::string& key) const { return std::stod(str(key)); }
  std::int64_t integer(const std::string& key) const { return std::stoll(str(key)); }
  bool flag(const std::string& key) const { return str(key) == "1" || str(key) == "true"; }
  std::vector<std::int64_t> ints(const std::string& key) const {
    std::vector<std::int64_t> v;
    for (const auto& p : split(str(key))) v.push_back(std::stoll(p));
    return v;
  }
  std::vector<double> nums(const std::string& key) const {
    std::vector<double> v;
    for (const auto& p : split(str(key))) v.push_back(std::stod(p));
    return v;
  }
  Pair pair(const std::string& key) const {
    auto v = ints(key);
    if (v.size() == 1) return Pair(v[0]);
    if (v.size() == 2) return Pair(v[0], v[1]);
    throw std::runtime_error("fixture " + name + ": '" + key + "' is not one or two ints");
  }
  Padding padding(const std::string& key) const {
    const std::string& s = str(key);
    if (s == "same") return Padding(PadMode::same);
    if (s == "valid") return Padding(PadMode::valid);
    if (s == "full") return Padding(PadMode::full);
    auto v = ints(key);  // explicit sides: top, bottom, left, right
    if (v.size() != 4) throw std::runtime_error("fixture " + name + ": padding '" + s + "' is not t,b,l,r");
    return Padding(v[0], v[1], v[2], v[3]);
  }
  Reduction reduction() const {
    const std::string& s = str("reduction");
    if (s == "none") return Reduction::none;
    if (s == "mean") return Reduction::mean;
    if (s == "sum") return Reduction::sum;
    throw std::runtime_error("fixture " + name + ": reduction '" + s + "'");
  }
  const Tensor& input(const std::string& n) const {
    auto it = in.find(n);
    if (it == in.end()) throw std::runtime_error("fixture " + name + ": no input '" + n + "'");
    return it->second;
  }
  Tensor optional_input(const std::string& n) const {  // undefined when the case has none
    auto it = in.find(n);
    return it == in.end() ? Tensor{} : it->second;
  }
};

using OpCall = std::function<Tensor(const Case&)>;

UpsampleOptions upsample_options(const Case& c) {
  UpsampleOptions o{.mode = c.str("mode") == "bilinear" ? UpsampleMode::bilinear : UpsampleMode::nearest,
                    .align_corners = c.flag("align_corners")};
  if (c.has("size")) o.size = c.pair("size");
  if (c.has("scale")) {
    auto f = c.nums("scale");
    o.scale = Scale(f.at(0), f.at(1));
  }
  return o;
}

Pool2dOptions pool_options(const Case& c, bool avg) {
  Pool2dOptions o{.kernel = c.pair("kernel"),
                  .stride = c.pair("stride"),
                  .padding = c.pair("padding"),
                  .ceil_mode = c.flag("ceil_mode")};
  if (avg) o.count_include_pad = c.flag("count_include_pad");
  return o;
}

// meta "op" -> the fovea call that the fixture's PyTorch function mirrors.
const std::map<std::string, OpCall>& op_table() {
  static const std::map<std::string, OpCall> table = [] {
    std::map<std::string, OpCall> t;
    auto binary = [&](const char* name, Tensor (*f)(const Tensor&, const Tensor&)) {
      t[name] = [f](const Case& c) { return f(c.input("a"), c.input("b")); };
    };
    auto unary = [&](const char* name, Tensor (*f)(const Tensor&)) {
      t[name] = [f](const Case& c) { return f(c.input("x")); };
    };
    // elementwise
    binary("add", &add);
    binary("sub", &sub);
    binary("mul", &mul);
    binary("div", &div);
    binary("maximum", &maximum);
    binary("minimum", &minimum);
    binary("eq", &eq);
    binary("ne", &ne);
    binary("lt", &lt);
    binary("le", &le);
    binary("gt", &gt);
    binary("ge", &ge);
    t["pow"] = [](const Case& c) { return pow(c.input("a"), c.input("b")); };
    t["pow_scalar"] = [](const Case& c) { return pow(c.input("x"), c.num("exponent")); };
    t["add_scalar"] = [](const Case& c) { return c.input("x") + c.num("scalar"); };
    t["sub_scalar"] = [](const Case& c) { return c.input("x") - c.num("scalar"); };
    t["rsub_scalar"] = [](const Case& c) { return c.num("scalar") - c.input("x"); };
    t["mul_scalar"] = [](const Case& c) { return c.input("x") * c.num("scalar"); };
    t["rmul_scalar"] = [](const Case& c) { return c.num("scalar") * c.input("x"); };
    t["div_scalar"] = [](const Case& c) { return c.input("x") / c.num("scalar"); };
    t["rdiv_scalar"] = [](const Case& c) { return c.num("scalar") / c.input("x"); };
    unary("neg", &neg);
    unary("exp", &exp);
    unary("log", &log);
    unary("sqrt", &sqrt);
    unary("rsqrt", &rsqrt);
    unary("abs", &abs);
    unary("square", &square);
    t["clamp"] = [](const Case& c) {
      std::optional<double> lo, hi;
      if (c.has("min")) lo = c.num("min");
      if (c.has("max")) hi = c.num("max");
      return clamp(c.input("x"), lo, hi);
    };
    t["where"] = [](const Case& c) { return where(c.input("cond"), c.input("a"), c.input("b")); };

    // activations
    unary("relu", &relu);
    unary("sigmoid", &sigmoid);
    unary("tanh", &tanh);
    unary("gelu", &gelu);
    unary("hardswish", &hardswish);
    unary("erf", &erf);
    unary("softplus", &softplus);
    t["leaky_relu"] = [](const Case& c) { return leaky_relu(c.input("x"), c.num("negative_slope")); };
    t["elu"] = [](const Case& c) { return elu(c.input("x"), c.num("alpha")); };
    t["softmax"] = [](const Case& c) { return softmax(c.input("x"), c.integer("dim")); };
    t["log_softmax"] = [](const Case& c) { return log_softmax(c.input("x"), c.integer("dim")); };

    // reductions: no "dims"/"dim" in the fixture means the whole-tensor overload
    t["sum"] = [](const Case& c) {
      return c.has("dims") ? sum(c.input("x"), c.ints("dims"), c.flag("keepdim")) : sum(c.input("x"));
    };
    t["mean"] = [](const Case& c) {
      return c.has("dims") ? mean(c.input("x"), c.ints("dims"), c.flag("keepdim")) : mean(c.input("x"));
    };
    t["max"] = [](const Case& c) {
      return c.has("dim") ? max(c.input("x"), c.integer("dim"), c.flag("keepdim")) : max(c.input("x"));
    };
    t["min"] = [](const Case& c) {
      return c.has("dim") ? min(c.input("x"), c.integer("dim"), c.flag("keepdim")) : min(c.input("x"));
    };
    t["argmax"] = [](const Case& c) { return argmax(c.input("x"), c.integer("dim"), c.flag("keepdim")); };
    t["argmin"] = [](const Case& c) { return argmin(c.input("x"), c.integer("dim"), c.flag("keepdim")); };
    t["var"] = [](const Case& c) {  // empty dims: all
      return var(c.input("x"), c.ints("dims"), c.flag("unbiased"), c.flag("keepdim"));
    };

    // linear algebra
    t["matmul"] = [](const Case& c) { return matmul(c.input("a"), c.input("b")); };
    t["linear"] = [](const Case& c) { return linear(c.input("x"), c.input("w"), c.optional_input("b")); };

    // convolution, pooling
    t["conv2d"] = [](const Case& c) {
      return conv2d(c.input("x"), c.input("w"), c.optional_input("b"),
                    {.stride = c.pair("stride"),
                     .padding = c.padding("padding"),
                     .dilation = c.pair("dilation"),
                     .groups = c.integer("groups")});
    };
    t["max_pool2d"] = [](const Case& c) { return max_pool2d(c.input("x"), pool_options(c, false)); };
    t["avg_pool2d"] = [](const Case& c) { return avg_pool2d(c.input("x"), pool_options(c, true)); };
    t["conv_transpose2d"] = [](const Case& c) {
      return conv_transpose2d(c.input("x"), c.input("w"), c.optional_input("b"),
                              {.stride = c.pair("stride"),
                               .padding = c.pair("padding"),
                               .output_padding = c.pair("output_padding"),
                               .dilation = c.pair("dilation"),
                               .groups = c.integer("groups")});
    };
    t["adaptive_avg_pool2d"] = [](const Case& c) { return adaptive_avg_pool2d(c.input("x"), c.pair("out")); };
    t["adaptive_max_pool2d"] = [](const Case& c) { return adaptive_max_pool2d(c.input("x"), c.pair("out")); };
    t["max_pool2d_with_indices"] = [](const Case& c) {
      return max_pool2d_with_indices(c.input("x"), pool_options(c, false)).values;
    };
    t["max_pool2d_indices"] = [](const Case& c) {
      return max_pool2d_with_indices(c.input("x"), pool_options(c, false)).indices;
    };
    t["max_unpool2d"] = [](const Case& c) {
      return max_unpool2d(c.input("x"), c.input("indices"), c.pair("output_size"));
    };
    t["max_unpool2d_of_pool"] = [](const Case& c) {  // back to the pooled input's size
      auto [y, indices] = max_pool2d_with_indices(c.input("x"), pool_options(c, false));
      return max_unpool2d(y, indices, {c.input("x").size(2), c.input("x").size(3)});
    };

    // resampling
    t["upsample"] = [](const Case& c) { return upsample(c.input("x"), upsample_options(c)); };

    // normalisation, dropout
    t["batch_norm"] = [](const Case& c) {
      return batch_norm(c.input("x"), c.optional_input("running_mean"), c.optional_input("running_var"),
                        c.optional_input("w"), c.optional_input("b"),
                        {.training = c.flag("training"), .momentum = c.num("momentum"), .eps = c.num("eps")});
    };
    t["dropout"] = [](const Case& c) { return dropout(c.input("x"), c.num("p"), c.flag("training")); };
    t["layer_norm"] = [](const Case& c) {
      return layer_norm(c.input("x"), c.integer("normalized_dims"), c.optional_input("w"), c.optional_input("b"),
                        c.num("eps"));
    };
    t["instance_norm"] = [](const Case& c) {
      return instance_norm(c.input("x"), c.optional_input("w"), c.optional_input("b"), c.num("eps"));
    };
    t["local_response_norm"] = [](const Case& c) {
      return local_response_norm(
          c.input("x"), {.size = c.integer("size"), .alpha = c.num("alpha"), .beta = c.num("beta"), .k = c.num("k")});
    };

    // shape
    t["flatten"] = [](const Case& c) { return flatten(c.input("x"), c.integer("start"), c.integer("end")); };
    t["cat"] = [](const Case& c) { return cat({c.input("x0"), c.input("x1"), c.input("x2")}, c.integer("dim")); };
    t["stack"] = [](const Case& c) { return stack({c.input("x0"), c.input("x1"), c.input("x2")}, c.integer("dim")); };
    t["pad"] = [](const Case& c) { return pad(c.input("x"), c.ints("pads"), c.num("value")); };

    // losses
    t["cross_entropy"] = [](const Case& c) {
      return cross_entropy(c.input("logits"), c.input("target"),
                           {.reduction = c.reduction(),
                            .ignore_index = c.integer("ignore_index"),
                            .label_smoothing = c.num("label_smoothing")});
    };
    t["nll_loss"] = [](const Case& c) {
      return nll_loss(c.input("log_probs"), c.input("target"),
                      {.reduction = c.reduction(), .ignore_index = c.integer("ignore_index")});
    };
    t["mse_loss"] = [](const Case& c) { return mse_loss(c.input("x"), c.input("target"), c.reduction()); };
    t["binary_cross_entropy_with_logits"] = [](const Case& c) {
      return binary_cross_entropy_with_logits(c.input("x"), c.input("target"), c.reduction(),
                                              c.optional_input("pos_weight"));
    };
    return t;
  }();
  return table;
}

class GoldenOps : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenOps, MatchesPyTorch) {
  Case c{GetParam(), io::load_safetensors(fixture_dir() + "/" + GetParam() + ".safetensors"), {}};
  const std::vector<std::string> grads = split(c.str("grad"));
  auto wants_grad = [&](const std::string& n) { return std::find(grads.begin(), grads.end(), n) != grads.end(); };
  {
    NoGradGuard no_grad;  // fresh leaves; batch_norm updates its running-stat copies in place
    for (const auto& n : split(c.str("inputs"))) c.in[n] = c.file.at(n).clone();
  }
  for (auto& [n, t] : c.in)
    if (wants_grad(n)) t.requires_grad_();

  const std::string& op = c.str("op");
  auto it = op_table().find(op);
  ASSERT_TRUE(it != op_table().end()) << "no fovea call for op '" << op << "' (add it to op_table)";
  const Tensor y = it->second(c);
  const double rtol = rtol_for(c.file.at("y").dtype());

  for (const auto& out : split(c.str("outputs"))) {
    if (out == "y") {
      test::expect_close(y, c.file.at("y"), rtol, op + " forward");
    } else {  // "<input>_out": the input's value after the call (running stats)
      const std::string src = out.substr(0, out.size() - 4);
      test::expect_close(c.input(src), c.file.at(out), rtol, op + " " + src + " after the call");
    }
  }
  if (grads.empty()) return;

  ASSERT_TRUE(y.requires_grad()) << op << ": output does not require grad";
  y.backward(c.file.at("gy"));
  for (const auto& n : grads) {
    const Tensor g = c.input(n).grad();
    if (!g.defined()) {
      ADD_FAILURE() << op << ": no gradient for input '" << n << "'";
      continue;
    }
    test::expect_close(g, c.file.at("g" + n), rtol, op + " gradient of " + n);
  }
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// One suite per family (the prefixes of make_golden.py's OP_PREFIXES), each fixture a test.
INSTANTIATE_TEST_SUITE_P(Elementwise, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("ew_")), param_name);
INSTANTIATE_TEST_SUITE_P(Activation, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("act_")), param_name);
INSTANTIATE_TEST_SUITE_P(Reduce, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("red_")), param_name);
INSTANTIATE_TEST_SUITE_P(Linalg, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("linalg_")), param_name);
INSTANTIATE_TEST_SUITE_P(Conv, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("conv2d_")), param_name);
INSTANTIATE_TEST_SUITE_P(Pool, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("pool_")), param_name);
INSTANTIATE_TEST_SUITE_P(LayerNorm, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("ln_")), param_name);
INSTANTIATE_TEST_SUITE_P(InstanceNorm, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("inorm_")), param_name);
INSTANTIATE_TEST_SUITE_P(BatchNorm, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("bn_")), param_name);
INSTANTIATE_TEST_SUITE_P(Dropout, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("dropout_")), param_name);
INSTANTIATE_TEST_SUITE_P(Shape, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("shape_")), param_name);
INSTANTIATE_TEST_SUITE_P(Loss, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("loss_")), param_name);
// the layer ops of tests/golden/golden_layers.py
INSTANTIATE_TEST_SUITE_P(ConvTranspose, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("convt_")), param_name);
INSTANTIATE_TEST_SUITE_P(Upsample, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("upsample_")), param_name);
INSTANTIATE_TEST_SUITE_P(Lrn, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("lrn_")), param_name);
INSTANTIATE_TEST_SUITE_P(AdaptivePool, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("apool_")), param_name);
INSTANTIATE_TEST_SUITE_P(Unpool, GoldenOps, ::testing::ValuesIn(fixtures_with_prefix("unpool_")), param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenOps);

// A missing or emptied fixtures folder would otherwise pass silently with no tests.
TEST(GoldenOpsFixtures, EveryFamilyHasFixtures) {
  for (const char* prefix : {"ew_", "act_", "red_", "linalg_", "conv2d_", "pool_", "bn_", "dropout_", "shape_", "loss_",
                             "convt_", "upsample_", "lrn_", "apool_", "unpool_"})
    EXPECT_FALSE(fixtures_with_prefix(prefix).empty())
        << "no " << prefix << "* fixtures in " << fixture_dir() << ": run /usr/bin/python3 tests/golden/make_golden.py";
}

}  // namespace
}  // namespace fovea
