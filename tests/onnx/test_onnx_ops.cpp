// The single-op grid: every fixture of tests/onnx/make_onnx_cases.py (one small ONNX model per op
// and attribute combination, expected outputs from PyTorch) imports and matches within 1e-5;
// and malformed files give clear errors.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fovea/analysis/summary.h"
#include "fovea/autograd/grad_mode.h"
#include "fovea/io/safetensors.h"
#include "fovea/onnx/import.h"
#include "fovea/ops/ops.h"
#include "tests/test_util.h"

using namespace fovea;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(FOVEA_SOURCE_DIR) / "tests" / "onnx" / "fixtures";

std::vector<std::string> case_names() {
  std::vector<std::string> v;
  std::ifstream f(kFixtures / "cases.txt");
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) v.push_back(line);
  return v;
}

const io::SafetensorsFile& cases() {
  static const io::SafetensorsFile f = io::load_safetensors((kFixtures / "cases.safetensors").string());
  return f;
}

std::vector<Tensor> tensors_of(const std::string& name, const char* kind) {
  std::vector<Tensor> v;
  for (int i = 0; cases().contains(fmt::format("{}.{}{}", name, kind, i)); ++i)
    v.push_back(cases().at(fmt::format("{}.{}{}", name, kind, i)));
  return v;
}

class OnnxOps : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxOps, MatchesPyTorch) {
  const std::string name = GetParam();
  auto g = onnx::load_model((kFixtures / (name + ".onnx")).string());
  NoGradGuard ng;
  auto out = g->run(tensors_of(name, "in"));
  auto expected = tensors_of(name, "out");
  ASSERT_EQ(out.size(), expected.size());
  for (std::size_t i = 0; i < out.size(); ++i) test::expect_close(out[i].contiguous(), expected[i], 1e-5, name);
}

INSTANTIATE_TEST_SUITE_P(Grid, OnnxOps, ::testing::ValuesIn(case_names()), [](const auto& info) { return info.param; });

TEST(OnnxOps, GridIsPresent) { EXPECT_GE(case_names().size(), 100u) << "run tests/onnx/make_onnx_cases.py"; }

// The shape computation of x.view(x.size(0), -1) runs for a batch size other than the file's.
TEST(OnnxOps, ViewPatternTakesAnyBatch) {
  for (const char* name : {"view_batch_pattern_opset11", "view_batch_pattern_opset13"}) {
    auto g = onnx::load_model((kFixtures / (std::string(name) + ".onnx")).string());
    Tensor x = cases().at(std::string(name) + ".in0");
    Tensor one = (*g)(x.slice(0, 1, 2));
    test::expect_close(one.contiguous(), cases().at(std::string(name) + ".out0").slice(0, 1, 2).contiguous(), 0, name);
    Tensor four = (*g)(cat({x, x}, 0));
    EXPECT_EQ(four.shape(), (Shape{4, 60}));
  }
}

TEST(OnnxOps, LayersAreNamedAfterNodes) {
  auto g = onnx::load_model((kFixtures / "conv_pads1.onnx").string());
  // node "my/Conv.node" -> layer "my_Conv_node"; its weight is a trainable parameter
  auto& conv = g->submodule("my_Conv_node");
  EXPECT_EQ(conv.type(), "Conv2d");
  auto params = g->named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "my_Conv_node.weight");
  EXPECT_TRUE(params[0].second.requires_grad());
  EXPECT_EQ(onnx::sanitize_name("/layer1/layer1.0/conv1/Conv"), "layer1_layer1_0_conv1_Conv");
}

TEST(OnnxOps, SummaryRunsOnMeta) {
  auto g = onnx::load_model((kFixtures / "view_batch_pattern_opset13.onnx").string());
  auto s = analysis::summarize(*g, {3, 4, 5});
  EXPECT_EQ(s.rows.front().output, (Shape{1, 60}));
}

// --- malformed files: each a clear error, never a crash

using test::error_of;

std::string load_error(const std::string& file) {
  return error_of([&] { onnx::load_model((kFixtures / file).string()); });
}

TEST(OnnxBadInput, UnsupportedOpNamesOpAndNode) {
  auto e = load_error("bad_unsupported_op.onnx");
  EXPECT_NE(e.find("[onnx]"), std::string::npos) << e;
  EXPECT_NE(e.find("'my_hardmax'"), std::string::npos) << e;
  EXPECT_NE(e.find("'Hardmax'"), std::string::npos) << e;
}

