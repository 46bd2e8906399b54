#pragma once
// An imported ONNX graph as a fovea module. Nodes with a fovea layer (Conv -> nn::Conv2d,
// Gemm -> nn::Linear, BatchNormalization -> nn::BatchNorm2d, ...) are child modules named after
// the node (docs/onnx.md: naming rule), so they are hooked, summarised and fine-tuned like any
// layer; the other nodes (Add, Concat, Reshape, Shape, ...) are functions over the value table.
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::onnx {

// A leaf module for a single-input ONNX node with no fovea layer (Clip, Softmax, Pad, ...);
// its type is the ONNX op type.
class OpModule : public nn::Module {
 public:
  using Fn = std::function<Tensor(const Tensor&)>;
  OpModule(std::string op_type, Fn f, std::string repr = "")
      : Module(std::move(op_type)), f_(std::move(f)), repr_(std::move(repr)) {}
  Tensor forward(const Tensor& x) override { return f_(x); }
  std::string extra_repr() const override { return repr_; }

 private:
  Fn f_;
  std::string repr_;
};

// One node, run in topological order. With `module` set (the name of a child) and no `fn`,
// outputs[0] = child(inputs[0]); with `fn`, fn gets the child (or nullptr) and every input.
struct Step {
  using Fn = std::function<std::vector<Tensor>(nn::Module* child, const std::vector<Tensor>& inputs)>;
  std::string node;  // the ONNX node name, for errors
  std::string op_type;
  std::vector<std::string> inputs, outputs;  // value names; "" marks an absent optional input
  std::string module;                        // a child's name, or ""
  Fn fn;
};

class Graph : public nn::Module {
 public:
  Graph() : Module("OnnxGraph") {}
  // x: the graph's single input -> its first output
  Tensor forward(const Tensor& x) override;
  // every graph input in order -> every graph output in order
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  const std::vector<std::string>& input_names() const { return inputs_; }
  const std::vector<std::string>& output_names() const { return outputs_; }
  const std::vector<Step>& steps() const { return steps_; }

  // building (fovea/onnx/import.cpp)
  // the input names, output names and the inputs' declared element types (nullopt: any)
  void set_io(std::vector<std::string> inputs, std::vector<std::string> outputs,
              std::vector<std::optional<DType>> input_types = {});
  // A value known when the graph is built (initializers, Constant outputs, folded nodes).
  void add_constant(const std::string& value, const Tensor& t);
  bool has_constant(const std::string& value) const { return constants_.count(value) > 0; }
  const Tensor& constant(const std::string& value) const { return constants_.at(value); }
  // After the last step: drops the constants no step reads (weights now held by layers) and
  // registers the floating ones left as buffers "const_<sanitized value name>", so to(device)
  // moves them; integer ones (shapes, indices) stay on the CPU.
  void finish();
  void add_step(Step s);
  // the unique child name for a node: sanitize_name(node_name), or "<op_type>_<index>" when that
  // is empty, with "_2", "_3", ... appended when taken
  std::string child_name(const std::string& node_name, const std::string& op_type, std::size_t index) const;
  void add_layer(const std::string& name, nn::ModulePtr m) { add_child(name, std::move(m)); }

 protected:
  // steps find their layer by name when they run, so a replaced layer (a new head) is used
  bool adopt_child(const std::string&, const nn::ModulePtr&) override { return true; }

 private:
  std::vector<std::string> inputs_, outputs_;
  std::vector<std::optional<DType>> input_types_;
  std::unordered_map<std::string, Tensor> constants_;
  std::vector<Step> steps_;
  std::unordered_map<std::string, std::size_t> last_use_;  // value -> index of the last step reading it
};

// The naming rule for child modules and constant buffers: letters and digits are kept, every
// run of other characters becomes one '_', and '_' at the ends is dropped:
// "/layer1/layer1.0/conv1/Conv" -> "layer1_layer1_0_conv1_Conv", "Conv_12" -> "Conv_12".
std::string sanitize_name(const std::string& name);

// The device activations of `xs` live on: the first input not on the CPU, else the CPU.
Device common_device(const std::vector<Tensor>& xs);

}  // namespace fovea::onnx
