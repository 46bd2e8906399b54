// explain: the ReLU rules, Grad-CAM's arithmetic, occlusion, SmoothGrad, feature maps, the rank
// correlation, bad input; then a trained network on a synthetic dataset whose class is decided
// by a patch (Grad-CAM must find the patch) and the Adebayo et al. randomisation check on it.
#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/draw.h"
#include "fovea/explain/explain.h"
#include "fovea/explain/faithfulness.h"
#include "fovea/explain/render.h"
#include "fovea/models/registry.h"
#include "fovea/nn/nn.h"
#include "fovea/optim/adam.h"
#include "tests/test_util.h"

using namespace fovea;
using explain::Method;

namespace {

TEST(ReluGradRule, EachRuleFollowsItsFormula) {
  const Tensor x = from_vector<float>({-1, 2, 3, -4}, {4});
  const Tensor g = from_vector<float>({5, -6, 7, 8}, {4});
  auto grad = [&](ReluGradRule r) {
    Tensor xi = x.clone().requires_grad_(true);
    Tensor y = relu(xi);
    ReluGradRuleGuard guard(r);
    y.backward(g);
    return xi.grad().to_vector<float>();
  };
  EXPECT_EQ(grad(ReluGradRule::standard), (std::vector<float>{0, -6, 7, 0}));
  EXPECT_EQ(grad(ReluGradRule::guided), (std::vector<float>{0, 0, 7, 0}));
  EXPECT_EQ(grad(ReluGradRule::deconvnet), (std::vector<float>{5, 0, 7, 8}));
  EXPECT_EQ(relu_grad_rule(), ReluGradRule::standard);
}

TEST(ExplainReduce, MaxMeanNone) {
  const Tensor g = from_vector<float>({1, -3, -2, 2}, {1, 2, 1, 2});  // channel 0: (1, -3), channel 1: (-2, 2)
  EXPECT_EQ(explain::reduce_channels(g, explain::Reduce::max).to_vector<float>(), (std::vector<float>{2, 3}));
  EXPECT_EQ(explain::reduce_channels(g, explain::Reduce::mean).to_vector<float>(), (std::vector<float>{1.5, 2.5}));
  EXPECT_EQ(explain::reduce_channels(g, explain::Reduce::none).shape(), g.shape());
  EXPECT_THROW(explain::parse_reduce("sum"), Error);
}

TEST(ExplainMethods, NamesRoundTrip) {
  for (auto m : explain::all_methods()) EXPECT_EQ(explain::parse_method(explain::method_name(m)), m);
  EXPECT_EQ(explain::all_methods().size(), 11u);
  EXPECT_EQ(explain::parse_methods("all"), explain::all_methods());
  EXPECT_EQ(explain::parse_methods("gradcam++,ig,all").front(), Method::gradcam_pp);
  EXPECT_EQ(explain::parse_method("ig"), Method::integrated_gradients);
  EXPECT_EQ(explain::parse_methods("gradcam,vanilla,gradcam"), (std::vector<Method>{Method::gradcam, Method::vanilla}));
  try {
    explain::parse_methods("vanilla,lime");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'lime'"), std::string::npos) << e.what();
  }
}

TEST(GradCam, WeightsAreMeanGradientsAndTheMapIsScaled) {
  // two channels on a 1x2 grid; weights mean(dA) = (1, -1): cam = relu(A0 - A1) = (relu(3 - 1), relu(1 - 4)) = (2, 0)
  const Tensor a = from_vector<float>({3, 1, 1, 4}, {1, 2, 1, 2});
  const Tensor g = from_vector<float>({2, 0, -1, -1}, {1, 2, 1, 2});
  const Tensor cam = explain::cam_from(a, g, {1, 2});
  EXPECT_EQ(cam.shape(), (Shape{1, 1, 1, 2}));
  test::expect_close(cam, from_vector<float>({1, 0}, {1, 1, 1, 2}), 1e-6, "cam");
  // a flat map is all zeros, not 0/0
  const Tensor flat = explain::cam_from(a, zeros({1, 2, 1, 2}), {4, 4});
  EXPECT_EQ(max(abs(flat)).item(), 0.0);
}

// logits = (sum of x over the top-left 2x2 corner, 0): occlusion's drop is known exactly
class CornerSum : public nn::Module {
 public:
  CornerSum() : Module("CornerSum") {}
  Tensor forward(const Tensor& x) override {
    Tensor s = sum(x.slice(2, 0, 2).slice(3, 0, 2), {1, 2, 3}).unsqueeze(1);  // (N,1)
    return cat({s, zeros_like(s)}, 1);
  }
};

TEST(Occlusion, DropIsTheOccludedPartOfTheScore) {
  CornerSum m;
  const Tensor x = ones({1, 1, 4, 4});
  explain::ExplainOptions o;
  o.occlusion_window = 2;
  o.occlusion_stride = 2;
  const Tensor map = explain::occlusion(m, x, from_vector<std::int64_t>({0}, {1}), o);
  // only the top-left window covers the corner: its pixels drop by 4, the rest by 0
  const auto v = map.to_vector<float>();
  for (int y = 0; y < 4; ++y)
    for (int xx = 0; xx < 4; ++xx) EXPECT_FLOAT_EQ(v[y * 4 + xx], y < 2 && xx < 2 ? 4.f : 0.f) << y << "," << xx;
}

// A small CNN whose every gradient is defined (for the API checks below).
nn::ModulePtr tiny_cnn(std::int64_t classes = 3) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", nn::make<nn::Conv2d>({.in = 1, .out = 4, .kernel = 3, .padding = 1}))
      .add("relu1", nn::make<nn::ReLU>())
      .add("conv2", nn::make<nn::Conv2d>({.in = 4, .out = 4, .kernel = 3, .padding = 1}))
      .add("relu2", nn::make<nn::ReLU>())
      .add("pool", nn::make<nn::AdaptiveAvgPool2d>(nn::AdaptivePool2dOptions{.out = 1}))
      .add("flatten", nn::make<nn::Flatten>())
      .add("fc", nn::make<nn::Linear>({.in = 4, .out = classes}));
  return net;
}

