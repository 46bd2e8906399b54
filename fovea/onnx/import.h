#pragma once
// ONNX import: a model file (as torch.onnx.export writes, opsets 9 to 17) becomes a fovea
// module tree that runs, summarises, takes hooks and fine-tunes like a zoo model:
//   auto net = fovea::onnx::load_model("resnet18.onnx");   // eval mode
//   Tensor logits = (*net)(x);                             // x: (N,3,224,224)
// Supported ops, the naming rule for layers and the limits: docs/onnx.md.
#include <memory>
#include <string>

#include "fovea/onnx/graph.h"

namespace fovea::onnx {

// Errors start with "[onnx]" and name the file, node and op: "[onnx] node 'Foo_3' (Foo): op
// type 'Foo' is not supported". The graph is returned in eval mode.
std::shared_ptr<Graph> load_model(const std::string& path);
// The same from the bytes of a file; `name` stands for the file in errors.
std::shared_ptr<Graph> load_model_from_bytes(const std::string& bytes, const std::string& name = "<memory>");
// path ends in ".onnx" (any case)
bool is_onnx_path(const std::string& path);

}  // namespace fovea::onnx
