#pragma once
// ONNX export by tracing: the module runs once (eval mode, batch 2) while fovea's functional ops
// report to a trace sink (fovea/ops/trace.h); the recorded ops become ONNX nodes, parameters and
// buffers become initializers named by their state_dict keys, and the batch dimension is "N":
//   fovea::onnx::save_model(*net, {3, 224, 224}, "resnet18.onnx");   // opset 17
// Limits (ops without an ONNX form here, reshapes across the batch): docs/onnx.md.
#include <string>
#include <utility>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::onnx {

struct ExportOptions {
  std::int64_t opset = 17;  // 11 to 17
  // key, value pairs written as the model's metadata_props (`fovea export` writes the
  // normalisation and the class names: docs/onnx.md, "Metadata"); read back by onnx::inspect
  std::vector<std::pair<std::string, std::string>> metadata{};
};

// input: (C,H,W) or (N,C,H,W) (N is ignored: the exported batch is dynamic). The file passes
// onnx.checker and re-imports with onnx::load_model. The module's training mode is restored.
void save_model(nn::Module& m, const Shape& input, const std::string& path, const ExportOptions& o = {});
// The serialized ModelProto.
std::string export_model(nn::Module& m, const Shape& input, const ExportOptions& o = {});

}  // namespace fovea::onnx