TEST(SmoothGrad, NoNoiseIsVanilla) {
  auto m = tiny_cnn();
  const Tensor x = randn({2, 1, 6, 6});
  const Tensor t = from_vector<std::int64_t>({0, 2}, {2});
  explain::ExplainOptions o;
  o.smoothgrad_sigma = 0;
  o.smoothgrad_samples = 3;
  test::expect_close(explain::smooth_grad(*m, x, t, o), explain::gradient_map(*m, x, t), 1e-6, "smoothgrad");
}

TEST(Explain, LeavesTheModelAsItWas) {
  auto m = tiny_cnn();
  m->train();
  m->submodule("conv1").parameters()[0].requires_grad_(false);  // a frozen weight stays frozen
  const Tensor x = randn({2, 1, 6, 6});
  const auto e = explain::explain(*m, x, from_vector<std::int64_t>({0, 1}, {2}),
                                  {.methods = {Method::vanilla, Method::guided, Method::deconvnet, Method::gradcam,
                                               Method::guided_gradcam, Method::smoothgrad, Method::occlusion},
                                   .smoothgrad_samples = 2});
  EXPECT_EQ(e.maps.size(), 7u);
  EXPECT_EQ(e.layer, "relu2");
  EXPECT_TRUE(m->is_training());
  auto params = m->parameters();
  EXPECT_FALSE(params[0].requires_grad());
  for (std::size_t i = 1; i < params.size(); ++i) EXPECT_TRUE(params[i].requires_grad());
  for (auto& p : params) EXPECT_FALSE(p.grad().defined());
  // gradient maps keep the input's shape; CAM and occlusion are one channel
  EXPECT_EQ(e.maps.at(Method::guided).shape(), x.shape());
  EXPECT_EQ(e.maps.at(Method::gradcam).shape(), (Shape{2, 1, 6, 6}));
  EXPECT_EQ(e.maps.at(Method::occlusion).shape(), (Shape{2, 1, 6, 6}));
  // the sigmoid score scales the logit's gradient by sigmoid'(logit)
  const Tensor t = from_vector<std::int64_t>({0, 1}, {2});
  const Tensor gl = explain::gradient_map(*m, x, t);
  const Tensor gs = explain::gradient_map(*m, x, t, ReluGradRule::standard, explain::Score::sigmoid);
  const Tensor logit = e.logits.select(1, 0).select(0, 0);
  const double s = 1 / (1 + std::exp(-logit.item()));
  test::expect_close(gs.select(0, 0), gl.select(0, 0) * (s * (1 - s)), 1e-5, "sigmoid score");
}

