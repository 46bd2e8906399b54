// Transfer learning: freezing by pattern, frozen batch norm, replacing layers, pretrained
// weights, class subsets, and the trainer's freeze / new-head steps end to end.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fovea/autograd/grad_mode.h"
#include "fovea/data/dataset.h"
#include "fovea/models/classic_nets.h"
#include "fovea/models/registry.h"
#include "fovea/nn/nn.h"
#include "fovea/nn/serialize.h"
#include "fovea/onnx/export.h"
#include "fovea/optim/sgd.h"
#include "fovea/train/pretrained.h"
#include "tests/test_util.h"
#include "tests/train/train_test_util.h"

using namespace fovea;
using test::error_of;
using test::model_weights;
using test::SyntheticRun;
namespace fs = std::filesystem;

namespace {

TEST(Freeze, ByPatternAndBack) {
  auto net = models::create("lenet5", {});
  const auto hit = net->freeze("features.*");
  EXPECT_EQ(hit,
            (std::vector<std::string>{"features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias"}));
  for (auto& [name, p] : net->named_parameters()) EXPECT_EQ(p.requires_grad(), name.rfind("features.", 0) != 0) << name;
  EXPECT_EQ(net->num_parameters(true), 61706 - 2572);
  EXPECT_EQ(net->unfreeze("features.3.*").size(), 2u);
  EXPECT_EQ(net->trainable_parameters().size(), 8u);
  EXPECT_EQ(net->named_trainable_parameters().front().first, "features.3.weight");
  // '?' and sets work as in fnmatch
  EXPECT_EQ(net->freeze("classifier.[02].weight").size(), 2u);
  const std::string e = error_of([&] { net->freeze("layer4.*"); });
  EXPECT_NE(e.find("'layer4.*'"), std::string::npos) << e;
  EXPECT_NE(e.find("features.0.weight"), std::string::npos) << e;  // shows what names look like
}

TEST(Freeze, FrozenWeightsAreBitIdenticalAfterTraining) {
  manual_seed(0);
  auto net = models::create("lenet5", {});
  net->freeze("features.*");
  NamedTensors before;
  for (auto& [k, p] : net->named_parameters()) before.emplace_back(k, p.detach().clone());
  optim::SGD opt(net->trainable_parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4});
  for (int i = 0; i < 3; ++i) {
    Tensor loss =
        cross_entropy((*net)(randn({8, 1, 28, 28})), from_vector<std::int64_t>({0, 1, 2, 3, 4, 5, 6, 7}, {8}));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  auto after = net->named_parameters();
  for (std::size_t i = 0; i < after.size(); ++i) {
    const bool same = max(abs(after[i].second - before[i].second)).item() == 0.0;
    EXPECT_EQ(same, after[i].first.rfind("features.", 0) == 0) << after[i].first;
    if (after[i].first.rfind("features.", 0) == 0) {
      EXPECT_FALSE(after[i].second.grad().defined()) << after[i].first;
    }
  }
}

TEST(Freeze, FrozenBatchNormKeepsItsStatistics) {
  auto net = models::create("resnet18", {.num_classes = 4, .small_input = true});
  net->freeze("layer1.*");
  net->train();
  auto& bn = net->submodule("layer1.0.bn1");
  EXPECT_TRUE(bn.eval_pinned());
  EXPECT_FALSE(bn.is_training());
  EXPECT_TRUE(net->submodule("layer2.0.bn1").is_training());
  const Tensor mean0 = bn.named_buffers(false).front().second.clone();
  (*net)(randn({4, 1, 28, 28}) * 3.0 + 1.0);
  EXPECT_EQ(max(abs(bn.named_buffers(false).front().second - mean0)).item(), 0.0);
  // unfrozen, or frozen with bn_update, they update again
  net->unfreeze("layer1.0.*");
  EXPECT_FALSE(bn.eval_pinned());
  auto upd = models::create("resnet18", {.num_classes = 4, .small_input = true});
  upd->freeze("*", /*bn_update=*/true);
  upd->unfreeze("fc.*");
  upd->train();
  EXPECT_TRUE(upd->submodule("layer1.0.bn1").is_training());
}

TEST(ReplaceModule, NewHeadsInSequentialsAndGoogLeNet) {
  auto resnet = models::create("resnet18", {.num_classes = 10, .small_input = true});
  auto old = resnet->replace_module("fc", nn::make<nn::Linear>({.in = 512, .out = 3}));
  EXPECT_EQ(old->type(), "Linear");
  NoGradGuard ng;
  resnet->eval();
  EXPECT_EQ((*resnet)(randn({2, 1, 28, 28})).shape(), (Shape{2, 3}));
  auto mobile = models::create("mobilenet_v2", {.num_classes = 10, .small_input = true});
  mobile->replace_module("classifier.1", nn::make<nn::Linear>({.in = 1280, .out = 2}));
  mobile->eval();
  EXPECT_EQ((*mobile)(randn({1, 1, 32, 32})).shape(), (Shape{1, 2}));
  auto g = models::create("googlenet", {.num_classes = 10, .small_input = true});
  g->replace_module("fc", nn::make<nn::Linear>({.in = 1024, .out = 7}));
  g->eval();
  EXPECT_EQ((*g)(randn({1, 1, 32, 32})).shape(), (Shape{1, 7}));
  // a block that keeps typed pointers refuses, and nothing changes
  auto& conv = resnet->submodule("layer1.0.conv1");
  const std::string e = error_of([&] { resnet->replace_module("layer1.0.conv1", nn::make<nn::Identity>()); });
  EXPECT_NE(e.find("layer1.0.conv1"), std::string::npos) << e;
  EXPECT_EQ(&resnet->submodule("layer1.0.conv1"), &conv);
  EXPECT_NE(error_of([&] { resnet->replace_module("nope", nn::make<nn::Identity>()); }).find("nope"),
            std::string::npos);
}

TEST(Pretrained, HeadsAreFoundAndReplaced) {
  auto resnet = models::create("resnet18", {.num_classes = 10, .small_input = true});
  EXPECT_EQ(train::find_head(*resnet), "fc");
  {
    DefaultDeviceGuard meta(kMeta);  // nothing allocated: vgg11 has 133 M parameters
    EXPECT_EQ(train::find_head(*models::create("vgg11", {})), "classifier.6");
  }
  EXPECT_EQ(train::find_head(*models::create("densenet121", {})), "classifier");
  auto squeeze = models::create("squeezenet1_1", {});
  EXPECT_EQ(train::find_head(*squeeze), "classifier.1");  // the final 1x1 convolution
  EXPECT_EQ(train::new_head(*squeeze, "auto", 3), "classifier.1");
  squeeze->eval();
  NoGradGuard ng;
  EXPECT_EQ((*squeeze)(randn({1, 1, 64, 64})).shape(), (Shape{1, 3}));
}

TEST(Pretrained, LoadsByNameAndShapeAndSkipsTheNewHead) {
  const auto dir = test::unique_temp_dir("pretrained");
  manual_seed(1);
  auto src = models::create("lenet5", {.num_classes = 5});
  nn::save(*src, (dir / "w.safetensors").string());
  auto dst = models::create("lenet5", {.num_classes = 3});
  auto r = train::load_pretrained(*dst, (dir / "w.safetensors").string());
  EXPECT_EQ(r.loaded.size(), 8u);
  ASSERT_EQ(r.mismatched.size(), 2u);  // classifier.4 (5 vs 3 classes)
  EXPECT_NE(r.str().find("classifier.4.weight"), std::string::npos) << r.str();
  test::expect_close(dst->named_parameters()[0].second, src->named_parameters()[0].second, 0, "features.0.weight");
  // the same number of classes: the head is skipped on request
  auto same = models::create("lenet5", {.num_classes = 5});
  r = train::load_pretrained(*same, (dir / "w.safetensors").string(), "classifier.4");
  EXPECT_EQ(r.skipped, (std::vector<std::string>{"classifier.4.weight", "classifier.4.bias"}));
  EXPECT_GT(max(abs(same->named_parameters().back().second - src->named_parameters().back().second)).item(), 0.0);
  // a file for another network entirely
  auto other = models::create("resnet18", {});
  const std::string e = error_of([&] { train::load_pretrained(*other, (dir / "w.safetensors").string()); });
  EXPECT_NE(e.find("no tensor matches"), std::string::npos) << e;
  fs::remove_all(dir);
}

TEST(Pretrained, OnnxModelsTakeANewHead) {
  const auto dir = test::unique_temp_dir("pretrained_onnx");
  manual_seed(2);
  auto net = models::create("lenet5", {.num_classes = 10});
  onnx::save_model(*net, {1, 28, 28}, (dir / "lenet.onnx").string());
  train::RunConfig c;
  c.model = (dir / "lenet.onnx").string();
  c.num_classes = 4;
  c.in_channels = 1;
  c.head = "auto";
  auto m = train::build_model(c);
  m->freeze("*");
  m->unfreeze(train::find_head(*m) + ".*");
  EXPECT_EQ(m->num_parameters(true), 84 * 4 + 4);
  m->eval();
  NoGradGuard ng;
  EXPECT_EQ((*m)(randn({2, 1, 28, 28})).shape(), (Shape{2, 4}));
  fs::remove_all(dir);
}

TEST(SelectClasses, RelabelsAndLimits) {
  SyntheticRun s;
  auto all = data::mnist((s.root / "data").string(), true);
  auto ds = data::select_classes(all, {7, 2}, 5);
  EXPECT_EQ(ds->classes(), (std::vector<std::string>{all->classes()[7], all->classes()[2]}));
  EXPECT_EQ(ds->size(), 10);
  int per[2] = {0, 0};
  for (std::int64_t i = 0; i < ds->size(); ++i) ++per[ds->get(i).label];
  EXPECT_EQ(per[0], 5);
  EXPECT_EQ(per[1], 5);
  EXPECT_NE(error_of([&] { data::select_classes(all, {3, 3}); }).find("twice"), std::string::npos);
  EXPECT_NE(error_of([&] { data::select_classes(all, {10}); }).find("out of range"), std::string::npos);
}

// The trainer's transfer steps: pretrained weights, a new head, the body frozen; the frozen
// weights come out of training bit-identical to the pretrained ones.
TEST(TrainTransfer, FrozenBodyStaysAsPretrained) {
  SyntheticRun s;
  auto pre = s.options("pre");
  pre.config.select_classes = {0, 1, 2, 3, 4};
  pre.config.epochs = 1;
  train::train(pre);
  auto o = s.options("tuned");
  o.config.select_classes = {5, 6, 7, 8, 9};
  o.config.per_class = 10;
  o.config.init_from = (fs::path(pre.out_dir) / "last.safetensors").string();
  o.config.head = "auto";
  o.config.freeze = {"*"};
  o.config.unfreeze = {"classifier.4.*"};
  auto r = train::train(o);
  EXPECT_EQ(r.epochs_done, 2);
  const auto a = model_weights(o.config.init_from),
             b = model_weights((fs::path(o.out_dir) / "last.safetensors").string());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const bool head = a[i].first.rfind("classifier.4.", 0) == 0;
    const bool same = max(abs(a[i].second - b[i].second)).item() == 0.0;
    EXPECT_EQ(same, !head) << a[i].first;
  }
  auto ck = train::load_checkpoint((fs::path(o.out_dir) / "last.safetensors").string());
  EXPECT_EQ(ck.config.classes.size(), 5u);
  EXPECT_EQ(ck.config.freeze, (std::vector<std::string>{"*"}));
  // every parameter frozen is refused before anything is written
  auto bad = s.options("bad");
  bad.config.freeze = {"*"};
  EXPECT_NE(error_of([&] { train::train(bad); }).find("every parameter is frozen"), std::string::npos);
  EXPECT_FALSE(fs::exists(bad.out_dir));
}

