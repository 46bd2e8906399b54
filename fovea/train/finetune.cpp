// The three steps of transfer learning (finetune.h).
#include "fovea/train/finetune.h"

#include <filesystem>

#include "fovea/io/safetensors.h"
#include "fovea/io/torch_file.h"
#include "fovea/onnx/import.h"
#include "fovea/train/pretrained.h"

namespace fovea::train {

namespace {

constexpr const char* kOp = "finetune";

bool is_checkpoint(const std::string& path) {
  if (onnx::is_onnx_path(path) || io::is_zip_file(path)) return false;  // .onnx, torch.save
  return io::load_safetensors(path).metadata.count("config") > 0;
}

}  // namespace

FinetunePlan plan_finetune(const FinetuneOptions& o) {
  namespace fs = std::filesystem;
  RunConfig c = o.base.config;
  c.head = c.head.empty() ? "auto" : c.head;
  if (o.from.empty()) fail(kOp, "the pretrained weights are required (--from)");
  if (o.unfreeze.empty()) fail(kOp, "step 3 needs the patterns to unfreeze (--unfreeze), e.g. 'layer4.*'");
  if (o.head_epochs < 1 || o.finetune_epochs < 1) fail(kOp, "--head-epochs and --finetune-epochs must be >= 1");
  if (!(o.head_lr > 0) || !(o.finetune_lr > 0)) fail(kOp, "learning rates must be > 0");
  if (fs::exists(fs::path(o.base.out_dir) / "head" / "last.safetensors"))
    fail(kOp, "{} already holds a run; choose another --out", o.base.out_dir);

  // (1) the pretrained network: a checkpoint brings its model and normalisation
  c.init_from = o.from;
  if (is_checkpoint(o.from)) {
    const auto ck = load_checkpoint(o.from);
    if (c.model == RunConfig{}.model) {
      c.model = ck.config.model;
      c.model_spec = ck.config.model_spec;
    }
    if (c.mean.empty() && ck.config.in_channels == static_cast<std::int64_t>(ck.config.mean.size())) {
      c.mean = ck.config.mean;
      c.std = ck.config.std;
    }
  } else if (onnx::is_onnx_path(o.from)) {
    c.model = o.from;
  }
  {
    RunConfig probe = c;
    open_data(probe);
    if (o.num_classes && o.num_classes != probe.num_classes)
      fail(kOp, "--num-classes {} but the data has {} classes", o.num_classes, probe.num_classes);
    c.num_classes = probe.num_classes;
    c.in_channels = probe.in_channels;
    c.input = probe.input;
    c.classes = probe.classes;
  }
  // the input, the head and every pattern checked before anything is trained or written
  check_input_fits(c);
  const std::string head = [&] {
    auto m = build_model(c);
    const std::string h = c.head == "auto" ? find_head(*m) : c.head;
    m->freeze("*");
    for (const auto& g : o.unfreeze) m->unfreeze(g);
    m->unfreeze(h + ".*");
    return h;
  }();
  FinetunePlan plan{c, head};
  plan.head_stage.freeze = {"*"};
  plan.head_stage.unfreeze = {head + ".*"};
  plan.head_stage.epochs = o.head_epochs;
  plan.head_stage.lr = o.head_lr;
  return plan;
}

FinetuneResult finetune(const FinetuneOptions& o) { return finetune(o, plan_finetune(o)); }

FinetuneResult finetune(const FinetuneOptions& o, const FinetunePlan& plan) {
  namespace fs = std::filesystem;
  const std::string& head = plan.head;
  FinetuneResult r;
  r.head_dir = (fs::path(o.base.out_dir) / "head").string();
  r.finetune_dir = (fs::path(o.base.out_dir) / "finetune").string();

  // (2) body frozen, new head trained
  TrainOptions s1 = o.base;
  s1.out_dir = r.head_dir;
  s1.config = plan.head_stage;
  if (o.on_stage) o.on_stage(2, s1.config, head);
  r.head = train(s1);
  if ((r.interrupted = r.head.interrupted)) return r;

  // (3) the chosen blocks unfrozen, everything trainable at the low learning rate
  TrainOptions s2 = o.base;
  s2.out_dir = r.finetune_dir;
  const std::string head_last = (fs::path(r.head_dir) / "last.safetensors").string();
  s2.config = load_checkpoint(head_last).config;
  s2.config.init_from = head_last;
  s2.config.head_from_pretrained = true;
  s2.config.unfreeze = o.unfreeze;
  s2.config.unfreeze.push_back(head + ".*");
  s2.config.epochs = o.finetune_epochs;
  s2.config.lr = o.finetune_lr;
  if (o.on_stage) o.on_stage(3, s2.config, head);
  r.finetune = train(s2);
  r.interrupted = r.finetune.interrupted;
  return r;
}

}  // namespace fovea::train
