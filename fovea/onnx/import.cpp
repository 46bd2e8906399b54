// ONNX import: parse, check, sort the nodes topologically and convert them one by one.
#include "fovea/onnx/import.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_set>

#include "fovea/onnx/detail.h"

namespace fovea::onnx {

namespace detail {

namespace {

std::int64_t checked_numel(const pb::TensorProto& t, const std::string& what) {
  std::int64_t n = 1;
  std::string dims;
  for (auto d : t.dims()) {
    if (!dims.empty()) dims += ',';
    dims += std::to_string(d);
  }
  std::int64_t extent = 1;  // the product without its zeros, which bounds the strides
  for (auto d : t.dims()) {
    if (d < 0) fail("onnx", "{} has a negative dimension in ({})", what, dims);
    if (d > 0 && extent > kMaxElements / d)
      fail("onnx", "{} has absurd dimensions ({}): the nonzero ones multiply past 2^40", what, dims);
    extent *= std::max<std::int64_t>(d, 1);
    n = d == 0 ? 0 : n * d;
  }
  return n;
}

template <typename Src, typename Dst>
void copy_field(const google::protobuf::RepeatedField<Src>& f, Dst* out) {
  for (int i = 0; i < f.size(); ++i) out[i] = static_cast<Dst>(f.Get(i));
}

// fovea's dtype for an ONNX element type (integers but uint8 widen to i64, bool to u8), and the bytes of
// one element in raw_data; nothing for a type fovea does not read.
struct ElementType {
  DType dtype;
  std::size_t raw_size;
};
std::optional<ElementType> element_type(int onnx_type) {
  switch (onnx_type) {
    case pb::TensorProto::FLOAT: return ElementType{DType::f32, 4};
    case pb::TensorProto::DOUBLE: return ElementType{DType::f64, 8};
    case pb::TensorProto::INT64: return ElementType{DType::i64, 8};
    case pb::TensorProto::INT32: return ElementType{DType::i64, 4};
    case pb::TensorProto::INT16: return ElementType{DType::i64, 2};
    case pb::TensorProto::INT8: return ElementType{DType::i64, 1};
    case pb::TensorProto::UINT64: return ElementType{DType::i64, 8};
    case pb::TensorProto::UINT32: return ElementType{DType::i64, 4};
    case pb::TensorProto::UINT16: return ElementType{DType::i64, 2};
    case pb::TensorProto::UINT8:
    case pb::TensorProto::BOOL: return ElementType{DType::u8, 1};
    case pb::TensorProto::FLOAT16: return ElementType{DType::f16, 2};
    case pb::TensorProto::BFLOAT16: return ElementType{DType::bf16, 2};
    default: return std::nullopt;
  }
}

// n little-endian integers of type I in raw_data, widened to i64.
template <typename I>
void widen_raw(const char* p, std::int64_t n, std::int64_t* out) {
  for (std::int64_t i = 0; i < n; ++i) {
    I v;
    std::memcpy(&v, p + sizeof(I) * i, sizeof(I));
    out[i] = v;
  }
}

// unsigned 64-bit values held as i64: those past 2^63 - 1 would turn negative
void check_uint64(const Tensor& t, const std::string& what) {
  const auto* p = t.data<std::int64_t>();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i)
    if (p[i] < 0) fail("onnx", "{}: uint64 value past 2^63 - 1 at element {}, which fovea's i64 cannot hold", what, i);
}

// ONNX external data: raw little-endian bytes at `offset` (default 0) of `location`, a path
// relative to the model's folder that may not leave it; `length`, when given, must match.
std::string external_bytes(const pb::TensorProto& t, const std::string& what, const std::string* dir,
                           std::size_t expected) {
  std::string location;
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length;
  for (const auto& e : t.external_data()) {
    try {
      if (e.key() == "location") location = e.value();
      else if (e.key() == "offset") offset = std::stoull(e.value());
      else if (e.key() == "length") length = std::stoull(e.value());
    } catch (const std::exception&) {
      fail("onnx", "{}: external data {} '{}' is not a number", what, e.key(), e.value());
    }
  }
  if (location.empty()) fail("onnx", "{}: external data without a location", what);
  if (!dir)
    fail("onnx",
         "{} keeps its data in an external file ('{}'); loading from bytes reads self-contained files only "
         "(load_model(path) reads external data next to the file)",
         what, location);
  const std::filesystem::path rel(location);
  for (const auto& part : rel)
    if (part == "..") fail("onnx", "{}: external file ('{}') points outside the model's folder", what, location);
  if (rel.is_absolute())
    fail("onnx", "{}: external file ('{}') must be relative to the model's folder", what, location);
  const std::filesystem::path file = std::filesystem::path(*dir) / rel;
  std::ifstream f(file, std::ios::binary);
  if (!f) fail("onnx", "{}: its external file ('{}') cannot be opened (looked for {})", what, location, file.string());
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(file, ec);
  if (length && *length != expected)
    fail("onnx", "{}: external length {} bytes, expected {} for its shape", what, *length, expected);
  if (ec || offset > size || size - offset < expected)
    fail("onnx", "{}: external file ('{}') holds {} bytes, {} needed from offset {} (truncated file?)", what, location,
         size, expected, offset);
  std::string bytes(expected, '\0');
  f.seekg(static_cast<std::streamoff>(offset));
  if (!f.read(bytes.data(), static_cast<std::streamsize>(expected)))
    fail("onnx", "{}: reading external file ('{}') failed", what, location);
  return bytes;
}

}  // namespace

Tensor to_tensor(const pb::TensorProto& t, const std::string& what, const std::string* external_dir) {
  const bool external = t.data_location() == pb::TensorProto::EXTERNAL || t.external_data_size() > 0;
  if (t.has_segment()) fail("onnx", "{} is a segment of a tensor, which fovea does not read", what);
  const std::int64_t n = checked_numel(t, what);
  Shape shape(t.dims().begin(), t.dims().end());
  const std::optional<ElementType> et = element_type(t.data_type());
  if (!et)
    fail("onnx",
         "{} has data type {}, which fovea does not read (float, double, float16, bfloat16, int8-64, uint8-64, bool)",
         what, pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(t.data_type())));
  const auto [dt, raw_size] = *et;
  Tensor out = empty(shape, {.dtype = dt, .device = kCPU});
  if (external || t.has_raw_data()) {
    const std::string external_raw =
        external ? external_bytes(t, what, external_dir, static_cast<std::size_t>(n) * raw_size) : std::string();
    const std::string& raw = external ? external_raw : t.raw_data();
    if (raw.size() != static_cast<std::size_t>(n) * raw_size)
      fail("onnx", "{}: raw data holds {} bytes, expected {} for shape {} (truncated file?)", what, raw.size(),
           static_cast<std::size_t>(n) * raw_size, shape_str(shape));
    const char* p = raw.data();
    switch (t.data_type()) {
      case pb::TensorProto::INT32: widen_raw<std::int32_t>(p, n, out.data<std::int64_t>()); break;
      case pb::TensorProto::INT16: widen_raw<std::int16_t>(p, n, out.data<std::int64_t>()); break;
      case pb::TensorProto::INT8: widen_raw<std::int8_t>(p, n, out.data<std::int64_t>()); break;
      case pb::TensorProto::UINT32: widen_raw<std::uint32_t>(p, n, out.data<std::int64_t>()); break;
      case pb::TensorProto::UINT16: widen_raw<std::uint16_t>(p, n, out.data<std::int64_t>()); break;
      default: std::memcpy(out.raw_data(), p, raw.size());
    }
    if (t.data_type() == pb::TensorProto::UINT64) check_uint64(out, what);
    return out;
  }
  // typed fields: the count checked, then the values copied
  auto take = [&](const auto& field, auto* dst) {
    if (field.size() != n)
      fail("onnx", "{} holds {} values, expected {} for shape {}", what, field.size(), n, shape_str(shape));
    copy_field(field, dst);
  };
  switch (t.data_type()) {
    case pb::TensorProto::FLOAT: take(t.float_data(), out.data<float>()); break;
    case pb::TensorProto::DOUBLE: take(t.double_data(), out.data<double>()); break;
    case pb::TensorProto::INT64: take(t.int64_data(), out.data<std::int64_t>()); break;
    case pb::TensorProto::UINT8:
    case pb::TensorProto::BOOL: take(t.int32_data(), out.data<std::uint8_t>()); break;
    case pb::TensorProto::FLOAT16:
    case pb::TensorProto::BFLOAT16:  // the 16-bit patterns, one per int32
      take(t.int32_data(), static_cast<std::uint16_t*>(out.raw_data()));
      break;
    case pb::TensorProto::UINT32:
    case pb::TensorProto::UINT64:
      take(t.uint64_data(), static_cast<std::uint64_t*>(out.raw_data()));
      check_uint64(out, what);
      break;
    default: take(t.int32_data(), out.data<std::int64_t>());
  }
  return out;
}

