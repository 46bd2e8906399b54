// `fovea summary` and `fovea rf`: a network's layers, parameters, multiply-adds, memory and
// receptive fields, from a shape-only pass (docs/analysis.md).
#include <fmt/core.h>

#include <optional>

#include "fovea/analysis/memory.h"
#include "fovea/analysis/summary.h"
#include "fovea/models/registry.h"
#include "fovea/models/spec.h"
#include "fovea/onnx/import.h"
#include "fovea/train/checkpoint.h"
#include "fovea/train/deploy.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

struct Args {
  std::string model, input, checkpoint, format = "table";
  int depth = -1;
  std::int64_t num_classes = 1000;  // ImageNet's, so counts compare with the papers'
  bool small_input = false;
  // --memory: a training step's memory (the trainer's defaults, or the checkpoint's)
  bool memory = false;
  std::optional<std::int64_t> batch;
  std::optional<std::string> optimizer;
  std::optional<double> momentum;
};

void add_model_args(CLI::App* cmd, const std::shared_ptr<Args>& a, bool markdown) {
  cmd->add_option("model", a->model, "a zoo model (fovea models), a network spec file (.json) or an ONNX file");
  cmd->add_option("--checkpoint", a->checkpoint, "or: the network a fovea train checkpoint holds, as it was trained");
  cmd->add_option("--input", a->input,
                  "input size CxHxW (default: a spec file's, an ONNX file's declared one or the checkpoint's)");
  cmd->add_option("--num-classes", a->num_classes, "zoo models: the classifier's outputs")->capture_default_str();
  cmd->add_flag("--small-input", a->small_input,
                "zoo models: the small-input stem fovea train builds for images of 64 px or less");
  auto formats =
      markdown ? std::vector<std::string>{"table", "json", "markdown"} : std::vector<std::string>{"table", "json"};
  cmd->add_option("--format", a->format)->check(CLI::IsMember(formats))->capture_default_str();
}

// The network a summary describes and its input size. Zoo, spec and checkpoint networks are
// built on the meta device (nothing is allocated or initialised); an ONNX file's network is
// loaded with its weights (its summary runs it once on zeros).
struct Network {
  nn::ModulePtr net;
  Shape input;
  train::RunConfig config;  // a checkpoint's; the trainer's defaults otherwise
};

Network load(const Args& a, const char* op) {
  if (a.model.empty() == a.checkpoint.empty()) fail(op, "give a model (zoo name, .json or .onnx) or --checkpoint FILE");
  Network n;
  n.input = a.input.empty() ? Shape{} : parse_chw(a.input, op);
  if (onnx::is_onnx_path(a.model)) {
    if (n.input.empty()) n.input = train::preprocess_of(onnx::inspect(a.model), a.model).input;  // the declared one
    if (n.input.empty()) fail(op, "{} declares no fixed C x H x W for its input; give one with --input CxHxW", a.model);
    n.net = models::create(a.model);
    return n;
  }
  // the trained stem, head and classes (read before the meta guard: the file's tensors are real)
  if (!a.checkpoint.empty()) n.config = train::load_checkpoint(a.checkpoint).config;
  DefaultDeviceGuard meta(kMeta);
  if (!a.checkpoint.empty()) {
    n.net = train::build_model(n.config);
    if (n.input.empty()) n.input = n.config.input;
  } else if (models::is_spec_path(a.model)) {
    auto spec = models::load_spec(a.model);
    if (n.input.empty()) n.input = spec.input;
    n.net = spec.net;
  } else {
    if (n.input.empty()) fail(op, "give the input size, e.g. --input 3x224x224");
    models::ModelOptions o{.num_classes = a.num_classes, .in_channels = n.input[0], .small_input = a.small_input};
    n.net = models::create(a.model, o);
    if (!a.small_input && n.input[1] <= 64 && n.input[2] <= 64) {
      o.small_input = true;
      if (analysis::summarize(*models::create(a.model, o), n.input).macs != analysis::summarize(*n.net, n.input).macs)
        fmt::print(stderr,
                   "note: this is {} with its ImageNet stem; for images of 64 px or less fovea train builds its "
                   "small-input stem: add --small-input to see that network, or --checkpoint FILE for a trained one\n",
                   a.model);
    }
  }
  return n;
}

// A training step's memory on the meta device, with the checkpoint's (or the trainer's default)
// batch size and optimizer unless the options say otherwise.
analysis::MemoryEstimate memory(const Args& a, Network& n) {
  train::RunConfig c = n.config;
  if (a.batch) c.batch_size = *a.batch;
  if (a.optimizer) c.optimizer = *a.optimizer;
  if (a.momentum) c.momentum = *a.momentum;
  n.net->to(kMeta);  // an ONNX file's weights: only their sizes count
  analysis::MemoryOptions o{.batch = c.batch_size,
                            .optimizer = [&c](const std::vector<Tensor>& p) { return train::make_optimizer(c, p); },
                            .loss = train::training_loss};
  auto e = analysis::estimate_memory(*n.net, n.input, o);
  if (c.optimizer == "sgd") e.optimizer = fmt::format("sgd, momentum {}", c.momentum);
  return e;
}

analysis::Format format_of(const std::string& f) {
  if (f == "json") return analysis::Format::json;
  if (f == "markdown") return analysis::Format::markdown;
  return analysis::Format::table;
}

}  // namespace

void add_summary(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("summary", "layers, output shapes, parameters, mult-adds, receptive fields, memory");
  add_model_args(cmd, a, true);
  cmd->add_option("--depth", a->depth, "show modules down to this depth (default: all)");
  cmd->add_flag("--memory", a->memory,
                "the memory of a training step instead: per layer the activations saved for backward, parameters, "
                "gradients and optimizer state (docs/analysis.md)");
  cmd->add_option("--batch", a->batch, "--memory: images per batch (default: the checkpoint's, else 64)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 30));
  cmd->add_option("--optimizer", a->optimizer, "--memory: whose state to count (default: the checkpoint's, else sgd)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  cmd->add_option("--momentum", a->momentum, "--memory: SGD's momentum; 0 keeps no state (default 0.9)");
  cmd->callback([a] {
    Network n = load(*a, "summary");
    if (!a->memory && (a->batch || a->optimizer || a->momentum))
      fail("summary", "--batch, --optimizer and --momentum describe a training step: add --memory");
    if (a->memory) fmt::print("{}", analysis::format_memory(memory(*a, n), format_of(a->format), a->depth));
    else
      fmt::print("{}", analysis::format_summary(analysis::summarize(*n.net, n.input), format_of(a->format), a->depth));
  });

  auto r = std::make_shared<Args>();
  auto* rf = app.add_subcommand("rf", "receptive field, effective stride and padding at every layer");
  add_model_args(rf, r, false);
  rf->callback([r] {
    Network n = load(*r, "rf");
    fmt::print("{}", analysis::format_receptive_fields(analysis::summarize(*n.net, n.input), format_of(r->format)));
  });
}

}  // namespace fovea::cli