TEST(RunConfigJson, TransferFieldsRoundTripAndOldFilesLoad) {
  train::RunConfig c;
  c.select_classes = {5, 6};
  c.per_class = 50;
  c.init_from = "pre.safetensors";
  c.head = "auto";
  c.head_from_pretrained = true;
  c.freeze = {"*"};
  c.unfreeze = {"layer4.*", "fc.*"};
  c.bn_update = true;
  auto d = train::RunConfig::from_json(c.to_json());
  EXPECT_EQ(d.select_classes, c.select_classes);
  EXPECT_EQ(d.unfreeze, c.unfreeze);
  EXPECT_TRUE(d.bn_update);
  EXPECT_TRUE(d.head_from_pretrained);
  auto j = nlohmann::json::parse(train::RunConfig{}.to_json());
  for (auto k :
       {"select_classes", "per_class", "init_from", "head", "head_from_pretrained", "freeze", "unfreeze", "bn_update"})
    j.erase(k);
  EXPECT_TRUE(train::RunConfig::from_json(j.dump()).freeze.empty());
}

TEST(Transfer, CheckpointsLoadWhereverWeightsDo) {
  auto net = models::create("lenet5", {.num_classes = 10, .in_channels = 1});
  const auto path = (test::unique_temp_dir("ck_weights") / "ck.safetensors").string();
  train::save_checkpoint(path, *net, nullptr, nullptr, train::RunConfig{}, train::RunState{});
  auto again = models::create("lenet5", {.num_classes = 10, .in_channels = 1});
  const auto report = nn::load(*again, path);  // a bare state dict was required before
  EXPECT_EQ(report.source, "the model's weights of the fovea checkpoint");
  const auto a = net->state_dict(), b = again->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) test::expect_close(b[i].second, a[i].second, 0, a[i].first);
}