std::vector<std::int64_t> to_ints(const Tensor& t) {
  Tensor c = t.device() == kCPU ? t : t.to(kCPU);
  if (c.dtype() == DType::i64) return c.to_vector<std::int64_t>();
  std::vector<std::int64_t> v;
  for (double d : to_doubles(c)) {
    // a floating tensor where ONNX wants int64 (an axis, size, index, pad or count): only whole
    // values in range mean one
    if (!(std::abs(d) < 0x1p63) || d != std::trunc(d))
      fail("onnx", "a {} tensor holds {:g}, where an integer (an axis, size, index, pad or count) is expected",
           dtype_name(c.dtype()), d);
    v.push_back(static_cast<std::int64_t>(d));
  }
  return v;
}

std::vector<double> to_doubles(const Tensor& t) {
  Tensor c = t.device() == kCPU ? t : t.to(kCPU);
  if (c.dtype() == DType::f64) return c.to_vector<double>();
  if (c.dtype() == DType::i64) {
    auto v = c.to_vector<std::int64_t>();
    return {v.begin(), v.end()};
  }
  return c.to(DType::f64).to_vector<double>();
}

const pb::AttributeProto* Attrs::find(const std::string& name) const {
  for (const auto& a : n_.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

std::int64_t Attrs::i(const std::string& name, std::int64_t def) const {
  auto* a = find(name);
  return a ? a->i() : def;
}

double Attrs::f(const std::string& name, double def) const {
  auto* a = find(name);
  return a ? a->f() : def;
}

std::string Attrs::s(const std::string& name, const std::string& def) const {
  auto* a = find(name);
  return a ? a->s() : def;
}

std::vector<std::int64_t> Attrs::ints(const std::string& name, std::vector<std::int64_t> def) const {
  auto* a = find(name);
  if (!a) return def;
  return {a->ints().begin(), a->ints().end()};
}

std::vector<double> Attrs::floats(const std::string& name) const {
  auto* a = find(name);
  if (!a) return {};
  return {a->floats().begin(), a->floats().end()};
}

Tensor Attrs::tensor(const std::string& name) const {
  auto* a = find(name);
  if (!a || !a->has_t()) node_fail(n_, "attribute '{}' is missing", name);
  return to_tensor(a->t(), fmt::format("attribute '{}' of node '{}'", name, n_.name()));
}

Tensor Builder::const_input(int i, const char* what) const {
  if (!has_input(i)) node_fail(n_, "{} (input {}) is missing", what, i);
  if (!g_.has_constant(input(i)))
    node_fail(n_, "{} ('{}') must be an initializer or a constant, not computed at run time", what, input(i));
  return g_.constant(input(i));
}

void Builder::check_outputs(int n) const {
  for (int k = n; k < n_.output_size(); ++k)
    if (!n_.output(k).empty() && used_.count(n_.output(k)))
      node_fail(n_, "output {} ('{}') is not supported (only the first {} output(s))", k, n_.output(k), n);
}

namespace {

std::vector<std::string> names(const google::protobuf::RepeatedPtrField<std::string>& f) {
  return {f.begin(), f.end()};
}

}  // namespace

std::vector<std::string> Builder::inputs() const {
  std::vector<std::string> v = names(n_.input());
  if (static_cast<int>(v.size()) < arity_) v.resize(static_cast<std::size_t>(arity_));
  return v;
}

std::vector<std::int64_t> spatial_ints(const Attrs& a, const std::string& name, std::vector<std::int64_t> def,
                                       bool one_d, std::int64_t fill) {
  if (!a.has(name)) return def;
  auto v = a.ints(name);
  if (!one_d) return v;
  if (name == "pads" && v.size() == 2) return {0, v[0], 0, v[1]};
  if (v.size() == 1) return {fill, v[0]};
  return v;  // a wrong count, reported by the converter
}

namespace {

// fn run on input 0 as (N,C,1,L), its outputs back to (N,C,L)
Step::Fn lifted(Step::Fn fn) {
  return [fn](nn::Module* m, const std::vector<Tensor>& in) {
    std::vector<Tensor> in2 = in;
    in2[0] = in[0].unsqueeze(2);
    std::vector<Tensor> out = fn ? fn(m, in2) : std::vector<Tensor>{(*m)(in2[0])};
    for (auto& t : out)
      if (t.defined() && t.dim() >= 3) t = t.squeeze(2);
    return out;
  };
}

}  // namespace

void Builder::layer(nn::ModulePtr m, Step::Fn fn) {
  // A layer without its own function reads only its first input: the others (a Gemm's B and C)
  // are constants already in the layer's parameters, and must not stay in the graph as well
  std::vector<std::string> inputs = this->inputs();
  if (!fn && inputs.size() > 1) inputs.resize(1);
  if (lift_1d_) fn = lifted(std::move(fn));
  const std::string name = g_.child_name(n_.name(), n_.op_type(), index_);
  g_.add_layer(name, std::move(m));
  g_.add_step({.node = n_.name(),
               .op_type = n_.op_type(),
               .inputs = std::move(inputs),
               .outputs = names(n_.output()),
               .module = name,
               .fn = std::move(fn)});
}

void Builder::op_module(OpModule::Fn fn, std::string repr) {
  if (lift_1d_) {
    fn = [f = std::move(fn)](const Tensor& x) { return f(x.unsqueeze(2)).squeeze(2); };
    lift_1d_ = false;  // lifted here, not again by layer()
  }
  layer(std::make_shared<OpModule>(n_.op_type(), std::move(fn), std::move(repr)));
}

void Builder::function(Step::Fn fn) {
  if (lift_1d_) fn = lifted(std::move(fn));
  const std::vector<std::string> inputs = this->inputs();
  bool folds = true;
  for (const auto& name : inputs)
    if (!name.empty() && !g_.has_constant(name)) folds = false;
  if (folds) {
    std::vector<Tensor> in;
    for (const auto& name : inputs) in.push_back(name.empty() ? Tensor() : g_.constant(name));
    std::vector<Tensor> out;
    try {
      out = fn(nullptr, in);
    } catch (const Error& e) {
      node_fail(n_, "{}", e.what());
    }
    for (int k = 0; k < n_.output_size() && k < static_cast<int>(out.size()); ++k)
      if (!n_.output(k).empty()) g_.add_constant(n_.output(k), out[static_cast<std::size_t>(k)].detach());
    return;
  }
  g_.add_step({.node = n_.name(),
               .op_type = n_.op_type(),
               .inputs = inputs,
               .outputs = names(n_.output()),
               .module = "",
               .fn = std::move(fn)});
}

const std::unordered_map<std::string, OpConverter>& converters() {
  static const auto m = [] {
    std::unordered_map<std::string, OpConverter> r;
    add_layer_converters(r);
    add_tensor_converters(r);
    add_resize_converters(r);
    add_math_converters(r);
    return r;
  }();
  return m;
}

namespace {

bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

constexpr int kMany = std::numeric_limits<int>::max();  // a variadic input
struct Arity {
  const char* op;
  std::int64_t since;
  int min, max;
};
constexpr Arity kArity[] = {
#include "fovea/onnx/arity_table.inc"
};

// The input counts ONNX allows for `op` at `opset` (its latest schema at or before it); null for an
// op the table does not list. The rows of one op are in opset order.
const Arity* arity_of(const std::string& op, std::int64_t opset) {
  const Arity* found = nullptr;
  for (const auto& a : kArity)
    if (op == a.op && a.since <= opset) found = &a;
  return found;
}

// Refuses a node with fewer or more inputs than its schema allows, or a required input left
// unnamed, before its converter reads them; returns the count its inputs are padded to (absent
// optional inputs become undefined tensors).
int check_arity(const pb::NodeProto& n, std::int64_t opset) {
  const Arity* a = arity_of(n.op_type(), opset);
  if (!a) return n.input_size();
  const int count = n.input_size();
  if (count < a->min || count > a->max) {
    const std::string takes = a->min == a->max  ? fmt::format("exactly {}", a->min)
                              : a->max == kMany ? fmt::format("at least {}", a->min)
                                                : fmt::format("{} to {}", a->min, a->max);
    node_fail(n, "{} takes {} input(s) at opset {}, the node has {}", n.op_type(), takes, opset, count);
  }
  for (int k = 0; k < a->min; ++k)
    if (n.input(k).empty()) node_fail(n, "input {} of {} is required, but the node leaves it unnamed", k, n.op_type());
  return a->max == kMany ? count : a->max;
}

std::int64_t model_opset(const pb::ModelProto& model, const std::string& file) {
  std::int64_t opset = -1;
  for (const auto& o : model.opset_import())
    if (default_domain(o.domain())) opset = o.version();
  if (opset < 0) fail("onnx", "{}: the model imports no opset of the default ONNX domain", file);
  if (opset < 1 || opset > kMaxOpset)
    fail("onnx",
         "{}: opset {} is not supported (fovea reads opsets 1 to {}; each op from the opset docs/onnx.md names)", file,
         opset, kMaxOpset);
  return opset;
}

}  // namespace

std::shared_ptr<Graph> build(const pb::ModelProto& model, const std::string& file, const LoadOptions& opts,
                             const std::string* external_dir) {
  if (!model.has_graph() || model.graph().node_size() == 0)
    fail("onnx", "{}: no graph with nodes (not an ONNX model, or an empty one)", file);
  const std::int64_t opset = model_opset(model, file);
  const pb::GraphProto& gp = model.graph();
  if (gp.sparse_initializer_size() > 0) fail("onnx", "{}: sparse initializers are not supported", file);

  auto g = std::make_shared<Graph>();
  std::unordered_set<std::string> known;  // values defined before any node runs
  for (const auto& init : gp.initializer()) {
    g->add_constant(init.name(), to_tensor(init, fmt::format("initializer '{}'", init.name()), external_dir));
    known.insert(init.name());
  }
  std::vector<std::string> inputs;
  std::vector<std::optional<DType>> input_types;
  std::unordered_set<std::string> bound;
  for (const auto& in : gp.input()) {
    if (known.count(in.name())) continue;
    known.insert(in.name());
    if (auto it = opts.constants.find(in.name()); it != opts.constants.end()) {
      if (!it->second.defined()) fail("onnx", "{}: the constant given for input '{}' is undefined", file, in.name());
      g->add_constant(in.name(), it->second.device() == kCPU ? it->second : it->second.to(kCPU));
      bound.insert(in.name());
    } else {
      inputs.push_back(in.name());
      const int et = in.type().has_tensor_type() ? in.type().tensor_type().elem_type() : 0;
      const auto t = element_type(et);
      if (et != 0 && !t)
        fail("onnx", "{}: input '{}' has element type {}, which fovea does not read", file, in.name(),
             pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(et)));
      input_types.push_back(t ? std::optional<DType>(t->dtype) : std::nullopt);
    }
  }
  for (const auto& [name, t] : opts.constants)
    if (!bound.count(name))
      fail("onnx", "{}: a constant is given for '{}', which is not an input of the graph (inputs: {})", file, name,
           fmt::join(inputs, ", "));
  std::vector<std::string> outputs;
  for (const auto& out : gp.output()) outputs.push_back(out.name());
  g->set_io(inputs, outputs, input_types);

  // topological order (Kahn), which also finds undefined inputs and cycles
  const int n = gp.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const auto& o : gp.node(i).output()) {
      if (o.empty()) continue;
      if (known.count(o) || producer.count(o)) node_fail(gp.node(i), "output '{}' is defined twice", o);
      producer[o] = i;
    }
  std::vector<std::vector<int>> users(static_cast<std::size_t>(n));
  std::vector<int> pending(static_cast<std::size_t>(n), 0);
  std::unordered_set<std::string> used(outputs.begin(), outputs.end());
  for (int i = 0; i < n; ++i)
    for (const auto& in : gp.node(i).input()) {
      if (in.empty()) continue;
      used.insert(in);
      if (auto it = producer.find(in); it != producer.end()) {
        users[static_cast<std::size_t>(it->second)].push_back(i);
        ++pending[static_cast<std::size_t>(i)];
      } else if (!known.count(in)) {
        node_fail(gp.node(i),
                  "input '{}' is not produced by any node, initializer or graph input (a missing initializer?)", in);
      }
    }
  std::vector<int> order, ready;
  for (int i = n - 1; i >= 0; --i)
    if (pending[static_cast<std::size_t>(i)] == 0) ready.push_back(i);
  while (!ready.empty()) {
    // the lowest index first keeps the file's order when it is already sorted
    auto it = std::min_element(ready.begin(), ready.end());
    const int i = *it;
    ready.erase(it);
    order.push_back(i);
    for (int u : users[static_cast<std::size_t>(i)])
      if (--pending[static_cast<std::size_t>(u)] == 0) ready.push_back(u);
  }
  if (static_cast<int>(order.size()) != n)
    for (int i = 0; i < n; ++i)
      if (pending[static_cast<std::size_t>(i)] > 0) node_fail(gp.node(i), "the graph has a cycle through this node");

  std::vector<const pb::NodeProto*> seq;
  std::unordered_map<const pb::NodeProto*, int> index_of;
  for (int i : order) {
    seq.push_back(&gp.node(i));
    index_of[&gp.node(i)] = i;
  }
  std::deque<pb::NodeProto> synthetic;  // fused patterns: their semantics are the pattern's, any opset
  fuse_patterns(gp, *g, opset, seq, synthetic);
  const auto& conv = converters();
  for (std::size_t k = 0; k < seq.size(); ++k) {
    const pb::NodeProto& node = *seq[k];
    const bool fused = !index_of.count(&node);
    const int i = fused ? gp.node_size() + static_cast<int>(k) : index_of.at(&node);
    if (!default_domain(node.domain()))
      node_fail(node, "op type '{}' of domain '{}' is not supported", node.op_type(), node.domain());
    auto it = conv.find(node.op_type());
    if (it == conv.end())
      node_fail(node, "op type '{}' is not supported (docs/onnx.md lists the supported ops)", node.op_type());
    if (!fused && opset < it->second.since)
      node_fail(node, "fovea reads {} from opset {} (its older form differs); the file's opset is {}", node.op_type(),
                it->second.since, opset);
    // a fused node's inputs are the pattern's (a MatMul + Add has three), not its op's schema
    const int arity = fused ? node.input_size() : check_arity(node, opset);
    Builder b(*g, opset, node, static_cast<std::size_t>(i), used, arity);
    try {
      it->second.convert(b);
    } catch (const Error& e) {
      if (std::string_view(e.what()).starts_with("[onnx] node '")) throw;  // names its node already
      node_fail(node, "{}", e.what());
    }
  }
  for (const auto& o : outputs)
    if (!producer.count(o) && !known.count(o) && !g->has_constant(o))
      fail("onnx", "{}: graph output '{}' is not produced by any node", file, o);
  g->finish();
  g->eval();
  return g;
}

}  // namespace detail