TEST(Explain, DefaultLayerIsTheLastSpatialOne) {
  auto lenet = models::create("lenet5", {});
  EXPECT_EQ(explain::default_cam_layer(*lenet, zeros({1, 1, 28, 28})), "features");  // ends with features.5
  auto resnet = models::create("resnet18", {.small_input = true});
  EXPECT_EQ(explain::default_cam_layer(*resnet, zeros({1, 1, 28, 28})), "layer4");
  auto mlp = std::make_shared<nn::Sequential>();
  mlp->add("flatten", nn::make<nn::Flatten>()).add("fc", nn::make<nn::Linear>({.in = 4, .out = 2}));
  EXPECT_THROW(explain::default_cam_layer(*mlp, zeros({1, 1, 2, 2})), Error);
}

TEST(Explain, BadInputNamesTheProblem) {
  auto m = tiny_cnn();
  const Tensor x = randn({2, 1, 6, 6});
  auto has = [](const std::string& s, const char* part) { return s.find(part) != std::string::npos; };
  EXPECT_TRUE(has(test::error_of([&] {
                    explain::explain(*m, randn({1, 6, 6}), from_vector<std::int64_t>({0}, {1}));
                  }),
                  "(N,C,H,W)"));
  EXPECT_TRUE(
      has(test::error_of([&] { explain::explain(*m, x, from_vector<std::int64_t>({0}, {1})); }), "one target class"));
  EXPECT_TRUE(has(test::error_of([&] {
                    explain::explain(*m, x, from_vector<std::int64_t>({0, 3}, {2}));
                  }),
                  "outside [0, 3)"));
  EXPECT_TRUE(has(test::error_of([&] {
                    explain::explain(*m, x, from_vector<std::int64_t>({0, 1}, {2}), {.layer = "conv9"});
                  }),
                  "conv9"));
  EXPECT_TRUE(has(test::error_of([&] {
                    explain::explain(*m, x, from_vector<std::int64_t>({0, 1}, {2}), {.layer = "fc"});
                  }),
                  "spatial"));
  EXPECT_TRUE(has(test::error_of([&] { explain::feature_maps(*m, x, {"nope"}); }), "nope"));
}

TEST(GradCamPP, ZeroGradientsGiveZeroWeightsNotNaN) {
  // channel 0 has no gradient (its alphas' denominators are 0); channel 1: g = 1 everywhere,
  // alpha = 1 / (2 + sum(A)) = 1/7, w = 2/7: the map is channel 1 scaled
  const Tensor a = from_vector<float>({3, 1, 1, 4}, {1, 2, 1, 2});
  const Tensor g = from_vector<float>({0, 0, 1, 1}, {1, 2, 1, 2});
  const Tensor cam = explain::cam_pp_from(a, g, {1, 2});
  test::expect_close(cam, from_vector<float>({0, 1}, {1, 1, 1, 2}), 1e-6, "grad-cam++");
  // LayerCAM keeps only positive gradients, element by element
  const Tensor lc = explain::layer_cam_from({{a, from_vector<float>({-1, 2, 1, -3}, {1, 2, 1, 2})}}, {1, 2});
  test::expect_close(lc, from_vector<float>({0, 1}, {1, 1, 1, 2}), 1e-6, "layercam");  // (1, 2): scaled (0, 1)
}

TEST(IntegratedGradients, CompleteAndExactOnALinearModel) {
  CornerSum m;  // the logit is linear in x: IG is exactly (x - x') * gradient, whatever the steps
  const Tensor x = randn({2, 1, 4, 4}), t = from_vector<std::int64_t>({0, 0}, {2});
  explain::ExplainOptions o;
  o.methods = {Method::integrated_gradients};
  o.ig_steps = 3;
  const auto e = explain::explain(m, x, t, o);
  const Tensor corner = zeros({2, 1, 4, 4});
  corner.slice(2, 0, 2).slice(3, 0, 2).fill_(1);
  test::expect_close(e.maps.at(Method::integrated_gradients), x * corner, 1e-5, "attributions");
  test::expect_close(e.ig_sum, e.ig_score_gap, 1e-5, "completeness");
  EXPECT_LT(explain::completeness_error(e, 1), 1e-4);
  // a given baseline: attributions (x - x') on the corner
  o.ig_baseline_input = ones({1, 1, 4, 4});
  test::expect_close(explain::integrated_gradients(m, x, t, o), (x - 1.0) * corner, 1e-5, "baseline ones");
  o.ig_baseline_input = ones({3, 1, 4, 4});
  EXPECT_NE(test::error_of([&] { explain::integrated_gradients(m, x, t, o); }).find("baseline"), std::string::npos);
}

