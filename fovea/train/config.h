#pragma once
// A training run's configuration: everything `fovea eval` and `--resume` need to rebuild the
// model, the data and the optimizer. Stored as JSON in every checkpoint and in metrics.json.
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/core/shape.h"

namespace fovea::train {

struct RunConfig {
  // model and data
  std::string model = "lenet5";        // a zoo name or a network spec file (.json)
  std::string model_spec{};            // a spec file's text, kept so checkpoints need no other file
  std::int64_t num_classes = 0;        // 0: from the data
  std::int64_t in_channels = 0;        // 0: from the data
  Shape input{};                       // (C,H,W) the model takes
  std::string data = "fashion-mnist";  // fashion-mnist | mnist:DIR | folder:DIR (DIR made absolute by train)
  std::string data_given{};            // data as the user gave it (a relative DIR stays relative)
  std::vector<std::string> classes{};
  std::vector<double> mean{}, std{};             // normalisation; empty: none
  std::string normalize = "auto";                // auto (from the training data) | none | M,S
  double val_fraction = 0.2;                     // folder data: the held-out share
  std::int64_t limit_train = 0, limit_test = 0;  // 0: all; else a seeded stratified subset (smoke tests)
  std::vector<std::int64_t> select_classes{};    // only these classes of the data, relabelled 0..K-1
  std::int64_t per_class = 0;                    // at most this many training images per class (0: all)
  // transfer learning (docs/transfer.md)
  std::string init_from{};              // pretrained weights: a checkpoint, a state dict (.safetensors) or .onnx
  std::string head{};                   // rebuild this layer ("auto": the classifier) for num_classes
  bool head_from_pretrained = false;    // load the head too from init_from (else it starts fresh)
  std::vector<std::string> freeze{};    // parameter-name patterns made untrainable, in order
  std::vector<std::string> unfreeze{};  // ... then these made trainable again
  bool bn_update = false;               // frozen batch norms update their running statistics
  // optimisation
  std::int64_t epochs = 10;
  std::int64_t batch_size = 64;
  std::string optimizer = "sgd";  // sgd | adam | adamw
  double lr = 0.05;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  std::string schedule = "cosine";  // none | cosine | step | onecycle
  std::int64_t warmup_epochs = 0;   // linear warm-up before the schedule
  std::string augment = "none";     // none | crop,flip,rotate=10,erase (see parse_augment)
  std::uint64_t seed = 0;
  int workers = 2;
  std::string device = "cpu";     // cpu | cuda | cuda:N (docs/gpu.md)
  std::string precision = "f32";  // f32 | bf16 (CUDA: conv and linear in bf16, f32 master weights)
  bool cuda_graph = false;        // replay each training step as a CUDA graph (SGD on CUDA; step_graph.h)
  bool sync_bn = false;           // distributed: batch norms use the global batch's statistics (docs/distributed.md)

  std::string to_json() const;
  static RunConfig from_json(const std::string& json);  // errors name the bad field
  void validate() const;                                // "[train] batch size must be >= 1, got 0"
};

}  // namespace fovea::train
