#include <gtest/gtest.h>

#include "fovea/autograd/grad_mode.h"
#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"

#include <map>

using namespace fovea;

TEST(Models, LeNet5) {
  auto net = models::create("lenet5");
  EXPECT_EQ(net->num_parameters(), 61706);
  EXPECT_EQ((*net)(randn({3, 1, 28, 28})).shape(), (Shape{3, 10}));
  auto rgb = models::create("lenet5", {.num_classes = 4, .in_channels = 3});
  EXPECT_EQ((*rgb)(randn({2, 3, 28, 28})).shape(), (Shape{2, 4}));
  EXPECT_EQ(net->state_dict()[0].first, "features.0.weight");
}

TEST(Models, UnknownNameListsKnownOnes) {
  try {
    models::create("resnet9000");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("known: lenet5"), std::string::npos);
  }
  EXPECT_THROW(models::create("lenet5", {.num_classes = 0}), Error);
}

#include "fovea/analysis/summary.h"

// LeCun et al. 1998: trainable parameters per layer C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
// F6 10,164, total 60,000; the RBF layer's 840 centres are fixed.
TEST(Models, LeNet5As1998) {
  auto net = models::create("lenet5_1998");
  auto s = analysis::summarize(*net, {1, 32, 32});
  std::map<std::string, std::int64_t> params;
  for (auto& r : s.rows) params[r.name] = r.params;
  EXPECT_EQ(params["c1"], 156);
  EXPECT_EQ(params["s2"], 12);
  EXPECT_EQ(params["c3"], 1516);
  EXPECT_EQ(params["s4"], 32);
  EXPECT_EQ(params["c5"], 48120);
  EXPECT_EQ(params["f6"], 10164);
  EXPECT_EQ(net->num_parameters(), 60000);
  EXPECT_EQ(net->named_buffers()[0].second.numel(), 840);
  EXPECT_EQ(s.rows.back().output, (Shape{1, 10}));
  EXPECT_EQ(s.rows[3].geometry.h.rf, 14);  // C3 after S2 after C1
  // it trains: the loss goes down on a fixed batch
  Tensor x = randn({8, 1, 32, 32});
  Tensor y = from_vector<std::int64_t>({0, 1, 2, 3, 4, 5, 6, 7}, {8});
  double first = 0, last = 0;
  for (int i = 0; i < 30; ++i) {
    net->zero_grad();
    Tensor loss = cross_entropy((*net)(x), y);
    loss.backward();
    NoGradGuard ng;
    for (auto& p : net->parameters()) p.add_(p.grad(), -1e-3);  // distances are large: a small step
    (i == 0 ? first : last) = loss.item();
  }
  EXPECT_LT(last, first);
  auto linear = models::create("lenet5_1998", {.rbf_head = false});
  EXPECT_EQ(linear->num_parameters(), 60000 + 850);
}