TEST(IntegratedGradients, MoreStepsCloserToComplete) {
  manual_seed(4);
  auto m = tiny_cnn();
  const Tensor x = randn({2, 1, 6, 6}), t = from_vector<std::int64_t>({0, 2}, {2});
  auto error = [&](std::int64_t steps) {
    explain::ExplainOptions o;
    o.methods = {Method::integrated_gradients};
    o.ig_steps = steps;
    const auto e = explain::explain(*m, x, t, o);
    return explain::completeness_error(e, 0) + explain::completeness_error(e, 1);
  };
  EXPECT_LT(error(64), error(2));
  EXPECT_LT(error(64), 0.02);
}

TEST(Explain, BatchesAndTargetSetsGiveTheSameMaps) {
  manual_seed(5);
  auto m = tiny_cnn();
  const Tensor x = randn({5, 1, 6, 6});
  const Tensor t = from_vector<std::int64_t>({0, 2, 1, 1, 0}, {5});
  explain::ExplainOptions whole;
  whole.methods = explain::all_methods();
  whole.smoothgrad_samples = 2;
  whole.ig_steps = 4;
  whole.layercam_layers = {"conv1", "relu2"};
  explain::ExplainOptions pieces = whole;
  pieces.batch = 2;
  pieces.forward_batch = 3;
  const auto a = explain::explain(*m, x, t, whole), b = explain::explain(*m, x, t, pieces);
  ASSERT_EQ(a.maps.size(), 11u);
  for (auto meth : explain::all_methods())
    test::expect_close(b.maps.at(meth), a.maps.at(meth), 1e-5, "batched " + explain::method_name(meth));
  test::expect_close(b.logits, a.logits, 1e-6, "logits");
  test::expect_close(b.ig_sum, a.ig_sum, 1e-5, "ig sum");
  // two target sets: each is explain() of its column
  const Tensor sets = stack({t, from_vector<std::int64_t>({1, 1, 2, 0, 2}, {5})}, 1);  // (5,2)
  explain::ExplainOptions cams;
  cams.methods = {Method::gradcam, Method::vanilla};
  const auto each = explain::explain_each(*m, x, sets, cams);
  ASSERT_EQ(each.size(), 2u);
  test::expect_close(each[1].maps.at(Method::gradcam),
                     explain::explain(*m, x, sets.select(1, 1).contiguous(), cams).maps.at(Method::gradcam), 0,
                     "second target set");
  EXPECT_EQ(each[1].target.to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 1, 2, 0, 2}));
  // the predicted classes, most likely first
  const Tensor top = explain::predicted_classes(*m, x, 2, 2);
  EXPECT_EQ(top.shape(), (Shape{5, 2}));
  EXPECT_EQ(top.select(1, 0).contiguous().to_vector<std::int64_t>(), argmax(a.logits, 1).to_vector<std::int64_t>());
  // ranked from logits already computed (what the CLI does); ties keep the lower class first
  EXPECT_EQ(explain::top_classes(a.logits, 2).to_vector<std::int64_t>(), top.to_vector<std::int64_t>());
  EXPECT_EQ(explain::top_classes(from_vector<float>({1, 3, 3, 0}, {1, 4}), 3).to_vector<std::int64_t>(),
            (std::vector<std::int64_t>{1, 2, 0}));
  EXPECT_NE(test::error_of([&] { explain::top_classes(a.logits, 99); }).find("more than the model's"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { explain::explain(*m, x, t, {.batch = 0}); }).find("batch"), std::string::npos);
  EXPECT_NE(test::error_of([&] {
              explain::ExplainOptions o;
              o.methods = {Method::layercam};
              o.layercam_layers = {"conv1", "nope"};
              explain::explain(*m, x, t, o);
            }).find("nope"),
            std::string::npos);
  EXPECT_THROW(explain::parse_baseline("black"), Error);
}

