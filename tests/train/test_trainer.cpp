// The main job end to end on a small synthetic MNIST-format dataset written by the test.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fovea/core/threads.h"
#include "fovea/io/safetensors.h"
#include "fovea/train/trainer.h"
#include "tests/test_util.h"
#include "tests/train/train_test_util.h"

using namespace fovea;
namespace fs = std::filesystem;

using test::model_weights;
using test::SyntheticRun;

TEST(Trainer, TrainsAndWritesTheRunDirectory) {
  SyntheticRun s;
  auto o = s.options("run");
  auto r = train::train(o);
  EXPECT_FALSE(r.interrupted);
  EXPECT_EQ(r.epochs_done, 2);
  EXPECT_GT(r.best_top1, 0.5);  // chance is 0.1
  for (auto f : {"last.safetensors", "best.safetensors", "metrics.json", "confusion.png"})
    EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / f)) << f;
  std::ifstream in(fs::path(o.out_dir) / "metrics.json");
  auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["epochs"].size(), 2u);
  for (auto key :
       {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "train_images_per_sec", "seconds"})
    EXPECT_TRUE(j["epochs"][1].contains(key)) << key;
  EXPECT_EQ(j["config"]["model"], "lenet5");
  EXPECT_GE(j["machine"]["logical_cores"].get<int>(), 1);
  EXPECT_FALSE(j["fovea_version"].get<std::string>().empty());
  // the last epoch's results per class: the confusion matrix's rows hold every test image, and
  // its diagonal over the row sums is the per-class accuracy
  const auto& cm = j["test_confusion"];
  EXPECT_EQ(cm["epoch"], 2);
  ASSERT_EQ(cm["matrix"].size(), 10u);
  EXPECT_EQ(cm["classes"], j["test_per_class_accuracy"]["classes"]);
  std::int64_t images = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    std::int64_t row = 0;
    for (auto v : cm["matrix"][i]) row += v.get<std::int64_t>();
    images += row;
    const auto& acc = j["test_per_class_accuracy"]["accuracy"][i];
    if (row == 0) EXPECT_TRUE(acc.is_null());
    else EXPECT_DOUBLE_EQ(acc.get<double>(), cm["matrix"][i][i].get<double>() / static_cast<double>(row));
  }
  std::int64_t counted = 0;
  for (const auto& [name, n] : j["test_class_counts"].items()) counted += n.get<std::int64_t>();
  EXPECT_EQ(images, counted);
  auto ck = train::load_checkpoint((fs::path(o.out_dir) / "last.safetensors").string());
  EXPECT_EQ(ck.state.epoch, 2);
  EXPECT_EQ(ck.config.classes.size(), 10u);
  EXPECT_EQ(ck.config.mean.size(), 1u);

  // resuming the finished run trains nothing and reports its last epoch's figures
  o.resume = true;
  auto again = train::train(o);
  EXPECT_FALSE(again.interrupted);
  EXPECT_TRUE(again.already_complete);
  EXPECT_EQ(again.epochs_done, 2);
  EXPECT_EQ(again.last_top1, r.last_top1);
  EXPECT_EQ(again.best_top1, r.best_top1);
}

TEST(Trainer, ResumeEndsWithTheSameWeights) {
  SyntheticRun s;
  auto full = s.options("full");
  train::train(full);

  auto part = s.options("part");
  part.on_step = [](std::int64_t step) {
    if (step == 21) std::raise(SIGINT);  // mid-way through epoch 2 (16 batches an epoch)
  };
  auto r1 = train::train(part);
  ASSERT_TRUE(r1.interrupted);
  EXPECT_EQ(train::load_checkpoint(part.out_dir + "/last.safetensors").state.step_in_epoch, 5);
  EXPECT_EQ(train::load_checkpoint(part.out_dir + "/last.safetensors").state.epoch_seen, 5 * 32);
  part.on_step = nullptr;
  part.resume = true;
  part.config.lr = 123;  // ignored: a resumed run keeps its configuration
  auto r2 = train::train(part);
  EXPECT_FALSE(r2.interrupted);
  // the interrupted epoch's record covers the whole epoch
  auto read = [](const std::string& dir) {
    std::ifstream in(dir + "/metrics.json");
    return nlohmann::json::parse(in)["epochs"];
  };
  EXPECT_EQ(read(full.out_dir)[1]["train_loss"], read(part.out_dir)[1]["train_loss"]);
  EXPECT_EQ(read(full.out_dir)[1]["test_accuracy"], read(part.out_dir)[1]["test_accuracy"]);
  auto a = model_weights(full.out_dir + "/last.safetensors");
  auto b = model_weights(part.out_dir + "/last.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.to_vector<double>(), b[i].second.to_vector<double>()) << a[i].first;
  }
}

