// `fovea train --cuda-graph` (train/step_graph.h): training with each step replayed as a CUDA
// graph gives the weights eager training gives, including the epoch's last, smaller batch (run
// eagerly) and a learning-rate change (a new recording). Skipped without a GPU (the CUDA emulator
// runs it).
#include <gtest/gtest.h>

#include <cstdio>

#include "fovea/backend/backend.h"
#include "tests/cuda/cuda_test.h"
#include "tests/test_util.h"
#include "tests/train/train_test_util.h"

using namespace fovea;

namespace {

class TrainGraph : public ::testing::Test {
 protected:
  void SetUp() override { FOVEA_SKIP_WITHOUT_CUDA("graph training"); }
};

std::string log_of(std::FILE* f) {
  std::rewind(f);
  std::string s;
  for (int ch; (ch = std::fgetc(f)) != EOF;) s.push_back(static_cast<char>(ch));
  return s;
}

TEST_F(TrainGraph, ReplayedStepsTrainAsEagerOnes) {
  test::SyntheticRun run;
  auto options = [&](const std::string& name, bool graph) {
    train::TrainOptions o = run.options(name);
    o.config.device = "cuda";
    o.config.batch_size = 60;    // 512 images: 8 full batches and one of 32
    o.config.schedule = "step";  // the rate changes after the first epoch: a new recording
    o.config.cuda_graph = graph;
    o.quiet = false;  // the epoch line reports the replays
    return o;
  };
  const train::TrainResult eager = train::train(options("eager", false));
  const train::TrainOptions go = options("graph", true);
  const train::TrainResult graph = train::train(go);
  EXPECT_NEAR(graph.last_top1, eager.last_top1, 1e-9);
  const NamedTensors we = test::model_weights((run.root / "eager" / "last.safetensors").string());
  const NamedTensors wg = test::model_weights((run.root / "graph" / "last.safetensors").string());
  ASSERT_EQ(we.size(), wg.size());
  for (std::size_t i = 0; i < we.size(); ++i)
    test::expect_close(wg[i].second, we[i].second, 1e-5, we[i].first + " after graph training");
  const std::string log = log_of(run.log);
  // epoch 1: the first step eager, 7 replayed, the last (smaller) eager; epoch 2: the rate changes
  // at steps 9 and 13 (MultiStepLR at 1/2 and 3/4 of 18), so two more recordings
  EXPECT_NE(log.find("(CUDA graph: 7 replays, 1 recordings)"), std::string::npos) << log;
  EXPECT_NE(log.find("(CUDA graph: 15 replays, 3 recordings)"), std::string::npos) << log;
}

TEST_F(TrainGraph, RefusesWhatAGraphCannotHold) {
  test::SyntheticRun run;
  train::TrainOptions o = run.options("adam");
  o.config.device = "cuda";
  o.config.optimizer = "adam";
  o.config.cuda_graph = true;
  const std::string e = test::error_of([&] { train::train(o); });
  EXPECT_NE(e.find("CUDA graphs need --optimizer sgd"), std::string::npos) << e;
  o.config.device = "cpu";
  o.config.optimizer = "sgd";
  EXPECT_NE(test::error_of([&] { train::train(o); }).find("CUDA graphs need a CUDA device"), std::string::npos);
}

}  // namespace
