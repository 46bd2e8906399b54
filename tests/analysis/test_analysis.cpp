#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <limits>

#include "fovea/analysis/formulas.h"
#include "fovea/analysis/summary.h"
#include "fovea/io/safetensors.h"
#include "fovea/models/registry.h"
#include "fovea/models/spec.h"
#include "fovea/nn/nn.h"
#include "fovea/ops/ops.h"
#include "tests/data/data_test_util.h"
#include "tests/test_util.h"

using namespace fovea;

namespace {

Tensor rows_of(const std::string& name) {
  return io::load_safetensors(std::string(FOVEA_SOURCE_DIR) + "/tests/golden/fixtures/" + name + ".safetensors")
      .at("rows");
}

const char* kArticle = R"({"input": [1, 30, 30], "layers": [
  {"type": "conv2d", "out": 10, "kernel": 5}, {"type": "relu"}, {"type": "maxpool2d", "kernel": 2},
  {"type": "flatten"}, {"type": "linear", "out": 200}]})";

}  // namespace

// Each fixture row holds the arguments and, last, PyTorch's output size.
static void check_rows(const char* fixture, std::int64_t cols,
                       const std::function<std::int64_t(const std::int64_t*)>& f) {
  auto r = rows_of(fixture);
  ASSERT_EQ(r.size(1), cols);
  ASSERT_GT(r.size(0), 100);
  auto v = r.to_vector<std::int64_t>();
  for (std::int64_t i = 0; i < r.size(0); ++i)
    EXPECT_EQ(f(&v[i * cols]), v[i * cols + cols - 1]) << fixture << " row " << i;
}

TEST(Formulas, OutputSizesMatchPyTorch) {
  // in, kernel, stride, padding, dilation, out
  check_rows("sizes_conv", 6, [](auto x) { return conv_output_size(x[0], x[1], x[2], x[3], x[3], x[4]); });
  // in, kernel, stride, padding, dilation, ceil_mode, out
  check_rows("sizes_pool", 7, [](auto x) { return pool_output_size(x[0], x[1], x[2], x[3], x[5] != 0, x[4]); });
  // in, kernel, stride, padding, dilation, output_padding, out
  check_rows("sizes_conv_transpose", 7,
             [](auto x) { return conv_transpose_output_size(x[0], x[1], x[2], x[3], x[4], x[5]); });
}

TEST(Formulas, ParameterCountsMatchTheModules) {
  EXPECT_EQ(analysis::conv2d_params(3, 64, 7, 7, 1, false),
            nn::make<nn::Conv2d>({.in = 3, .out = 64, .kernel = 7, .bias = false})->num_parameters());
  EXPECT_EQ(analysis::conv2d_params(32, 32, 3, 3, 32),
            nn::make<nn::Conv2d>({.in = 32, .out = 32, .kernel = 3, .groups = 32})->num_parameters());
  EXPECT_EQ(analysis::linear_params(1690, 200), 338200);
  EXPECT_EQ(analysis::batch_norm_params(64), nn::make<nn::BatchNorm2d>({.features = 64})->num_parameters());
  EXPECT_THROW(conv_output_size(2, 5), Error);
}

// The article's worked example: 10 filters of 5x5 on one channel, max-pool to 13x13x10 = 1,690
// values, a 200-unit fully connected layer: 338,460 parameters.
TEST(Summary, ArticleWorkedExample) {
  auto spec = models::parse_spec(kArticle, "article.json");
  EXPECT_EQ(spec.output, (Shape{200}));
  auto s = analysis::summarize(*spec.net, spec.input);
  EXPECT_EQ(s.params, 338460);
  EXPECT_EQ(s.rows[1].params, 260);                     // conv: 250 weights + 10 biases
  EXPECT_EQ(s.rows[3].output, (Shape{1, 10, 13, 13}));  // 1,690 values
  EXPECT_EQ(s.rows[5].params, 338200);                  // 338,000 weights + 200 biases
  auto table = analysis::format_summary(s, analysis::Format::table);
  EXPECT_NE(table.find("Total params: 338,460"), std::string::npos) << table;
  auto j = analysis::format_summary(s, analysis::Format::json);
  EXPECT_NE(j.find("\"total_params\": 338460"), std::string::npos);
  EXPECT_NE(analysis::format_summary(s, analysis::Format::markdown).find("|---"), std::string::npos);
}