TEST(OnnxBadInput, ExternalData) {
  auto e = load_error("bad_external_data.onnx");
  EXPECT_NE(e.find("its external file ('weights.bin') cannot be opened"), std::string::npos) << e;
  e = load_error("bad_external_escape.onnx");
  EXPECT_NE(e.find("external file ('../../weights.bin') points outside the model's folder"), std::string::npos) << e;
  e = load_error("bad_external_short.onnx");
  EXPECT_NE(e.find("external file ('external_ok.bin') holds 12 bytes, 8 needed from offset 8"), std::string::npos) << e;
  // from bytes there is no folder to read it from
  std::ifstream f(kFixtures / "external_ok.onnx", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  e = error_of([&] { onnx::load_model_from_bytes(ss.str()); });
  EXPECT_NE(e.find("load_model(path) reads external data"), std::string::npos) << e;
}

// Weights in an external file next to the model (offset and length given), as large exports have.
TEST(OnnxImport, ExternalDataIsRead) {
  auto g = onnx::load_model((kFixtures / "external_ok.onnx").string());
  NoGradGuard ng;
  Tensor y = (*g)(ones({1, 1, 4, 4}));
  ASSERT_EQ(y.shape(), (Shape{1, 2, 4, 4}));
  EXPECT_EQ(y.select(1, 0).contiguous().to_vector<float>(), std::vector<float>(16, 2.0f));
  EXPECT_EQ(y.select(1, 1).contiguous().to_vector<float>(), std::vector<float>(16, -3.0f));
  // MatMul + Add fused into one Linear, its matrix external: ones (1,1,4,4) x (4,2) + (0.5, 1.5)
  auto mm = onnx::load_model((kFixtures / "external_matmul.onnx").string());
  EXPECT_EQ(mm->submodule("my_MatMul_node").type(), "Linear");
  Tensor z = (*mm)(ones({1, 1, 4, 4}));
  EXPECT_EQ(z.contiguous().to_vector<float>(),
            std::vector<float>({8.5f, -10.5f, 8.5f, -10.5f, 8.5f, -10.5f, 8.5f, -10.5f}));
}

TEST(OnnxBadInput, MissingInitializer) {
  auto e = load_error("bad_missing_initializer.onnx");
  EXPECT_NE(e.find("node 'conv1' (Conv): input 'w_missing' is not produced"), std::string::npos) << e;
}

TEST(OnnxBadInput, Cycle) {
  auto e = load_error("bad_cycle.onnx");
  EXPECT_NE(e.find("cycle"), std::string::npos) << e;
}

TEST(OnnxBadInput, AbsurdDimensions) {
  auto e = load_error("bad_absurd_dims.onnx");
  EXPECT_NE(e.find("initializer 'w' has absurd dimensions (2097152,2097152)"), std::string::npos) << e;
  e = load_error("bad_absurd_dims_with_zero.onnx");
  EXPECT_NE(e.find("initializer 'w' has absurd dimensions (0,1099511627776,1099511627776): the nonzero ones multiply "
                   "past 2^40"),
            std::string::npos)
      << e;
}

TEST(OnnxBadInput, InputCountsOutsideTheSchema) {
  auto e = load_error("bad_gemm_one_input.onnx");
  EXPECT_NE(e.find("(Gemm): Gemm takes 2 to 3 input(s) at opset 13, the node has 1"), std::string::npos) << e;
  e = load_error("bad_relu_two_inputs.onnx");
  EXPECT_NE(e.find("(Relu): Relu takes exactly 1 input(s) at opset 13, the node has 2"), std::string::npos) << e;
  e = load_error("bad_conv_unnamed_weight.onnx");
  EXPECT_NE(e.find("(Conv): input 1 of Conv is required, but the node leaves it unnamed"), std::string::npos) << e;
}

TEST(OnnxBadInput, FloatWhereAnIntegerIsExpected) {
  const auto e = load_error("bad_float_axes.onnx");
  EXPECT_NE(e.find("(Unsqueeze): [onnx] a f32 tensor holds 1e+30, where an integer (an axis, size, index, pad or "
                   "count) is expected"),
            std::string::npos)
      << e;
}

TEST(OnnxBadInput, ShortRawData) {
  auto e = load_error("bad_short_raw_data.onnx");
  EXPECT_NE(e.find("raw data holds 50 bytes, expected 432"), std::string::npos) << e;
}

TEST(OnnxBadInput, UnsupportedOpsetIsNamed) {
  EXPECT_NE(load_error("bad_opset_too_new.onnx").find("opset 19 is not supported"), std::string::npos);
  const auto old = load_error("bad_opset_too_old.onnx");
  EXPECT_NE(old.find("fovea reads Relu from opset 6 (its older form differs); the file's opset is 5"),
            std::string::npos)
      << old;
}

TEST(OnnxBadInput, WeightComputedAtRunTime) {
  auto e = load_error("bad_runtime_weight.onnx");
  EXPECT_NE(e.find("the weight ('in1') must be an initializer"), std::string::npos) << e;
}

TEST(OnnxBadInput, UnsupportedAttributeValue) {
  auto e = load_error("bad_pad_wrap.onnx");
  EXPECT_NE(e.find("mode 'wrap' is not supported (constant, edge, reflect)"), std::string::npos) << e;
}

TEST(OnnxBadInput, NotProtobufAndMissingFile) {
  EXPECT_NE(load_error("bad_not_protobuf.onnx").find("not an ONNX model"), std::string::npos);
  EXPECT_NE(load_error("no_such_file.onnx").find("cannot open"), std::string::npos);
  EXPECT_NE(error_of([] { onnx::load_model_from_bytes(""); }).find("no graph"), std::string::npos);
}

// Every prefix of a real model fails cleanly (or, cut at a field boundary, loads a smaller graph).
TEST(OnnxBadInput, TruncatedFiles) {
  std::ifstream f(kFixtures / "conv_pads1.onnx", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string bytes = ss.str();
  int errors = 0;
  for (std::size_t n = 0; n < bytes.size(); n += 7) {
    try {
      onnx::load_model_from_bytes(bytes.substr(0, n), "truncated");
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[onnx]", 0), 0u) << e.what();
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
