// ONNX import as a user meets it: look inside a file, load it, run it, and fine-tune it.
//   onnx_import MODEL.onnx [C H W]      (default 3 224 224)
// For example, with a torchvision classifier exported by PyTorch:
//   /usr/bin/python3 -c "import torch, torchvision; m = torchvision.models.convnext_tiny().eval();
//     torch.onnx.export(m, torch.randn(1, 3, 224, 224), 'convnext_tiny.onnx', opset_version=17)"
//   build/examples/onnx_import convnext_tiny.onnx
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <cstdlib>

#include "fovea/analysis/summary.h"
#include "fovea/autograd/grad_mode.h"
#include "fovea/onnx/import.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/sgd.h"

using namespace fovea;

int main(int argc, char** argv) {
  if (argc != 2 && argc != 5) {
    fmt::print(stderr, "usage: {} MODEL.onnx [C H W]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const Shape chw =
      argc == 5 ? Shape{std::atoll(argv[2]), std::atoll(argv[3]), std::atoll(argv[4])} : Shape{3, 224, 224};
  try {
    // 1. what the file holds, before converting anything
    const onnx::ModelInfo info = onnx::inspect(path);
    fmt::print("opset {}; inputs {} ({}); {} op types\n", info.opset, fmt::join(info.inputs, ", "),
               fmt::join(info.input_types, ", "), info.op_types.size());
    if (!info.unsupported.empty()) {
      fmt::print("fovea does not import: {}\n", fmt::join(info.unsupported, ", "));
      return 1;
    }
    // 2. load: a module tree in eval mode, its layers named after the nodes
    auto net = onnx::load_model(path);
    const auto s = analysis::summarize(*net, chw);
    fmt::print("{} layers, {} parameters\n", s.rows.size(), s.params);
    // 3. run
    Tensor x = randn({2, chw[0], chw[1], chw[2]});
    Tensor y;
    {
      NoGradGuard ng;
      y = (*net)(x);
    }
    fmt::print("output {}; first row's largest logit at {}\n", shape_str(y.shape()),
               argmax(y, 1).to_vector<std::int64_t>()[0]);
    // 4. fine-tune: the weights are ordinary parameters
    net->train();
    optim::SGD opt(net->parameters(), {.lr = 0.01});
    Tensor loss = cross_entropy((*net)(x), zeros({2}, {.dtype = DType::i64}));
    loss.backward();
    opt.step();
    fmt::print("one SGD step: loss {:.4f}\n", loss.item());
  } catch (const Error& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 1;
  }
  return 0;
}