TEST(Faithfulness, CurvesOfAKnownModel) {
  CornerSum m;  // logits (s, 0): p = sigmoid(s), s the sum of the 2x2 corner
  const Tensor x = ones({1, 1, 4, 4}) * 0.5;
  const Tensor t = from_vector<std::int64_t>({0}, {1});
  Tensor map = zeros({1, 1, 4, 4});
  map.slice(2, 0, 2).slice(3, 0, 2).fill_(1);  // the corner first
  const auto f = explain::faithfulness(m, x, t, map, {.steps = 4, .forward_batch = 3});
  const auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  const double p = sig(2.0);  // corner sum 4 * 0.5
  // deletion: the corner's 4 pixels go in the first step; then p = sigmoid(0)
  test::expect_close(f.deletion, from_vector<float>({float(p), 0.5f, 0.5f, 0.5f, 0.5f}, {1, 5}), 1e-6, "deletion");
  EXPECT_NEAR(f.deletion_auc.item(), (p / 2 + 0.5 * 3 + 0.25) / 4, 1e-6);
  // insertion: from the blurred image, whose corner sum is smaller; the corner comes back first
  const double blurred = sum(explain::gaussian_blur(x).slice(2, 0, 2).slice(3, 0, 2)).item();
  EXPECT_LT(blurred, 2.0);
  EXPECT_NEAR(f.insertion.select(1, 0).item(), sig(blurred), 1e-6);
  EXPECT_NEAR(f.insertion.select(1, 1).item(), p, 1e-6);
  // the input times the map keeps the corner: no drop
  EXPECT_NEAR(f.masked.item(), p, 1e-6);
  EXPECT_NEAR(f.average_drop, 0, 1e-6);
  // the reversed map deletes the corner last
  const auto late = explain::faithfulness(m, x, t, 1.0 - map, {.steps = 4});
  EXPECT_GT(late.mean_deletion_auc, f.mean_deletion_auc);
  EXPECT_NEAR(late.average_drop, 100 * (p - 0.5) / p, 1e-4);
  EXPECT_NE(test::error_of([&] {
              explain::faithfulness(m, x, t, zeros({1, 1, 3, 4}));
            }).find("does not match"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { explain::faithfulness(m, x, t, map, {.steps = 0}); }).find("steps"),
            std::string::npos);
}

TEST(GaussianBlur, KeepsAConstantAwayFromTheBorder) {
  const Tensor x = full({1, 3, 21, 21}, 2.0);
  const Tensor b = explain::gaussian_blur(x);
  EXPECT_EQ(b.shape(), x.shape());
  EXPECT_NEAR(b.select(2, 10).select(2, 10).select(0, 0).select(0, 1).item(), 2.0, 1e-5);
  EXPECT_LT(b.select(2, 0).select(2, 0).select(0, 0).select(0, 1).item(), 1.5);  // zero padding darkens the corner
}

TEST(RankCorrelation, SpearmanWithTies) {
  const Tensor a = from_vector<float>({1, 2, 3, 4}, {4});
  EXPECT_NEAR(explain::rank_correlation(a, a * 10.0), 1.0, 1e-12);
  EXPECT_NEAR(explain::rank_correlation(a, -a), -1.0, 1e-12);
  // ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4): Pearson of the ranks
  EXPECT_NEAR(explain::rank_correlation(from_vector<float>({5, 5, 6, 7}, {4}), a), 0.9486832980505138, 1e-12);
  EXPECT_EQ(explain::rank_correlation(ones({4}), a), 0.0);
}

TEST(FeatureMaps, AreTheLayersOutputs) {
  auto m = tiny_cnn();
  const Tensor x = randn({1, 1, 6, 6});
  const auto f = explain::feature_maps(*m, x, {"relu1", "conv2"});
  NoGradGuard ng;
  m->eval();
  const Tensor r1 = relu((*std::dynamic_pointer_cast<nn::Sequential>(m))[0]->operator()(x));
  test::expect_close(f.at("relu1"), r1, 0, "relu1");
  EXPECT_EQ(f.at("conv2").shape(), (Shape{1, 4, 6, 6}));
}

// ---- a trained network on a synthetic dataset: 32x32 noise with one 8x8 textured patch at a
// random place; the texture (horizontal stripes, vertical stripes, checkerboard, ring) is the
// class, so the patch is the only evidence and its place is known for every image. Two heads:
// global average pooling (CAM's) and global max pooling.

struct Patches {
  Tensor x;                             // (N,1,32,32)
  Tensor y;                             // (N) i64
  std::vector<std::pair<int, int>> at;  // top-left corner of each image's patch
};

Patches make_patches(int n, std::uint64_t seed) {
  Generator g(seed);
  Patches p;
  p.x = randn({n, 1, 32, 32}, {}, g) * 0.3;
  const auto u = rand({n, 3}, {}, g).to_vector<float>();
  std::vector<std::int64_t> labels(n);
  float* px = p.x.data<float>();
  for (int i = 0; i < n; ++i) {
    const int cls = std::min(3, static_cast<int>(u[3 * i] * 4));
    const int y0 = std::min(24, static_cast<int>(u[3 * i + 1] * 25)),
              x0 = std::min(24, static_cast<int>(u[3 * i + 2] * 25));
    labels[i] = cls;
    p.at.emplace_back(y0, x0);
    for (int dy = 0; dy < 8; ++dy)
      for (int dx = 0; dx < 8; ++dx) {
        const bool on = cls == 0   ? dy % 2 == 0
                        : cls == 1 ? dx % 2 == 0
                        : cls == 2 ? (dx + dy) % 2 == 0
                                   : (dy == 0 || dy == 7 || dx == 0 || dx == 7);
        px[(i * 32 + y0 + dy) * 32 + x0 + dx] = on ? 1.5f : -1.5f;
      }
  }
  p.y = from_vector<std::int64_t>(labels, {n});
  return p;
}

