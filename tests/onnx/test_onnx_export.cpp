// Export round trips: zoo and spec-file models written as ONNX pass onnx.checker (Debian's
// python3-onnx, when installed) and re-import into fovea with the same outputs, for a batch size
// other than the traced one.
#include <gtest/gtest.h>

#include "fovea/autograd/grad_mode.h"
#include "fovea/models/registry.h"
#include "fovea/models/spec.h"
#include "fovea/onnx/export.h"
#include "fovea/onnx/import.h"
#include "fovea/ops/ops.h"
#include "fovea/train/deploy.h"
#include "tests/test_util.h"

using namespace fovea;
namespace fs = std::filesystem;

namespace {

// Random running statistics, so the exported batch norms are not identities.
void randomize_stats(nn::Module& m) {
  Generator g(3);
  NoGradGuard ng;
  for (auto& [name, t] : m.named_buffers())
    if (name.ends_with("running_mean")) t.copy_(randn(t.shape(), {}, g) * 0.1);
    else if (name.ends_with("running_var")) t.copy_(rand(t.shape(), {}, g) + 0.5);
}

void round_trip(nn::Module& m, const Shape& chw, const std::string& tag, std::int64_t opset = 17) {
  randomize_stats(m);
  const fs::path dir = test::unique_temp_dir("onnx_export_" + tag);
  const std::string path = (dir / "model.onnx").string();
  onnx::save_model(m, chw, path, {.opset = opset});
  if (test::have_python_module("onnx")) {
    const std::string cmd = fmt::format(
        "/usr/bin/python3 -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))' {}", path);
    EXPECT_EQ(std::system(cmd.c_str()), 0) << tag << ": onnx.checker rejects " << path;
  } else {
    std::printf("python3-onnx is not installed: onnx.checker NOT run on %s\n", tag.c_str());
  }
  auto g = onnx::load_model(path);
  // every weight once: a constant made into a layer's parameter is not kept as a buffer too
  auto elements = [](const nn::Module& mod) {
    std::int64_t n = 0;
    for (const auto& [name, t] : mod.state_dict()) n += t.numel();
    return n;
  };
  EXPECT_LE(elements(*g), elements(m)) << tag;
  Generator gen(11);
  Tensor x = randn({3, chw[0], chw[1], chw[2]}, {}, gen);
  m.eval();
  NoGradGuard ng;
  Tensor want = m(x), got = (*g)(x);
  test::expect_close(got.contiguous(), want.contiguous(), 1e-6, tag);
  fs::remove_all(dir);
}

TEST(OnnxExport, Lenet5) {
  auto m = models::create("lenet5", {.num_classes = 10, .in_channels = 1});
  round_trip(*m, {1, 28, 28}, "lenet5", 11);
}

TEST(OnnxExport, Resnet18SmallInput) {
  auto m = models::create("resnet18", {.num_classes = 10, .in_channels = 3, .small_input = true});
  round_trip(*m, {3, 32, 32}, "resnet18", 13);
}

TEST(OnnxExport, ShufflenetV2ChannelShuffleAndSplit) {  // transpose and slice
  auto m = models::create("shufflenet_v2_x1_0", {.num_classes = 10, .in_channels = 3, .small_input = true});
  round_trip(*m, {3, 32, 32}, "shufflenet_v2", 13);
}

TEST(OnnxExport, Googlenet) {
  auto m = models::create("googlenet", {.num_classes = 10, .in_channels = 3});
  round_trip(*m, {3, 64, 64}, "googlenet");
}

TEST(OnnxExport, Densenet121) {
  auto m = models::create("densenet121", {.num_classes = 10, .in_channels = 3});
  round_trip(*m, {3, 64, 64}, "densenet121", 15);
}

TEST(OnnxExport, MobilenetV2) {
  auto m = models::create("mobilenet_v2", {.num_classes = 10, .in_channels = 3});
  round_trip(*m, {3, 32, 32}, "mobilenet_v2");
}

TEST(OnnxExport, SpecFile) {
  auto spec = models::load_spec(std::string(FOVEA_SOURCE_DIR) + "/examples/specs/article_example.json");
  round_trip(*spec.net, spec.input, "spec");
}

TEST(OnnxExport, KeepsStateDictNamesAndTrainingMode) {
  auto m = models::create("lenet5", {.num_classes = 10, .in_channels = 1});
  m->train();
  const std::string bytes = onnx::export_model(*m, {1, 28, 28});
  EXPECT_TRUE(m->is_training());
  EXPECT_NE(bytes.find("features.0.weight"), std::string::npos);
  auto g = onnx::load_model_from_bytes(bytes);
  EXPECT_EQ(g->num_parameters(), m->num_parameters());
}

TEST(OnnxExport, RejectsBadOpset) {
  auto m = models::create("lenet5", {.num_classes = 10, .in_channels = 1});
  try {
    onnx::export_model(*m, {1, 28, 28}, {.opset = 9});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[onnx export] opset 9 is not supported"), std::string::npos) << e.what();
  }
}

TEST(OnnxExport, MetadataRoundTrips) {
  auto net = models::create("lenet5", {.num_classes = 3, .in_channels = 1});
  const auto path = (test::unique_temp_dir("onnx_meta") / "m.onnx").string();
  const train::Preprocess p{.input = {1, 28, 28}, .mean = {0.25}, .std = {0.5}, .classes = {"a", "b c", "d/e"}};
  onnx::save_model(*net, {1, 28, 28}, path, {.metadata = train::onnx_metadata(p)});
  const auto info = onnx::inspect(path);
  ASSERT_EQ(info.input_shapes.size(), 1u);
  EXPECT_EQ(info.input_shapes[0], (Shape{-1, 1, 28, 28}));  // the batch is "N"
  const auto back = train::preprocess_of(info, path);
  EXPECT_EQ(back.input, p.input);
  EXPECT_EQ(back.mean, p.mean);
  EXPECT_EQ(back.std, p.std);
  EXPECT_EQ(back.classes, p.classes);
  // without metadata the declared input shape is used, and nothing else is invented
  const auto bare = (test::unique_temp_dir("onnx_meta") / "bare.onnx").string();
  onnx::save_model(*net, {1, 28, 28}, bare);
  const auto none = train::preprocess_of(onnx::inspect(bare), bare);
  EXPECT_EQ(none.input, (Shape{1, 28, 28}));
  EXPECT_TRUE(none.mean.empty());
  EXPECT_TRUE(none.classes.empty());
}

}  // namespace
