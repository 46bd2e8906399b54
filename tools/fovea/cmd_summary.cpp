// `fovea summary` and `fovea rf`: a network's layers, parameters, multiply-adds, memory and
// receptive fields, from a shape-only pass (docs/analysis.md).
#include <fmt/core.h>

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

// Zoo, spec and checkpoint networks are built on the meta device (nothing is allocated or
// initialised); an ONNX file's network is loaded with its weights and run once on zeros.
analysis::Summary run(const Args& a, const char* op) {
  if (a.model.empty() == a.checkpoint.empty()) fail(op, "give a model (zoo name, .json or .onnx) or --checkpoint FILE");
  Shape input = a.input.empty() ? Shape{} : parse_chw(a.input, op);
  if (onnx::is_onnx_path(a.model)) {  // its weights are in the file: loaded, then run once on zeros
    if (input.empty()) input = train::preprocess_of(onnx::inspect(a.model), a.model).input;  // the declared one
    if (input.empty()) fail(op, "{} declares no fixed C x H x W for its input; give one with --input CxHxW", a.model);
    auto net = models::create(a.model);
    return analysis::summarize(*net, input);
  }
  // the trained stem, head and classes (read before the meta guard: the file's tensors are real)
  const train::RunConfig config =
      a.checkpoint.empty() ? train::RunConfig{} : train::load_checkpoint(a.checkpoint).config;
  DefaultDeviceGuard meta(kMeta);
  nn::ModulePtr net;
  if (!a.checkpoint.empty()) {
    net = train::build_model(config);
    if (input.empty()) input = config.input;
  } else if (models::is_spec_path(a.model)) {
    auto spec = models::load_spec(a.model);
    if (input.empty()) input = spec.input;
    net = spec.net;
  } else {
    if (input.empty()) fail(op, "give the input size, e.g. --input 3x224x224");
    models::ModelOptions o{.num_classes = a.num_classes, .in_channels = input[0], .small_input = a.small_input};
    net = models::create(a.model, o);
    auto s = analysis::summarize(*net, input);
    if (!a.small_input && input[1] <= 64 && input[2] <= 64) {
      o.small_input = true;
      if (analysis::summarize(*models::create(a.model, o), input).macs != s.macs)
        fmt::print(stderr,
                   "note: this is {} with its ImageNet stem; for images of 64 px or less fovea train builds its "
                   "small-input stem: add --small-input to see that network, or --checkpoint FILE for a trained one\n",
                   a.model);
    }
    return s;
  }
  return analysis::summarize(*net, input);
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
  cmd->callback(
      [a] { fmt::print("{}", analysis::format_summary(run(*a, "summary"), format_of(a->format), a->depth)); });

  auto r = std::make_shared<Args>();
  auto* rf = app.add_subcommand("rf", "receptive field, effective stride and padding at every layer");
  add_model_args(rf, r, false);
  rf->callback([r] { fmt::print("{}", analysis::format_receptive_fields(run(*r, "rf"), format_of(r->format))); });
}

}  // namespace fovea::cli
