// Import parity: torchvision models exported by torch.onnx.export (Debian's PyTorch, at test
// time, opsets 11 to 17) give PyTorch's logits within 1e-4 relative in fovea; and an imported
// model is hooked, summarised and fine-tuned like a zoo model.
#include <gtest/gtest.h>

#include "fovea/analysis/summary.h"
#include "fovea/autograd/grad_mode.h"
#include "fovea/io/safetensors.h"
#include "fovea/nn/nn.h"
#include "fovea/onnx/import.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/sgd.h"
#include "tests/test_util.h"

using namespace fovea;
namespace fs = std::filesystem;

namespace {

struct ParityCase {
  const char* name;
  int size;
  int opset;
};

// Exports `c` with tests/onnx/onnx_parity.py into a fresh temp dir; returns it (empty: skipped).
fs::path export_with_torch(const ParityCase& c) {
  const fs::path dir = test::unique_temp_dir(fmt::format("onnx_{}_{}", c.name, c.opset));
  const std::string cmd = fmt::format("/usr/bin/python3 {}/tests/onnx/onnx_parity.py {} {} {} {} > {}/log.txt 2>&1",
                                      FOVEA_SOURCE_DIR, c.name, c.size, c.opset, dir.string(), dir.string());
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << cmd;
    return {};
  }
  return dir;
}

class OnnxParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(OnnxParity, LogitsEqualPyTorch) {
  const ParityCase c = GetParam();
  if (!test::have_python_module("torchvision"))
    GTEST_SKIP() << "Debian's python3-torch/torchvision is not installed: ONNX import parity NOT checked";
  const fs::path dir = export_with_torch(c);
  if (dir.empty()) return;
  auto model = onnx::load_model((dir / "model.onnx").string());
  auto io = io::load_safetensors((dir / "io.safetensors").string());
  NoGradGuard ng;
  Tensor y = (*model)(io.at("input"));
  test::expect_logits_close(y, io.at("logits"), c.name);
  fs::remove_all(dir);
}

// Each model at another opset, so 11 to 17 are all exercised. vgg16 needs 224 (its adaptive
// pooling exports only when 7 divides the feature map). shufflenet, mnasnet and convnext need
// ReduceMean and (convnext at 17) LayerNormalization; bench/onnx_zoo.py runs every classifier.
INSTANTIATE_TEST_SUITE_P(Torchvision, OnnxParity,
                         ::testing::Values(ParityCase{"resnet18", 224, 11}, ParityCase{"vgg16", 224, 13},
                                           ParityCase{"googlenet", 224, 17}, ParityCase{"densenet121", 224, 12},
                                           ParityCase{"mobilenet_v2", 224, 14}, ParityCase{"squeezenet1_1", 224, 15},
                                           ParityCase{"alexnet", 224, 16}, ParityCase{"tiny_mixed", 32, 11},
                                           ParityCase{"tiny_mixed", 32, 17}, ParityCase{"shufflenet_v2_x1_0", 224, 13},
                                           ParityCase{"mnasnet0_5", 224, 17}, ParityCase{"convnext_tiny", 224, 17},
                                           ParityCase{"tiny_modern", 16, 13}, ParityCase{"tiny_modern", 16, 17}),
                         [](const auto& info) { return fmt::format("{}_opset{}", info.param.name, info.param.opset); });

// Hooks by layer name, summary, and training steps that move only the trainable parameters.
TEST(OnnxImport, ImportedModelTrainsAndTakesHooks) {
  if (!test::have_python_module("torchvision"))
    GTEST_SKIP() << "Debian's python3-torch is not installed: ONNX fine-tuning NOT checked";
  const fs::path dir = export_with_torch({"tiny_mixed", 32, 13});
  if (dir.empty()) return;
  auto model = onnx::load_model((dir / "model.onnx").string());
  auto s = analysis::summarize(*model, {3, 32, 32});
  EXPECT_EQ(s.rows.front().output, (Shape{1, 10}));
  EXPECT_EQ(s.params, model->num_parameters());
  // torch 1.13 names the first conv's node "/conv/Conv"
  nn::Module& conv = model->submodule("conv_Conv");
  EXPECT_EQ(conv.type(), "Conv2d");
  Tensor seen;
  conv.register_forward_hook([&](nn::Module&, const Tensor&, const Tensor& out) {
    seen = out;
    return Tensor();
  });
  auto io = io::load_safetensors((dir / "io.safetensors").string());
  Tensor x = io.at("input");
  model->train();
  optim::SGD opt(model->parameters(), {.lr = 0.1});
  Tensor target = from_vector<std::int64_t>({1, 2, 3}, {3});
  const Tensor before = conv.named_parameters()[0].second.clone();
  for (int step = 0; step < 2; ++step) {
    opt.zero_grad();
    Tensor loss = nll_loss(log((*model)(x) + 1e-6), target);
    loss.backward();
    opt.step();
  }
  ASSERT_TRUE(seen.defined());
  EXPECT_EQ(seen.shape(), (Shape{3, 8, 32, 32}));
  EXPECT_GT(max(abs(conv.named_parameters()[0].second - before)).item(), 0.0);
  fs::remove_all(dir);
}

// The weights of the newer layers are parameters after import and train: LayerNormalization,
// PRelu, InstanceNormalization and a Linear's bias; below opset 17 the layer norm arrives as
// torch's ReduceMean / Sub / Pow / Sqrt / Div / Mul / Add pattern, fused into the same nn::LayerNorm.
TEST(OnnxImport, NewerLayersTrain) {
  if (!test::have_python_module("torchvision"))
    GTEST_SKIP() << "Debian's python3-torch is not installed: ONNX fine-tuning NOT checked";
  for (int opset : {13, 17}) {
    const fs::path dir = export_with_torch({"tiny_modern", 16, opset});
    if (dir.empty()) return;
    auto model = onnx::load_model((dir / "model.onnx").string());
    std::vector<std::string> types;
    for (const auto& [name, m] : model->named_modules()) types.push_back(m->type());
    auto has = [&](const char* t) { return std::find(types.begin(), types.end(), t) != types.end(); };
    EXPECT_TRUE(has("PReLU") && has("InstanceNorm2d") && has("Softplus")) << fmt::format("{}", fmt::join(types, " "));
    EXPECT_TRUE(has("LayerNorm")) << "opset " << opset;
    EXPECT_EQ(model->submodule("norm_LayerNormalization").type(), "LayerNorm") << "opset " << opset;
    // the Linear on (N,H,W,C), MatMul + Add in the file, is one layer with its bias
    auto& pw = dynamic_cast<nn::Linear&>(model->submodule("pw_MatMul"));
    EXPECT_TRUE(pw.bias.defined()) << "opset " << opset;
    auto params = model->named_parameters();
    std::vector<Tensor> before;
    for (const auto& [name, p] : params) before.push_back(p.clone());
    auto io = io::load_safetensors((dir / "io.safetensors").string());
    model->train();
    optim::SGD opt(model->parameters(), {.lr = 0.1});
    opt.zero_grad();
    Tensor loss = cross_entropy((*model)(io.at("input")), from_vector<std::int64_t>({1, 2, 3}, {3}));
    loss.backward();
    opt.step();
    for (std::size_t i = 0; i < params.size(); ++i)
      EXPECT_GT(max(abs(params[i].second - before[i])).item(), 0.0) << params[i].first << " at opset " << opset;
    fs::remove_all(dir);
  }
}

}  // namespace
