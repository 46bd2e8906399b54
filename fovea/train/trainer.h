#pragma once
// The main job: train a classifier on a dataset, evaluate it each epoch, keep checkpoints and
// metrics in a run directory; resume an interrupted run exactly.
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "fovea/data/dataloader.h"
#include "fovea/nn/module.h"
#include "fovea/optim/optimizer.h"
#include "fovea/train/checkpoint.h"
#include "fovea/train/config.h"
#include "fovea/train/metrics.h"

namespace fovea::train {

struct TrainOptions {
  RunConfig config;
  std::string out_dir = "runs/run";
  bool resume = false;  // continue out_dir/last.safetensors (its configuration wins)
  bool quiet = false;   // plain one-line-per-epoch output even on a terminal
  std::FILE* log = stdout;
  // the command that started this invocation, for metrics.json's "commands" (the CLI's line)
  std::string command{};
  // called after every optimizer step with the global step (tests use it to interrupt)
  std::function<void(std::int64_t)> on_step = nullptr;
  // called on rank 0 after each epoch, once metrics.json and the checkpoints are written (the
  // CLI's --report rewrites the HTML report there)
  std::function<void(std::int64_t epochs_done, std::int64_t epochs)> on_epoch = nullptr;
  // called with the run's own configuration when resume has loaded it, before anything else (the
  // CLI names the options given with --resume that the run's configuration overrides)
  std::function<void(const RunConfig&)> on_resume = nullptr;
};

struct TrainResult {
  bool interrupted = false;       // stopped by SIGINT/SIGTERM after writing last.safetensors
  bool already_complete = false;  // resumed a run that had all its epochs: nothing was trained
  std::int64_t epochs_done = 0;
  double best_top1 = 0, last_top1 = 0;
};

// Errors (bad configuration, missing data, NaN loss, a run directory that already holds a run)
// throw fovea::Error before anything is overwritten.
TrainResult train(const TrainOptions& o);

// The pieces train() is made of, shared with `fovea eval` and `fovea predict`.
using DataSplits = data::Splits;
// Opens config.data; fills num_classes, in_channels, input and classes when they are unset.
DataSplits open_data(RunConfig& config);
// The data of a checkpoint's configuration, checked before it is opened: a folder that is not
// here is an error that names the path stored and says to pass --data (`op` names the command).
void check_checkpoint_data(const RunConfig& config, const char* op);
// Images per class of a split, keyed by class name (metrics.json's train_class_counts).
std::vector<std::pair<std::string, std::int64_t>> named_class_counts(const data::Dataset& split);
// "warning: ..." naming the classes a split holds no image of (counts: its named_class_counts;
// what = "training" or "test"; cause: the option that shaped it, or ""); "" when none is empty.
std::string empty_classes_warning(const std::vector<std::pair<std::string, std::int64_t>>& counts,
                                  const std::string& what, const std::string& cause);
// Top-5 accuracy means something only with more than 5 classes (else it is always 100%).
inline bool has_top5(std::int64_t num_classes) { return num_classes > 5; }
// to_tensor, resize to config.input when the image differs, normalize (config.mean/std)
data::Transform eval_transform(const RunConfig& config);
// eval_transform with config.augment inserted before normalisation
data::Transform train_transform(const RunConfig& config);
nn::ModulePtr build_model(const RunConfig& config);
// config.optimizer ("sgd", "adam", "adamw") over params, with config's lr, momentum, weight decay
std::unique_ptr<optim::Optimizer> make_optimizer(const RunConfig& config, const std::vector<Tensor>& params);
// What a training step minimises: cross-entropy, plus the weighted cross-entropy of each
// auxiliary classifier the model has (GoogLeNet's, 0.3 each: Szegedy et al. 2014).
Tensor training_loss(const nn::Module& model, const Tensor& logits, const Tensor& labels);
// The network of a train() checkpoint, built as its configuration says, with its weights.
struct Trained {
  nn::ModulePtr model;
  RunConfig config;
};
Trained load_trained(const std::string& checkpoint);
// A zoo model that cannot take config.input is an error naming the layer that no longer fits,
// the size the model usually takes and the --input to pass; nothing is allocated (meta device).
// Returns the summary's warnings (layers whose window exceeds their maps).
std::vector<std::string> check_input_fits(const RunConfig& config);
// The transfer-learning steps of a configuration: pretrained weights and a new head (fresh runs
// only), then freeze / unfreeze (docs/transfer.md). Reports to log when not null.
void prepare_transfer(nn::Module& model, const RunConfig& config, bool fresh, std::FILE* log);
// The device of a model's parameters (cpu when it has none).
Device device_of(const nn::Module& model);
// Loss and accuracy of `model` (put in eval mode, batches moved to its device) over a loader's epoch 0.
Metrics evaluate(nn::Module& model, data::DataLoader& loader);

}  // namespace fovea::train