std::shared_ptr<Graph> load_model_from_bytes(const std::string& bytes, const std::string& name, const LoadOptions& o) {
  detail::pb::ModelProto model;
  if (!model.ParseFromString(bytes))
    fail("onnx", "{}: not an ONNX model (the protobuf does not parse: a truncated file or another format)", name);
  return detail::build(model, name, o, nullptr);
}

namespace {

// A protobuf message read from a file, with the 2 GiB limit and the parse checked.
template <typename Message>
Message parse_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("onnx", "cannot open '{}'", path);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size >= (std::uint64_t{1} << 31))
    fail("onnx", "{}: {} bytes, more than the 2 GiB protobuf limit (save the weights as external data)", path, size);
  Message m;
  if (!m.ParseFromIstream(&f))
    fail("onnx", "{}: not an ONNX {} (the protobuf does not parse: a truncated file or another format)", path, what);
  return m;
}

}  // namespace

std::shared_ptr<Graph> load_model(const std::string& path, const LoadOptions& o) {
  const std::string dir = std::filesystem::absolute(path).parent_path().string();
  return detail::build(parse_file<detail::pb::ModelProto>(path, "model"), path, o, &dir);
}

std::vector<std::string> supported_op_types() {
  std::vector<std::string> r;
  for (const auto& [op, c] : detail::converters()) r.push_back(op);
  std::sort(r.begin(), r.end());
  return r;
}

