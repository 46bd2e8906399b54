// `fovea summary` and `fovea rf`: a network's layers, parameters, multiply-adds, memory and
// receptive fields, from a shape-only pass (docs/analysis.md).
#include <fmt/core.h>

#include "fovea/analysis/summary.h"
#include "fovea/models/registry.h"
#include "fovea/models/spec.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

struct Args {
  std::string model, input, format = "table";
  int depth = -1;
  std::int64_t num_classes = 1000;  // ImageNet's, so counts compare with the papers'
};

void add_model_args(CLI::App* cmd, const std::shared_ptr<Args>& a, bool markdown) {
  cmd->add_option("model", a->model, "a zoo model (fovea models) or a network spec file (.json)")->required();
  cmd->add_option("--input", a->input, "input size CxHxW (a spec file's own by default)");
  cmd->add_option("--num-classes", a->num_classes, "zoo models: the classifier's outputs")->capture_default_str();
  auto formats =
      markdown ? std::vector<std::string>{"table", "json", "markdown"} : std::vector<std::string>{"table", "json"};
  cmd->add_option("--format", a->format)->check(CLI::IsMember(formats))->capture_default_str();
}

// Builds the model on the meta device: nothing is allocated or initialised.
analysis::Summary run(const Args& a) {
  DefaultDeviceGuard meta(kMeta);
  Shape input;
  nn::ModulePtr net;
  if (models::is_spec_path(a.model)) {
    auto spec = models::load_spec(a.model);
    input = a.input.empty() ? spec.input : parse_chw(a.input, "summary");
    net = spec.net;
  } else {
    if (a.input.empty()) fail("summary", "give the input size, e.g. --input 3x224x224");
    input = parse_chw(a.input, "summary");
    net = models::create(a.model, {.num_classes = a.num_classes, .in_channels = input[0]});
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
  cmd->callback([a] { fmt::print("{}", analysis::format_summary(run(*a), format_of(a->format), a->depth)); });

  auto r = std::make_shared<Args>();
  auto* rf = app.add_subcommand("rf", "receptive field, effective stride and padding at every layer");
  add_model_args(rf, r, false);
  rf->callback([r] { fmt::print("{}", analysis::format_receptive_fields(run(*r), format_of(r->format))); });
}

}  // namespace fovea::cli