TEST(Transfer, ShapesThatDifferAreSaidToDiffer) {
  auto wide = nn::make<nn::Linear>({.in = 4, .out = 3});
  const auto path = (test::unique_temp_dir("shapes_differ") / "w.safetensors").string();
  nn::save(*wide, path);
  auto narrow = nn::make<nn::Linear>({.in = 5, .out = 2});
  const std::string e = error_of([&] { train::load_pretrained(*narrow, path, ""); });
  EXPECT_NE(e.find("the names match but every shape differs"), std::string::npos) << e;
}

TEST(Transfer, CheckpointOfAModelWithAChildNamedModel) {
  auto make = [] {
    auto net = std::make_shared<nn::Sequential>();
    net->add("model", nn::make<nn::Linear>({.in = 4, .out = 3})).add("head", nn::make<nn::Linear>({.in = 3, .out = 2}));
    return net;
  };
  auto net = make();
  const auto path = (test::unique_temp_dir("ck_model_child") / "ck.safetensors").string();
  train::save_checkpoint(path, *net, nullptr, nullptr, train::RunConfig{}, train::RunState{});
  auto again = make();
  const auto r = train::load_pretrained(*again, path);  // "model.weight" stays as it is
  EXPECT_EQ(r.loaded.size(), 4u);
  EXPECT_TRUE(r.missing.empty());
}

}  // namespace