ModelInfo inspect(const std::string& path) {
  const auto model = parse_file<detail::pb::ModelProto>(path, "model");
  ModelInfo info;
  for (const auto& o : model.opset_import())
    if (detail::default_domain(o.domain())) info.opset = o.version();
  std::set<std::string> inits, ops, unsupported;
  for (const auto& t : model.graph().initializer()) inits.insert(t.name());
  auto type_name = [](const detail::pb::ValueInfoProto& v) -> std::string {
    if (!v.type().has_tensor_type() || v.type().tensor_type().elem_type() == 0) return "";
    return detail::pb::TensorProto::DataType_Name(
        static_cast<detail::pb::TensorProto::DataType>(v.type().tensor_type().elem_type()));
  };
  auto shape_of = [](const detail::pb::ValueInfoProto& v) {
    Shape s;
    if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return s;
    for (const auto& d : v.type().tensor_type().shape().dim()) s.push_back(d.has_dim_value() ? d.dim_value() : -1);
    return s;
  };
  for (const auto& in : model.graph().input())
    if (!inits.count(in.name())) {
      info.inputs.push_back(in.name());
      info.input_types.push_back(type_name(in));
      info.input_shapes.push_back(shape_of(in));
    }
  for (const auto& p : model.metadata_props()) info.metadata.emplace_back(p.key(), p.value());
  for (const auto& out : model.graph().output()) {
    info.outputs.push_back(out.name());
    info.output_types.push_back(type_name(out));
  }
  for (const auto& n : model.graph().node()) {
    const bool ours = detail::default_domain(n.domain());
    const std::string op = ours ? n.op_type() : n.domain() + ":" + n.op_type();
    ops.insert(op);
    if (!ours || !detail::converters().count(n.op_type())) unsupported.insert(op);
  }
  info.op_types.assign(ops.begin(), ops.end());
  info.unsupported.assign(unsupported.begin(), unsupported.end());
  return info;
}

Tensor read_tensor(const std::string& path) {
  return detail::to_tensor(parse_file<detail::pb::TensorProto>(path, "tensor"), fmt::format("tensor '{}'", path));
}

bool is_onnx_path(const std::string& path) {
  if (path.size() < 5) return false;
  std::string ext = path.substr(path.size() - 5);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".onnx";
}

}  // namespace fovea::onnx
