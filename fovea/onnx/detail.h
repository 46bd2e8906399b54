#pragma once
// Internal to fovea/onnx (never included by a public header): the protobuf classes of Debian's
// libonnx-dev and the converter interface, one converter per ONNX op type.
#ifndef ONNX_ML
#define ONNX_ML 1  // Debian ships only the ONNX-ML protobuf classes (onnx/onnx-ml.pb.h)
#endif
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "fovea/nn/module.h"
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

// A TensorProto as a CPU tensor (f32, f64, f16, bf16, i64 or u8; the other integers widen to
// i64, bool is u8); `what` names it in errors ("initializer 'fc.weight'"). Data in an external
// file is read from `external_dir` (the model's folder); without one it is refused.
Tensor to_tensor(const pb::TensorProto& t, const std::string& what, const std::string* external_dir = nullptr);

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
  // arity: the count the node's inputs are padded to with absent ones (its schema's maximum)
  Builder(Graph& g, std::int64_t opset, const pb::NodeProto& n, std::size_t index,
          const std::unordered_set<std::string>& used, int arity)
      : g_(g), opset_(opset), n_(n), index_(index), attrs_(n), used_(used), arity_(arity) {}
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
  // The node is 1-D, (N,C,L), and converted as its 2-D form: layer, function and op_module then
  // see input 0 as (N,C,1,L) and their outputs lose that dim again.
  void lift_1d() { lift_1d_ = true; }

 private:
  Graph& g_;
  std::int64_t opset_;
  const pb::NodeProto& n_;
  std::size_t index_;
  Attrs attrs_;
  const std::unordered_set<std::string>& used_;  // values some node or the graph output reads
  bool lift_1d_ = false;
  int arity_;
  // the node's input names padded with "" to arity_
  std::vector<std::string> inputs() const;
};

// A 1-D node's spatial attribute in its 2-D form on (N,C,1,L): (v) -> (fill, v), pads (b, e) ->
// (0, b, 0, e); absent: def
std::vector<std::int64_t> spatial_ints(const Attrs& a, const std::string& name, std::vector<std::int64_t> def,
                                       bool one_d, std::int64_t fill);

// The newest opset fovea reads; each op is read from the opset its converter names (`since`),
// the first whose semantics it implements (older forms differ: legacy broadcast attributes,
// attributes that became inputs).
inline constexpr std::int64_t kMaxOpset = 18;
// Helpers the converters share (convert_tensor.cpp, convert_layers.cpp)
// t on device d (undefined stays undefined)
inline Tensor on(const Tensor& t, Device d) { return !t.defined() || t.device() == d ? t : t.to(d); }
// axis in [-rank, rank) -> [0, rank); `op` names the node type in errors
std::int64_t norm_axis(std::int64_t axis, std::int64_t rank, const char* op);
// x with axis a in reverse order (differentiable)
Tensor reverse(const Tensor& x, std::int64_t a);
// A layer built on the meta device (no allocation, no random init) whose tensors are then
// pointed at the file's values with set_param.
template <typename M>
std::shared_ptr<M> make_empty(typename M::Options o) {
  DefaultDeviceGuard meta(kMeta);
  return nn::make<M>(std::move(o));
}
void set_param(const pb::NodeProto& n, const Tensor& param, const Tensor& value, const char* what);

using Converter = void (*)(Builder&);
struct OpConverter {
  Converter convert = nullptr;
  std::int64_t since = 7;
};
using Converters = std::unordered_map<std::string, OpConverter>;
// Replaces node patterns that are one fovea layer (torch's LayerNorm below opset 17, MatMul +
// Add) in the topologically sorted `seq` by nodes kept in `synthetic`; `graph` holds the
// initializers already read (fuse.cpp)
void fuse_patterns(const pb::GraphProto& g, const Graph& graph, std::int64_t opset,
                   std::vector<const pb::NodeProto*>& seq, std::deque<pb::NodeProto>& synthetic);

void add_layer_converters(Converters& m);   // convert_layers.cpp
void add_tensor_converters(Converters& m);  // convert_tensor.cpp
void add_resize_converters(Converters& m);  // convert_resize.cpp
void add_math_converters(Converters& m);    // convert_math.cpp
const Converters& converters();             // import.cpp

}  // namespace fovea::onnx::detail
