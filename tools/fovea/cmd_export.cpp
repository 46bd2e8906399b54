// `fovea export`: a trained checkpoint (or a zoo / spec model with safetensors weights) as ONNX.
#include <fmt/core.h>

#include "fovea/models/registry.h"
#include "fovea/models/spec.h"
#include "fovea/nn/serialize.h"
#include "fovea/onnx/export.h"
#include "fovea/train/checkpoint.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

// "3x224x224" -> (3,224,224)
Shape parse_chw(const std::string& s) {
  Shape r;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    const std::size_t x = s.find('x', pos);
    const std::string part = s.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    try {
      r.push_back(std::stoll(part));
    } catch (const std::exception&) {
      fail("export", "--input-shape must look like 3x224x224, got '{}'", s);
    }
    if (x == std::string::npos) break;
    pos = x + 1;
  }
  if (r.size() != 3) fail("export", "--input-shape must be C x H x W, got '{}'", s);
  return r;
}

}  // namespace

void add_export(CLI::App& app) {
  struct Args {
    std::string checkpoint, model, weights, input_shape, out;
    std::int64_t opset = 17, num_classes = 1000;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("export", "write a model as ONNX (dynamic batch), for other runtimes");
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint written by fovea train");
  cmd->add_option("--model", a->model, "or: a zoo model or a network spec file (.json) ...");
  cmd->add_option("--weights", a->weights,
                  "... with these weights (torchvision's key names; .safetensors or torch.save .pth / .pt)");
  cmd->add_option("--input-shape", a->input_shape, "C x H x W, e.g. 3x224x224 (default: the checkpoint's or spec's)");
  cmd->add_option("--num-classes", a->num_classes, "zoo models: the classifier's outputs")->capture_default_str();
  cmd->add_option("--opset", a->opset, "ONNX opset, 11 to 17")->capture_default_str();
  cmd->add_option("--out", a->out, "the .onnx file to write")->required();
  cmd->callback([a] {
    nn::ModulePtr model;
    Shape input;
    std::string what;
    if (!a->checkpoint.empty()) {
      if (!a->model.empty()) fail("export", "give --checkpoint or --model, not both");
      auto ck = train::load_checkpoint(a->checkpoint);
      model = train::build_model(ck.config);
      model->load_state_dict(ck.model);
      input = ck.config.input;
      what = a->checkpoint;
    } else if (!a->model.empty()) {
      if (a->input_shape.empty() && !models::is_spec_path(a->model))
        fail("export", "--input-shape is required with a zoo model");
      Shape chw = a->input_shape.empty() ? models::load_spec(a->model).input : parse_chw(a->input_shape);
      model = models::create(a->model, {.num_classes = a->num_classes, .in_channels = chw[0]});
      if (!a->weights.empty()) cli::load_weights(*model, a->weights);
      input = chw;
      what = a->model;
    } else {
      fail("export", "give --checkpoint FILE, or --model NAME --input-shape CxHxW [--weights FILE]");
    }
    if (!a->input_shape.empty()) input = parse_chw(a->input_shape);
    onnx::save_model(*model, input, a->out, {.opset = a->opset});
    fmt::print("{} (input N x {}) -> {} (opset {})\n", what, shape_str(input), a->out, a->opset);
  });
}

}  // namespace fovea::cli
