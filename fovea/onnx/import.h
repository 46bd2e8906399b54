#pragma once
// ONNX import: a model file (as torch.onnx.export writes, opsets 9 to 17) becomes a fovea
// module tree that runs, summarises, takes hooks and fine-tunes like a zoo model:
//   auto net = fovea::onnx::load_model("resnet18.onnx");   // eval mode
//   Tensor logits = (*net)(x);                             // x: (N,3,224,224)
// Supported ops, the naming rule for layers and the limits: docs/onnx.md.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fovea/onnx/graph.h"

namespace fovea::onnx {

struct LoadOptions {
  // Graph inputs given a value here become constants, as if the file held them as initializers:
  // weights a file feeds as inputs (ONNX's conformance cases do) then make layers. The graph's
  // inputs are the ones left.
  std::unordered_map<std::string, Tensor> constants;
};

// Errors start with "[onnx]" and name the file, node and op: "[onnx] node 'Foo_3' (Foo): op
// type 'Foo' is not supported". The graph is returned in eval mode.
std::shared_ptr<Graph> load_model(const std::string& path, const LoadOptions& o = {});
// The same from the bytes of a file; `name` stands for the file in errors.
std::shared_ptr<Graph> load_model_from_bytes(const std::string& bytes, const std::string& name = "<memory>",
                                             const LoadOptions& o = {});

// The op types of the default domain fovea imports, sorted.
std::vector<std::string> supported_op_types();

// What a file holds, read without converting it.
struct ModelInfo {
  std::int64_t opset = -1;           // of the default domain, -1 when not imported
  std::vector<std::string> inputs;   // graph inputs that are not initializers, in order
  std::vector<std::string> outputs;  // graph outputs, in order
  // their declared element types as ONNX names ("FLOAT", "INT64", "BFLOAT16"), "" when undeclared
  std::vector<std::string> input_types, output_types;
  // their declared shapes, -1 for a named or missing dimension ("N"); empty when undeclared
  std::vector<Shape> input_shapes;
  std::vector<std::pair<std::string, std::string>> metadata;  // the model's metadata_props, in order
  std::vector<std::string> op_types;                          // sorted; other domains as "domain:Op"
  std::vector<std::string> unsupported;                       // the op types above fovea does not import
};
ModelInfo inspect(const std::string& path);
// A serialized TensorProto (the .pb files of ONNX test data) as a CPU tensor; the same element
// types as initializers.
Tensor read_tensor(const std::string& path);
// path ends in ".onnx" (any case)
bool is_onnx_path(const std::string& path);

}  // namespace fovea::onnx