enum class Head { avg, max };

nn::ModulePtr patch_cnn(Head head) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", nn::make<nn::Conv2d>({.in = 1, .out = 16, .kernel = 3, .padding = 1}))
      .add("relu1", nn::make<nn::ReLU>())
      .add("conv2", nn::make<nn::Conv2d>({.in = 16, .out = 32, .kernel = 3, .padding = 1}))
      .add("relu2", nn::make<nn::ReLU>())
      .add("pool", nn::make<nn::MaxPool2d>(Pool2dOptions{.kernel = 2}))
      .add("conv3", nn::make<nn::Conv2d>({.in = 32, .out = 32, .kernel = 3, .padding = 1}))
      .add("relu3", nn::make<nn::ReLU>());
  if (head == Head::avg) net->add("gap", nn::make<nn::AdaptiveAvgPool2d>(nn::AdaptivePool2dOptions{.out = 1}));
  else net->add("gmp", nn::make<nn::AdaptiveMaxPool2d>(nn::AdaptivePool2dOptions{.out = 1}));
  net->add("flatten", nn::make<nn::Flatten>()).add("fc", nn::make<nn::Linear>({.in = 32, .out = 4}));
  return net;
}

// Trained once per head (Adam, 4 epochs of 2,048 images: about a second).
nn::Module& trained(Head head) {
  static std::map<Head, nn::ModulePtr> cache;
  auto& m = cache[head];
  if (!m) {
    manual_seed(0);
    m = patch_cnn(head);
    const Patches train = make_patches(2048, 1);
    optim::Adam opt(m->parameters(), {.lr = 3e-3});
    for (int epoch = 0; epoch < 4; ++epoch)
      for (int b = 0; b < 2048; b += 64) {
        Tensor loss = cross_entropy((*m)(train.x.slice(0, b, b + 64)), train.y.slice(0, b, b + 64));
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
    m->eval();
  }
  return *m;
}

const Patches& test_patches() {
  static const Patches p = make_patches(200, 2);
  return p;
}

std::string head_name(Head h) { return h == Head::avg ? "average-pool head" : "max-pool head"; }

// Where in an (H,W) map the largest value lies.
std::pair<int, int> peak(const Tensor& m) {
  const auto v = m.contiguous().to_vector<float>();
  const auto i = static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
  return {i / static_cast<int>(m.size(-1)), i % static_cast<int>(m.size(-1))};
}

class PatchDataset : public ::testing::TestWithParam<Head> {};

// The Grad-CAM peak inside the patch; the vanilla saliency mass in it.
void check_localisation(Head head) {
  const Patches& test = test_patches();
  nn::Module& model = trained(head);
  const auto e = explain::explain(model, test.x, test.y, {.methods = {Method::vanilla, Method::gradcam}});
  EXPECT_EQ(e.layer, "relu3");
  const auto pred = argmax(e.logits, 1).to_vector<std::int64_t>();
  const auto truth = test.y.to_vector<std::int64_t>();
  int correct = 0, inside = 0;
  double mass = 0;
  const Tensor sal = explain::reduce_channels(e.maps.at(Method::vanilla), explain::Reduce::max);
  for (int i = 0; i < 200; ++i) {
    correct += pred[i] == truth[i];
    const auto [py, px] = peak(e.maps.at(Method::gradcam).select(0, i).select(0, 0));
    const auto [y0, x0] = test.at[i];
    inside += py >= y0 && py < y0 + 8 && px >= x0 && px < x0 + 8;
    const Tensor m = sal.select(0, i).select(0, 0);
    mass += sum(m.slice(0, y0, y0 + 8).slice(1, x0, x0 + 8)).item() / sum(m).item();
  }
  mass /= 200;
  std::cout << "[ synthetic ] " << head_name(head) << ": test accuracy " << correct / 2.0
            << "%, Grad-CAM peak inside the patch on " << inside / 2.0 << "% of images, vanilla saliency mass inside "
            << "the patch " << 100 * mass << "% (the patch is 6.25% of the image)\n";
  EXPECT_GE(correct, 190);
  EXPECT_GE(inside, 180);
  // With max pooling the gradient reaches the input only through the patch's receptive field;
  // with average pooling every active background position passes some on (docs/explain.md).
  if (head == Head::max) EXPECT_GE(mass, 0.5);
  else EXPECT_GT(mass, 0.0625);
}

// Adebayo et al.: randomising the top layers changes vanilla and Grad-CAM.
void check_randomisation(Head head) {
  nn::Module& model = trained(head);
  const Tensor x = test_patches().x.slice(0, 0, 32), y = test_patches().y.slice(0, 0, 32);
  const auto before = explain::explain(model, x, y);
  const auto steps = explain::cascading_randomization(model, x, y, {"fc", "conv3", "conv2", "conv1"},
                                                      {.methods = {Method::vanilla, Method::guided, Method::gradcam}});
  ASSERT_EQ(steps.size(), 4u);
  for (auto& s : steps)
    std::cout << "[ sanity ] " << head_name(head) << ", re-initialised down to " << s.layer
              << ": rank correlation vanilla " << s.rank_corr.at(Method::vanilla) << ", guided "
              << s.rank_corr.at(Method::guided) << ", Grad-CAM " << s.rank_corr.at(Method::gradcam) << "\n";
  // once the top two layers are random, Grad-CAM no longer orders the pixels as before
  EXPECT_LT(steps[1].rank_corr.at(Method::gradcam), 0.5);
  if (head == Head::avg) {
    EXPECT_LT(steps[0].rank_corr.at(Method::vanilla), 0.5);
    EXPECT_LT(steps[0].rank_corr.at(Method::gradcam), 0.5);
  } else {
    EXPECT_LT(steps[1].rank_corr.at(Method::vanilla), 0.8);
  }
  // the weights are restored afterwards
  const auto after = explain::explain(model, x, y);
  test::expect_close(after.maps.at(Method::vanilla), before.maps.at(Method::vanilla), 0, "restored");
}

// The share of the patch among each image's 64 most important pixels (the patch's size): 1 when
// the map's top pixels are the patch, 0.0625 on average for a random map.
double patch_coverage(const Tensor& importance, const Patches& p) {
  const std::int64_t n = importance.size(0);
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto v = importance.select(0, i).contiguous().to_vector<float>();
    std::vector<int> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
    const auto [y0, x0] = p.at[static_cast<std::size_t>(i)];
    int inside = 0;
    for (int j = 0; j < 64; ++j) {
      const int py = order[j] / 32, px = order[j] % 32;
      inside += py >= y0 && py < y0 + 8 && px >= x0 && px < x0 + 8;
    }
    total += inside / 64.0;
  }
  return total / static_cast<double>(n);
}