// The article's receptive-field example: kernel 3x3, padding 1, stride 2 on a 5x5 map gives 3x3
// (each unit sees 3x3), applied again 2x2 (each unit sees 7x7).
TEST(ReceptiveField, ArticleExample) {
  auto spec = models::parse_spec(R"({"input": [1, 5, 5], "layers": [
    {"type": "conv2d", "out": 1, "kernel": 3, "stride": 2, "padding": 1},
    {"type": "conv2d", "out": 1, "kernel": 3, "stride": 2, "padding": 1}]})",
                                 "rf.json");
  auto s = analysis::summarize(*spec.net, spec.input);
  ASSERT_EQ(s.rows.size(), 3u);
  EXPECT_EQ(s.rows[1].output, (Shape{1, 1, 3, 3}));
  EXPECT_EQ(s.rows[1].geometry.h.rf, 3);
  EXPECT_EQ(s.rows[1].geometry.h.jump, 2);
  EXPECT_EQ(s.rows[1].geometry.h.start, 0);
  EXPECT_EQ(s.rows[2].output, (Shape{1, 1, 2, 2}));
  EXPECT_EQ(s.rows[2].geometry.h.rf, 7);
  EXPECT_EQ(s.rows[2].geometry.h.jump, 4);
  EXPECT_EQ(s.rows[2].geometry.h.padding(), 3);
}

// Dilated convolutions of kernel 3 with dilation 1, 2, 4 grow the receptive field 3, 7, 15
// while the resolution stays (the article's 1-D example).
TEST(ReceptiveField, DilatedGrowsExponentially) {
  auto spec = models::parse_spec(R"({"input": [1, 1, 40], "layers": [
    {"type": "conv2d", "out": 1, "kernel": [1, 3], "dilation": [1, 1], "padding": "same"},
    {"type": "conv2d", "out": 1, "kernel": [1, 3], "dilation": [1, 2], "padding": "same"},
    {"type": "conv2d", "out": 1, "kernel": [1, 3], "dilation": [1, 4], "padding": "same"}]})",
                                 "dilated.json");
  auto s = analysis::summarize(*spec.net, spec.input);
  EXPECT_EQ(s.rows[1].geometry.w.rf, 3);
  EXPECT_EQ(s.rows[2].geometry.w.rf, 7);
  EXPECT_EQ(s.rows[3].geometry.w.rf, 15);
  EXPECT_EQ(s.rows[3].output, (Shape{1, 1, 1, 40}));
  EXPECT_EQ(s.rows[3].geometry.w.jump, 1);
}

namespace {
// Two parallel paths merged by addition: the receptive field is the larger one's.
class TwoPaths : public nn::Module {
 public:
  TwoPaths() : Module("TwoPaths") {
    a_ = register_module("small", nn::make<nn::Conv2d>({.in = 1, .out = 2, .kernel = 3, .padding = 1}));
    b_ = register_module("large", nn::make<nn::Conv2d>({.in = 1, .out = 2, .kernel = 7, .padding = 3}));
  }
  Tensor forward(const Tensor& x) override { return (*a_)(x) + (*b_)(x); }

 private:
  std::shared_ptr<nn::Conv2d> a_, b_;
};
}  // namespace

TEST(ReceptiveField, LargestOverThePaths) {
  auto net = std::make_shared<nn::Sequential>(
      std::initializer_list<nn::ModulePtr>{std::make_shared<TwoPaths>(), nn::make<nn::MaxPool2d>({.kernel = 2})});
  auto s = analysis::summarize(*net, {1, 16, 16});
  EXPECT_EQ(s.rows[1].type, "TwoPaths");
  EXPECT_EQ(s.rows[1].geometry.h.rf, 7);
  EXPECT_EQ(s.rows.back().geometry.h.rf, 8);
}

TEST(Summary, MetaModelsAllocateNothingAndSharedParametersCountOnce) {
  DefaultDeviceGuard meta(kMeta);
  auto big = nn::make<nn::Linear>({.in = 100000, .out = 10000});  // 4 GB on a real device
  EXPECT_TRUE(big->weight.is_meta());
  auto lin = nn::make<nn::Linear>({.in = 8, .out = 8});
  nn::Sequential shared{lin, nn::make<nn::ReLU>(), lin};
  auto s = analysis::summarize(shared, {1, 1, 8});
  EXPECT_EQ(s.params, 72);
  auto t0 = std::chrono::steady_clock::now();
  auto s2 = analysis::summarize(*big, {1, 1, 100000});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  EXPECT_EQ(s2.params, 1000010000);
}