TEST(Trainer, NanLossStopsAndNamesTheStep) {
  SyntheticRun s;
  auto o = s.options("nan");
  o.config.lr = 1e12;
  o.config.schedule = "none";
  try {
    train::train(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_TRUE(m.find("the loss became") != std::string::npos || m.find("the gradients blew up") != std::string::npos)
        << m;
    EXPECT_NE(m.find("epoch 1 step"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(fs::path(o.out_dir) / "last.safetensors"));
}

// The first non-finite step stops the run, naming it and the likely cause; nothing is written.
TEST(Trainer, NonFiniteStepsNameTheirCause) {
  SyntheticRun s;
  auto stops = [&](const std::string& name, auto&& set, const char* cause) {
    auto o = s.options(name);
    o.config.schedule = "none";
    set(o.config);
    const std::string m = test::error_of([&] { train::train(o); });
    EXPECT_NE(m.find(cause), std::string::npos) << m;
    EXPECT_NE(m.find("at epoch 1 step "), std::string::npos) << m;
    EXPECT_FALSE(fs::exists(fs::path(o.out_dir) / "last.safetensors")) << name;
  };
  // a gradient explosion: the loss still finite, the squared gradient norm not
  stops(
      "explode", [](train::RunConfig& c) { c.lr = 1e6; }, "the gradients blew up");
  // inputs that are not numbers: a normalisation dividing by almost nothing
  stops(
      "inputs", [](train::RunConfig& c) { c.normalize = "0,1e-300"; }, "NaN or infinite values");
  // an infinite learning rate or a NaN normalisation never starts
  auto refused = [&](auto&& set, const char* what) {
    auto o = s.options("refused");
    set(o.config);
    EXPECT_NE(test::error_of([&] { train::train(o); }).find(what), std::string::npos) << what;
  };
  refused([](train::RunConfig& c) { c.lr = std::numeric_limits<double>::infinity(); }, "finite number > 0, got inf");
  refused([](train::RunConfig& c) { c.normalize = "nan,1"; }, "means must be finite");
  refused([](train::RunConfig& c) { c.weight_decay = std::nan(""); }, "weight decay");
}

TEST(Trainer, RefusesToOverwriteARun) {
  SyntheticRun s;
  auto o = s.options("once");
  o.config.epochs = 1;
  train::train(o);
  auto before = fs::last_write_time(fs::path(o.out_dir) / "last.safetensors");
  EXPECT_THROW(train::train(o), Error);
  EXPECT_EQ(before, fs::last_write_time(fs::path(o.out_dir) / "last.safetensors"));
}

TEST(Trainer, BadConfigurationIsAnError) {
  SyntheticRun s;
  auto o = s.options("bad");
  o.config.batch_size = 0;
  EXPECT_THROW(train::train(o), Error);
  o.config.batch_size = 8;
  o.config.lr = -1;
  EXPECT_THROW(train::train(o), Error);
  o.config.lr = 0.1;
  o.config.model = "nonexistent";
  EXPECT_THROW(train::train(o), Error);
  o.config.model = "lenet5";
  o.config.data = "mnist:/no/such/dir";
  try {
    train::train(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/dir"), std::string::npos) << e.what();
  }
  o.config.data = "mnist:" + (s.root / "data").string();
  o.config.precision = "bf16";  // on the CPU
  EXPECT_NE(test::error_of([&] { train::train(o); }).find("needs a CUDA device"), std::string::npos);
  o.config.precision = "f16";
  EXPECT_NE(test::error_of([&] { train::train(o); }).find("unknown precision 'f16'"), std::string::npos);
  o.config.precision = "f32";
  o.config.device = "tpu";
  EXPECT_THROW(train::train(o), Error);
  EXPECT_FALSE(fs::exists(o.out_dir));
}

TEST(Trainer, TrainsASpecFileModelAndKeepsItsText) {
  SyntheticRun s;
  const std::string spec = (s.root / "net.json").string();
  {
    std::ofstream f(spec);
    f << R"({"input": [1, 28, 28], "layers": [{"type": "conv2d", "out": 4, "kernel": 3}, {"type": "relu"},
            {"type": "maxpool2d", "kernel": 2}, {"type": "flatten"}, {"type": "linear", "out": 10}]})";
  }
  auto o = s.options("spec");
  o.config.model = spec;
  o.config.epochs = 1;
  train::train(o);
  fs::remove(spec);  // the checkpoint alone must be enough
  auto ck = train::load_checkpoint(o.out_dir + "/last.safetensors");
  EXPECT_NE(ck.config.model_spec.find("conv2d"), std::string::npos);
  auto model = train::build_model(ck.config);
  model->load_state_dict(ck.model);
  EXPECT_EQ(model->num_parameters(), 4 * 9 + 4 + 4 * 13 * 13 * 10 + 10);

  auto bad = s.options("bad-spec");
  bad.config.model = (s.root / "bad.json").string();
  std::ofstream(bad.config.model)
      << R"({"input": [1, 28, 28], "layers": [{"type": "flatten"}, {"type": "linear", "out": 7}]})";
  try {
    train::train(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("10 classes"), std::string::npos) << e.what();
  }
}
