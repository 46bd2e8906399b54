#include "fovea/train/config.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "fovea/core/device.h"
#include "fovea/core/error.h"

namespace fovea::train {

using nlohmann::json;

std::string RunConfig::to_json() const {
  json j{{"model", model},
         {"model_spec", model_spec},
         {"num_classes", num_classes},
         {"in_channels", in_channels},
         {"input", input},
         {"data", data},
         {"data_given", data_given},
         {"classes", classes},
         {"mean", mean},
         {"std", std},
         {"normalize", normalize},
         {"val_fraction", val_fraction},
         {"limit_train", limit_train},
         {"limit_test", limit_test},
         {"epochs", epochs},
         {"batch_size", batch_size},
         {"optimizer", optimizer},
         {"lr", lr},
         {"momentum", momentum},
         {"weight_decay", weight_decay},
         {"schedule", schedule},
         {"warmup_epochs", warmup_epochs},
         {"augment", augment},
         {"seed", seed},
         {"workers", workers},
         {"select_classes", select_classes},
         {"per_class", per_class},
         {"init_from", init_from},
         {"head", head},
         {"head_from_pretrained", head_from_pretrained},
         {"freeze", freeze},
         {"unfreeze", unfreeze},
         {"bn_update", bn_update},
         {"device", device},
         {"precision", precision},
         {"cuda_graph", cuda_graph},
         {"sync_bn", sync_bn}};
  return j.dump();
}

RunConfig RunConfig::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("checkpoint", "the run configuration is not valid JSON: {}", e.what());
  }
  RunConfig c;
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) fail("checkpoint", "the run configuration has no '{}'", key);
    try {
      j.at(key).get_to(field);
    } catch (const json::exception& e) {
      fail("checkpoint", "the run configuration's '{}' has the wrong type: {}", key, e.what());
    }
  };
  get("model", c.model);
  get("model_spec", c.model_spec);
  get("num_classes", c.num_classes);
  get("in_channels", c.in_channels);
  get("input", c.input);
  get("data", c.data);
  get("classes", c.classes);
  get("mean", c.mean);
  get("std", c.std);
  get("normalize", c.normalize);
  get("val_fraction", c.val_fraction);
  get("limit_train", c.limit_train);
  get("limit_test", c.limit_test);
  get("epochs", c.epochs);
  get("batch_size", c.batch_size);
  get("optimizer", c.optimizer);
  get("lr", c.lr);
  get("momentum", c.momentum);
  get("weight_decay", c.weight_decay);
  get("schedule", c.schedule);
  get("warmup_epochs", c.warmup_epochs);
  get("augment", c.augment);
  get("seed", c.seed);
  get("workers", c.workers);
  // added later (transfer learning, devices, graphs): absent from older checkpoints
  const json defaults = json::parse(RunConfig{}.to_json());
  for (const char* key : {"select_classes", "per_class", "init_from", "head", "head_from_pretrained", "freeze",
                          "unfreeze", "bn_update", "device", "precision", "cuda_graph", "sync_bn"})
    if (!j.contains(key)) j[key] = defaults[key];
  get("select_classes", c.select_classes);
  get("per_class", c.per_class);
  get("init_from", c.init_from);
  get("data_given", c.data_given);
  get("head", c.head);
  get("head_from_pretrained", c.head_from_pretrained);
  get("freeze", c.freeze);
  get("unfreeze", c.unfreeze);
  get("bn_update", c.bn_update);
  get("device", c.device);
  get("precision", c.precision);
  get("cuda_graph", c.cuda_graph);
  get("sync_bn", c.sync_bn);
  return c;
}

void RunConfig::validate() const {
  if (epochs < 1) fail("train", "epochs must be >= 1, got {}", epochs);
  if (batch_size < 1) fail("train", "batch size must be >= 1, got {}", batch_size);
  if (!(lr > 0) || !std::isfinite(lr)) fail("train", "learning rate must be a finite number > 0, got {}", lr);
  if (!(momentum >= 0 && momentum < 1)) fail("train", "momentum must be in [0, 1), got {}", momentum);
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
    fail("train", "weight decay must be a finite number >= 0, got {}", weight_decay);
  for (double v : mean)
    if (!std::isfinite(v)) fail("train", "the normalisation's means must be finite numbers, got {}", v);
  for (double v : std)
    if (!(v > 0) || !std::isfinite(v))
      fail("train", "the normalisation's standard deviations must be finite numbers > 0, got {}", v);
  if (optimizer != "sgd" && optimizer != "adam" && optimizer != "adamw")
    fail("train", "unknown optimizer '{}' (expected sgd, adam or adamw)", optimizer);
  if (schedule != "none" && schedule != "cosine" && schedule != "step" && schedule != "onecycle")
    fail("train", "unknown schedule '{}' (expected none, cosine, step or onecycle)", schedule);
  if (warmup_epochs < 0 || warmup_epochs >= epochs)
    fail("train", "warm-up epochs must be in [0, epochs), got {}", warmup_epochs);
  if (workers < 0) fail("train", "workers must be >= 0, got {}", workers);
  if (val_fraction <= 0 || val_fraction >= 1)
    fail("train", "validation fraction must be in (0, 1), got {}", val_fraction);
  if (limit_train < 0) fail("train", "--limit-train must be >= 0 (0: every image), got {}", limit_train);
  if (limit_test < 0) fail("train", "--limit-test must be >= 0 (0: every image), got {}", limit_test);
  if (per_class < 0) fail("train", "--per-class must be >= 0 (0: every image), got {}", per_class);
  const Device d = Device::parse(device);  // "[device] unknown device 'x'"
  if (precision != "f32" && precision != "bf16")
    fail("train", "unknown precision '{}' (expected f32 or bf16)", precision);
  if (precision == "bf16" && d.type != DeviceType::cuda)
    fail("train", "precision bf16 needs a CUDA device (--device cuda): it runs conv and linear layers on tensor cores");
  if (cuda_graph && d.type != DeviceType::cuda)
    fail("train", "CUDA graphs need a CUDA device (--device cuda), got {}", device);
  if (cuda_graph && optimizer != "sgd")
    fail("train",
         "CUDA graphs need --optimizer sgd: {}'s step sizes change every step, and a graph replays them as "
         "recorded",
         optimizer);
}

}  // namespace fovea::train