TEST(Spec, ErrorsNameTheLayerAndField) {
  auto expect_error = [](const char* text, const char* part) {
    try {
      models::parse_spec(text, "net.json");
      FAIL() << "no error for " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(R"({"input": [1, 8, 8], "layers": [{"type": "conv2d", "kernel": 3}]})",
               "layer 0 (conv2d): missing field 'out'");
  expect_error(R"({"input": [1, 8, 8], "layers": [{"type": "relu"}, {"type": "conv2d", "out": 2, "kernal": 3}]})",
               "layer 1 (conv2d): unknown field 'kernal'");
  expect_error(R"({"input": [1, 8, 8], "layers": [{"type": "conv"}]})", "unknown layer type 'conv'");
  expect_error(R"({"input": [1, 8, 8], "layers": [{"type": "conv2d", "out": 2, "kernel": 9}]})", "layer 0 (conv2d)");
  expect_error(R"({"input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "maxpool2d", "kernel": 2}]})",
               "layer 1 (maxpool2d): needs an image input");
  expect_error(R"({"input": [1, 8], "layers": [{"type": "relu"}]})", "\"input\" must be [C, H, W]");
  expect_error(R"({"input": [1, 8, 8], "layers": [{"type": "conv2d", "out": -1, "kernel": 3}]})",
               "must be an integer >= 1");
  expect_error("{not json", "not valid JSON");
}

TEST(Spec, SizesAreBoundedBeforeAnythingIsAllocated) {
  auto error_of = [](const char* text, const models::SpecOptions& o = {}) {
    return test::error_of([&] { models::parse_spec(text, "big.json", o); });
  };
  // found by fuzzing: a 121-million-channel convolution and a linear layer after it took over 2 GB to build
  const char* big = R"({"input": [1, 30, 29], "layers": [{"type": "conv2d", "out": 121474836, "kernel": 2},
    {"type": "flatten"}, {"type": "linear", "out": 200}]})";
  EXPECT_CONTAINS(error_of(big), "big.json: the network holds");
  EXPECT_CONTAINS(error_of(big), "parameters (");
  EXPECT_CONTAINS(error_of(big, {.max_parameters = 1 << 20}),
                  "big.json: the network holds 19728120740780 parameters (73493.0 GiB as f32), more than the limit of "
                  "1048576; layer 2 (Linear) alone holds 19727513366600");
  EXPECT_CONTAINS(
      error_of(R"({"input": [1, 8, 8], "layers": [{"type": "conv2d", "out": 200000, "kernel": 3}]})",
               {.max_parameters = 1 << 20}),
      "holds 2000000 parameters (7.6 MiB as f32), more than the limit of 1048576; layer 0 (Conv2d) alone holds "
      "2000000");
  // 2^41 parameters pass any machine's memory; on the meta device nothing is allocated, so it builds
  const char* huge = R"({"input": [1, 1, 1048576], "layers": [{"type": "linear", "out": 2097152, "bias": false}]})";
  EXPECT_CONTAINS(error_of(huge, {.max_parameters = std::numeric_limits<std::int64_t>::max()}),
                  "GiB as f32), more than this machine's");
  {
    DefaultDeviceGuard meta(kMeta);
    EXPECT_EQ(models::parse_spec(huge, "huge.json", {.max_parameters = std::int64_t{1} << 42}).net->num_parameters(),
              std::int64_t{1} << 41);
  }
  EXPECT_CONTAINS(error_of(R"({"input": [1, 8, 8], "layers": [{"type": "upsample", "scale": 1e12}]})"),
                  "layer 0 (upsample): scale 1000000000000 makes 8e+12x8e+12 images, more than 2^40 pixels");
  EXPECT_CONTAINS(error_of(R"({"input": [1, 8, 8], "layers": [{"type": "conv2d", "out": 4611686018427387904,
    "kernel": 1}]})"),
                  "layer 0 (conv2d)");
  EXPECT_CONTAINS(
      error_of(R"({"input": [1, 8, 8], "layers": [{"type": "conv_transpose2d", "out": 65536,
    "kernel": 1, "stride": 65536}]})"),
      "layer 0 (conv_transpose2d): its output (65536,458753,458753) holds more than 2^40 elements per sample");
  // the meta-device pass draws no random number: the weights are those of a spec built without it
  manual_seed(7);
  auto a = models::parse_spec(kArticle, "article.json");
  manual_seed(7);
  auto conv = nn::make<nn::Conv2d>({.in = 1, .out = 10, .kernel = 5});
  EXPECT_EQ(test::to_doubles(a.net->parameters()[0]), test::to_doubles(conv->parameters()[0]));
}