// The methods whose maps land on the patch are the ones the faithfulness measures rank best:
// removing the patch first destroys the evidence (a low deletion AUC) and putting it back first
// restores it (a high insertion AUC), better than a random map; and every method whose top pixels
// cover the patch has a lower deletion AUC than every method whose top pixels do not.
void check_faithfulness(Head head) {
  const Patches& test = test_patches();
  nn::Module& model = trained(head);
  const Tensor x = test.x.slice(0, 0, 48), y = test.y.slice(0, 0, 48);
  explain::ExplainOptions o;
  o.methods = {Method::vanilla,  Method::guided,   Method::gradcam,    Method::gradcam_pp,
               Method::scorecam, Method::layercam, Method::smoothgrad, Method::integrated_gradients,
               Method::occlusion};
  o.smoothgrad_samples = 8;
  o.ig_steps = 16;
  o.batch = 16;
  const auto e = explain::explain(model, x, y, o);
  const auto scores = explain::evaluate(model, x, e, o.methods, {.steps = 32});
  ASSERT_EQ(scores.size(), o.methods.size() + 1);
  EXPECT_EQ(scores.back().method, "random");
  const explain::Faithfulness& chance = scores.back().f;
  std::vector<double> coverage, deletion;
  std::string best;  // the lowest deletion AUC
  double best_del = 1e9, best_cov = 0;
  for (std::size_t j = 0; j < scores.size(); ++j) {
    const Tensor imp =
        j < o.methods.size() ? explain::pixel_importance(e.maps.at(o.methods[j])) : explain::random_map(x);
    const auto& [name, f] = scores[j];
    coverage.push_back(patch_coverage(imp, test));
    deletion.push_back(f.mean_deletion_auc);
    std::cout << "[ faithfulness ] " << head_name(head) << ", " << name << ": patch coverage " << 100 * coverage.back()
              << "%, deletion AUC " << f.mean_deletion_auc << ", insertion AUC " << f.mean_insertion_auc
              << ", average drop " << f.average_drop << "%, increase " << f.increase << "%\n";
    if (name == "random") continue;
    best_cov = std::max(best_cov, coverage.back());
    if (f.mean_deletion_auc < best_del) best_del = f.mean_deletion_auc, best = name;
    if (coverage.back() >= 0.5) {  // on the patch
      EXPECT_LT(f.mean_deletion_auc, chance.mean_deletion_auc - 0.25) << name;
      EXPECT_GT(f.mean_insertion_auc, chance.mean_insertion_auc + 0.1) << name;
    }
  }
  // the best method by deletion is among those that cover the patch best
  const auto at = static_cast<std::size_t>(
      std::find_if(scores.begin(), scores.end(), [&](const auto& s) { return s.method == best; }) - scores.begin());
  EXPECT_GE(coverage[at], 0.5) << best << " has the lowest deletion AUC but covers " << coverage[at];
  EXPECT_GE(best_cov, 0.7);
  // every method on the patch scores better than every method off it, and than the random map
  double worst_on = 0, best_off = 1e9;
  for (std::size_t j = 0; j < scores.size(); ++j) {
    if (coverage[j] >= 0.5) worst_on = std::max(worst_on, deletion[j]);
    else best_off = std::min(best_off, deletion[j]);
  }
  EXPECT_LT(worst_on, best_off) << "a method on the patch has a higher deletion AUC than one off it";
  EXPECT_NEAR(coverage.back(), 0.0625, 0.03);  // the random map's
}

