#pragma once
// Internal to fovea/onnx (never included by a public header): the protobuf classes of Debian's
// libonnx-dev and the converter interface, one converter per ONNX op type.
#ifndef ONNX_ML
#define ONNX_ML 1  // Debian ships only the ONNX-ML protobuf classes (onnx/onnx-ml.pb.h)
#endif
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fovea/onnx/graph.h"

namespace fovea::onnx::detail {

namespace pb = ::onnx;

template <typename... Args>
[[noreturn]] void node_fail(const pb::NodeProto& n, fmt::format_string<Args...> f, Args&&... args) {
  fail("onnx", "node '{}' ({}): {}", n.name(), n.op_type(), fmt::format(f, std::forward<Args>(args)...));
}

// Tensor elements allowed in one initializer or constant (2^40: far beyond any real model,
// small enough that sizes never overflow).
inline constexpr std::int64_t kMaxElements = std::int64_t{1} << 40;

// A TensorProto as a CPU tensor (f32, f64, i64 or u8; i32/i16/i8/bool widen to i64 or u8);
// `what` names it in errors ("initializer 'fc.weight'").
Tensor to_tensor(const pb::TensorProto& t, const std::string& what);

// Host copies of a CPU tensor's elements.
std::vector<std::int64_t> to_ints(const Tensor& t);
std::vector<double> to_doubles(const Tensor& t);

// A node's attributes with ONNX's defaults.
class Attrs {
 public:
  explicit Attrs(const pb::NodeProto& n) : n_(n) {}
  bool has(const std::string& name) const { return find(name) != nullptr; }
  std::int64_t i(const std::string& name, std::int64_t def) const;
  double f(const std::string& name, double def) const;
  std::string s(const std::string& name, const std::string& def) const;
  std::vector<std::int64_t> ints(const std::string& name, std::vector<std::int64_t> def = {}) const;
  std::vector<double> floats(const std::string& name) const;
  Tensor tensor(const std::string& name) const;

 private:
  const pb::AttributeProto* find(const std::string& name) const;
  const pb::NodeProto& n_;
};

// Adds one node to the graph. Inputs known at build time (initializers, Constant outputs and
// whatever folds from them) are constants; a function step whose inputs are all constants is
// run once here and its outputs become constants.
class Builder {
 public:
  Builder(Graph& g, std::int64_t opset, const pb::NodeProto& n, std::size_t index,
          const std::unordered_set<std::string>& used)
      : g_(g), opset_(opset), n_(n), index_(index), attrs_(n), used_(used) {}
  const pb::NodeProto& node() const { return n_; }
  const Attrs& attrs() const { return attrs_; }
  std::int64_t opset() const { return opset_; }
  // input i's value name, "" when absent (optional inputs may be missing or named "")
  std::string input(int i) const { return i < n_.input_size() ? n_.input(i) : std::string(); }
  bool has_input(int i) const { return !input(i).empty(); }
  bool is_const(int i) const { return has_input(i) && g_.has_constant(input(i)); }
  // input i as a constant; fails naming `what` when it is computed at run time
  Tensor const_input(int i, const char* what) const;
  // at most this many outputs may be used by later nodes (Dropout's mask, MaxPool's indices)
  void check_outputs(int n) const;

  // A layer: outputs[0] = m(input 0). With fn, fn(m, inputs) runs instead (padding first, ...).
  void layer(nn::ModulePtr m, Step::Fn fn = {});
  // A function of every input (absent optional ones are undefined tensors).
  void function(Step::Fn fn);
  // A single-input function shown as a leaf module of type op_type (hooks and summary see it).
  void op_module(OpModule::Fn fn, std::string repr = "");

 private:
  Graph& g_;
  std::int64_t opset_;
  const pb::NodeProto& n_;
  std::size_t index_;
  Attrs attrs_;
  const std::unordered_set<std::string>& used_;  // values some node or the graph output reads
};

using Converter = void (*)(Builder&);
void add_layer_converters(std::unordered_map<std::string, Converter>& m);   // convert_layers.cpp
void add_tensor_converters(std::unordered_map<std::string, Converter>& m);  // convert_tensor.cpp

}  // namespace fovea::onnx::detail