TEST(Spec, AcceptedAsAModel) {
  const std::string path = ::testing::TempDir() + "/net.json";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(kArticle, f);
    std::fclose(f);
  }
  auto net = models::create(path);
  EXPECT_EQ(net->num_parameters(), 338460);
  EXPECT_EQ((*net)(randn({2, 1, 30, 30})).shape(), (Shape{2, 200}));
  std::remove(path.c_str());
}

TEST(Spec, LayerCatalogueTypes) {
  auto spec = models::parse_spec(R"({"input": [3, 16, 16], "layers": [
    {"type": "conv2d", "out": 8, "kernel": 3, "padding": "same"}, {"type": "lrn", "size": 5},
    {"type": "maxpool2d", "kernel": 2}, {"type": "conv_transpose2d", "out": 4, "kernel": 2, "stride": 2},
    {"type": "upsample", "scale": 2, "mode": "bilinear"}, {"type": "adaptive_avgpool2d", "out": [3, 5]},
    {"type": "adaptive_maxpool2d", "out": 2}, {"type": "global_avgpool2d"}, {"type": "flatten"},
    {"type": "linear", "out": 3}]})",
                                 "catalogue.json");
  EXPECT_EQ(spec.output, (Shape{3}));
  EXPECT_EQ((*spec.net)(randn({2, 3, 16, 16})).shape(), (Shape{2, 3}));
  auto s = analysis::summarize(*spec.net, spec.input);
  EXPECT_EQ(s.rows[4].output, (Shape{1, 4, 16, 16}));  // transposed conv undoes the pooling
  EXPECT_EQ(s.rows[5].output, (Shape{1, 4, 32, 32}));
  EXPECT_TRUE(s.rows[8].geometry.global);
}

// The receptive fields the literature publishes (Araujo et al. 2019, table 1).
TEST(ReceptiveField, PublishedValuesOfTheZoo) {
  DefaultDeviceGuard meta(kMeta);
  auto rf_of = [](const char* model, const char* layer) {
    auto net = models::create(model, {.num_classes = 1000, .in_channels = 3});
    auto s = analysis::summarize(*net, {3, 224, 224});
    double rf = 0;  // a module called several times (a block's ReLU): its last call
    for (auto& r : s.rows)
      if (r.name == layer) rf = r.geometry.h.rf;
    if (rf == 0) ADD_FAILURE() << model << " has no layer " << layer;
    return rf;
  };
  EXPECT_EQ(rf_of("alexnet", "features.12"), 195);        // pool5
  EXPECT_EQ(rf_of("vgg16", "features.30"), 212);          // pool5
  EXPECT_EQ(rf_of("resnet50", "layer4.2.relu"), 427);     // torchvision's: stride on the 3x3
  EXPECT_EQ(rf_of("resnet50_v1", "layer4.2.relu"), 483);  // the paper's: stride on the 1x1
}

TEST(Summary, NamesTheLayerThatNoLongerFits) {
  DefaultDeviceGuard meta(kMeta);
  auto net = models::create("lenet5", {.num_classes = 10, .in_channels = 1});
  try {
    analysis::summarize(*net, {1, 8, 8});
    FAIL() << "lenet5 cannot take 8x8 images";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[summary] features.3 (Conv2d) does not fit the input 1x8x8"),
              std::string::npos)
        << e.what();
  }
}

TEST(Summary, WarnsWhenMapsShrinkBelowTheWindows) {
  DefaultDeviceGuard meta(kMeta);
  auto net = models::create("resnet18", {.num_classes = 10, .in_channels = 3});
  const auto tiny = analysis::summarize(*net, {3, 5, 5});
  ASSERT_GE(tiny.warnings.size(), 2u);
  EXPECT_EQ(tiny.warnings.front(), "conv1 (Conv2d, 7x7 window) gets 5x5 maps: most of each window is padding");
  EXPECT_NE(tiny.warnings.back().find("too small"), std::string::npos);
  EXPECT_NE(analysis::format_summary(tiny, analysis::Format::table).find("warning: conv1"), std::string::npos);
  EXPECT_TRUE(analysis::summarize(*net, {3, 224, 224}).warnings.empty());  // its own size: no warning
}
