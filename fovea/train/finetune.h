#pragma once
// Transfer learning in the article's three steps (docs/transfer.md): (1) take pretrained
// weights, (2) freeze the body and train a new head, (3) unfreeze the last block(s) and train on
// with a low learning rate. `fovea finetune` and Python's fovea.finetune run this.
#include <functional>
#include <string>
#include <vector>

#include "fovea/train/trainer.h"

namespace fovea::train {

struct FinetuneOptions {
  // the data, batch size, augmentation, ... of both stages; out_dir holds head/ and finetune/
  TrainOptions base;
  std::string from;              // pretrained: a fovea checkpoint, a state dict (.safetensors, .pth) or .onnx
  std::int64_t num_classes = 0;  // the new head's classes, checked against the data (0: the data's)
  std::int64_t head_epochs = 5;  // step 2
  double head_lr = 0.01;
  std::vector<std::string> unfreeze;  // step 3: patterns trained with the head, e.g. "layer4.*"
  std::int64_t finetune_epochs = 10;
  double finetune_lr = 1e-4;
  // called before each training stage (2, then 3) with its configuration and the head's path
  std::function<void(int stage, const RunConfig&, const std::string& head)> on_stage = nullptr;
};

struct FinetuneResult {
  TrainResult head, finetune;  // step 2's and step 3's runs
  std::string head_dir, finetune_dir;
  bool interrupted = false;  // stopped by SIGINT/SIGTERM in either stage
};

// What step 2 trains, checked before anything is trained or written: the options, the data,
// the input size, the head and every pattern (errors are the caller's arguments).
// base.config.head "" or "auto": the last Linear layer.
struct FinetunePlan {
  RunConfig head_stage;  // step 2's configuration: the body frozen, the new head trainable
  std::string head;      // the head's module path
};
FinetunePlan plan_finetune(const FinetuneOptions& o);

// plan_finetune, then steps 2 and 3.
FinetuneResult finetune(const FinetuneOptions& o);
FinetuneResult finetune(const FinetuneOptions& o, const FinetunePlan& plan);

}  // namespace fovea::train
