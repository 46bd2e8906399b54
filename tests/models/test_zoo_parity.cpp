// Every zoo model that torchvision 0.14 has: torchvision's random weights (from a fixed seed,
// exported as safetensors by tests/models/torchvision_parity.py with Debian's PyTorch) load into
// fovea's model unchanged, from safetensors and from torch.save's .pth alike, and the logits for
// a fixed input agree within 1e-4 relative.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/safetensors.h"
#include "fovea/models/registry.h"
#include "fovea/nn/serialize.h"
#include "fovea/ops/ops.h"
#include "tests/test_util.h"

using namespace fovea;
namespace fs = std::filesystem;

namespace {

class ZooParity : public ::testing::TestWithParam<const char*> {};

TEST_P(ZooParity, LogitsEqualTorchvision) {
  const std::string name = GetParam();
  if (!models::has(name)) GTEST_SKIP() << name << " is not in the zoo yet";
  if (!test::have_python_module("torchvision"))
    GTEST_SKIP() << "Debian's python3-torchvision is not installed: parity with torchvision NOT checked";
  const fs::path dir = fs::path(::testing::TempDir()) / ("fovea_parity_" + name);
  const std::string cmd = fmt::format("/usr/bin/python3 {}/tests/models/torchvision_parity.py {} 224 {}",
                                      FOVEA_SOURCE_DIR, name, dir.string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto model = models::create(name, {.num_classes = 1000, .in_channels = 3});
  nn::load(*model, (dir / "weights.safetensors").string());  // strict: every key, every shape
  // torch.save's own file, read without Python, holds the same tensors, bit for bit
  auto from_pth = models::create(name, {.num_classes = 1000, .in_channels = 3});
  nn::load(*from_pth, (dir / "weights.pth").string());
  const auto a = model->state_dict(), b = from_pth->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    ASSERT_TRUE(a[i].second.shape() == b[i].second.shape() && a[i].second.dtype() == b[i].second.dtype() &&
                std::memcmp(a[i].second.contiguous().raw_data(), b[i].second.contiguous().raw_data(),
                            static_cast<std::size_t>(a[i].second.numel()) * dtype_size(a[i].second.dtype())) == 0)
        << a[i].first;
  model = from_pth;
  model->eval();
  auto io = io::load_safetensors((dir / "io.safetensors").string());
  NoGradGuard ng;
  Tensor y = (*model)(io.at("input"));
  test::expect_logits_close(y, io.at("logits"), name);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, ZooParity,
                         ::testing::Values("alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
                                           "vgg19", "vgg19_bn", "googlenet", "resnet18", "resnet34", "resnet50",
                                           "resnet101", "resnet152", "densenet121", "densenet161", "densenet169",
                                           "densenet201", "mobilenet_v2", "resnext50_32x4d", "wide_resnet50_2",
                                           "shufflenet_v2_x1_0", "squeezenet1_1"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