// One test per head: each test runs in its own process under ctest, so the network is trained
// once for all checks.
TEST_P(PatchDataset, MapsFindThePatchScoreBestAndRandomisationChangesThem) {
  check_localisation(GetParam());
  check_randomisation(GetParam());
  check_faithfulness(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Heads, PatchDataset, ::testing::Values(Head::avg, Head::max),
                         [](const auto& info) { return std::string(info.param == Head::avg ? "AvgPool" : "MaxPool"); });

TEST(ExplainFigure, HasAColumnPerMethodAndTitles) {
  auto m = tiny_cnn();
  const Tensor x = randn({2, 1, 6, 6});
  const auto e = explain::explain(*m, x, from_vector<std::int64_t>({0, 1}, {2}));
  std::vector<explain::FigureRow> rows;
  for (int i = 0; i < 2; ++i) rows.push_back({explain::display_image(x, i), fmt::format("image {}", i), &e, i});
  const Tensor fig = explain::figure(rows, explain::default_methods(), {.min_cell = 60});
  EXPECT_EQ(fig.size(0), 3);
  EXPECT_GE(fig.size(2), 6 * (60 + 8));  // six columns of at least 60 px
  EXPECT_GE(fig.size(1), 2 * 60);
  for (auto method : explain::default_methods()) {
    const Tensor r = explain::render_map(e, method, 1, rows[1].image);
    EXPECT_EQ(r.shape(), (Shape{3, 6, 6})) << explain::method_name(method);
    EXPECT_EQ(r.dtype(), DType::u8);
  }
}

TEST(Draw, LabelledTilesHaveATitleAndChannelNumbers) {
  Generator g(3);
  const Tensor maps = randn({6, 4, 5}, {}, g);  // 6 channels of 4x5
  const Tensor plain = explain::tile_grid(maps);
  const Tensor labelled = explain::labelled_tile_grid(maps, "features.0: 6 channels of 4x5", 4);
  ASSERT_EQ(labelled.dim(), 3);
  EXPECT_EQ(labelled.size(0), 1);
  EXPECT_GT(labelled.size(1), plain.size(1) * 4);  // tiles 4x larger, plus a label row each and the title
  EXPECT_GT(labelled.size(2), plain.size(2) * 4);
  // the title is drawn in dark pixels in the top rows
  const auto px = labelled.contiguous().to_vector<std::uint8_t>();
  const auto w = labelled.size(2);
  int dark = 0;
  for (std::int64_t i = 0; i < 12 * w; ++i) dark += px[static_cast<std::size_t>(i)] < 128;
  EXPECT_GT(dark, 20);
  EXPECT_NE(test::error_of([&] { explain::labelled_tile_grid(maps, "x", 0); }).find("scale"), std::string::npos);
}

}  // namespace
