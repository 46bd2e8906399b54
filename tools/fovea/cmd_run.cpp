// `fovea run`: a model with given weights on a tensor file, in eval mode.
#include <fmt/core.h>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/safetensors.h"
#include "fovea/models/registry.h"
#include "fovea/nn/serialize.h"
#include "fovea/onnx/import.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

void add_run(CLI::App& app) {
  struct Args {
    std::string model, weights, input, output, device = "cpu";
    std::int64_t num_classes = 1000;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("run", "run a model on a tensor file (tensor 'input' in, tensor 'output' out)");
  cmd->add_option("model", a->model, "a zoo model, a network spec file (.json) or an ONNX file (.onnx)")->required();
  cmd->add_option("--weights", a->weights,
                  "weights with torchvision's key names: .safetensors or a torch.save .pth / .pt file");
  cmd->add_option("--input", a->input, "safetensors file holding a tensor named 'input' (N,C,H,W)")->required();
  cmd->add_option("--output", a->output, "where to write the tensor 'output'")->required();
  cmd->add_option("--num-classes", a->num_classes, "zoo models: the classifier's outputs")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->callback([a] {
    auto in = io::load_safetensors(a->input);
    if (!in.contains("input")) fail("run", "{} holds no tensor named 'input'", a->input);
    Tensor x = in.at("input");
    if (x.dim() != 4) fail("run", "the input must be (N,C,H,W), got {}", shape_str(x.shape()));
    if (x.dtype() != DType::f32) x = x.to(DType::f32);
    auto model = models::create(a->model, {.num_classes = a->num_classes, .in_channels = x.size(1)});
    if (!onnx::is_onnx_path(a->model)) {
      if (a->weights.empty()) fail("run", "--weights is required for a zoo or spec model");
      cli::load_weights(*model, a->weights);
    } else if (!a->weights.empty()) {
      nn::load(*model, a->weights);  // an ONNX graph's own state_dict keys
    }
    model->eval();
    NoGradGuard ng;
    const Device dev = Device::parse(a->device);
    model->to(dev);
    Tensor y = (*model)(x.to(dev)).to(kCPU);
    io::save_safetensors(a->output, {{"output", y}}, {{"model", a->model}});
    fmt::print("{} {} -> {} written to {}\n", a->model, shape_str(x.shape()), shape_str(y.shape()), a->output);
  });
}

}  // namespace fovea::cli
