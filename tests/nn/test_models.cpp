#include <gtest/gtest.h>

#include "fovea/models/registry.h"
#include "fovea/ops/ops.h"

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
