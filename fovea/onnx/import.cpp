// ONNX import: parse, check, sort the nodes topologically and convert them one by one.
#include "fovea/onnx/import.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
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
  for (auto d : t.dims()) {
    if (d < 0) fail("onnx", "{} has a negative dimension in ({})", what, dims);
    if (d > 0 && n > kMaxElements / d)
      fail("onnx", "{} has absurd dimensions ({}): more than 2^40 elements", what, dims);
    n *= d;
  }
  return n;
}

template <typename Src, typename Dst>
void copy_field(const google::protobuf::RepeatedField<Src>& f, Dst* out) {
  for (int i = 0; i < f.size(); ++i) out[i] = static_cast<Dst>(f.Get(i));
}

// fovea's dtype for an ONNX element type (integers widen to i64, bool to u8), and the bytes of
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
    case pb::TensorProto::UINT8:
    case pb::TensorProto::BOOL: return ElementType{DType::u8, 1};
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

}  // namespace

Tensor to_tensor(const pb::TensorProto& t, const std::string& what) {
  if (t.data_location() == pb::TensorProto::EXTERNAL || t.external_data_size() > 0) {
    std::string loc = "?";
    for (const auto& e : t.external_data())
      if (e.key() == "location") loc = e.value();
    fail("onnx",
         "{} keeps its data in an external file ('{}'); fovea reads self-contained files only "
         "(save without external data)",
         what, loc);
  }
  if (t.has_segment()) fail("onnx", "{} is a segment of a tensor, which fovea does not read", what);
  const std::int64_t n = checked_numel(t, what);
  Shape shape(t.dims().begin(), t.dims().end());
  const std::optional<ElementType> et = element_type(t.data_type());
  if (!et)
    fail("onnx", "{} has data type {}, which fovea does not read (float, double, int8-64, uint8, bool)", what,
         pb::TensorProto::DataType_Name(static_cast<pb::TensorProto::DataType>(t.data_type())));
  const auto [dt, raw_size] = *et;
  Tensor out = empty(shape, {.dtype = dt, .device = kCPU});
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (raw.size() != static_cast<std::size_t>(n) * raw_size)
      fail("onnx", "{}: raw data holds {} bytes, expected {} for shape {} (truncated file?)", what, raw.size(),
           static_cast<std::size_t>(n) * raw_size, shape_str(shape));
    const char* p = raw.data();
    switch (t.data_type()) {
      case pb::TensorProto::INT32: widen_raw<std::int32_t>(p, n, out.data<std::int64_t>()); break;
      case pb::TensorProto::INT16: widen_raw<std::int16_t>(p, n, out.data<std::int64_t>()); break;
      case pb::TensorProto::INT8: widen_raw<std::int8_t>(p, n, out.data<std::int64_t>()); break;
      default: std::memcpy(out.raw_data(), p, raw.size());
    }
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
    default: take(t.int32_data(), out.data<std::int64_t>());
  }
  return out;
}

std::vector<std::int64_t> to_ints(const Tensor& t) {
  Tensor c = t.device() == kCPU ? t : t.to(kCPU);
  if (c.dtype() == DType::i64) return c.to_vector<std::int64_t>();
  std::vector<std::int64_t> v;
  for (double d : to_doubles(c)) v.push_back(static_cast<std::int64_t>(d));
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

void Builder::layer(nn::ModulePtr m, Step::Fn fn) {
  const std::string name = g_.child_name(n_.name(), n_.op_type(), index_);
  g_.add_layer(name, std::move(m));
  g_.add_step({.node = n_.name(),
               .op_type = n_.op_type(),
               .inputs = names(n_.input()),
               .outputs = names(n_.output()),
               .module = name,
               .fn = std::move(fn)});
}

void Builder::op_module(OpModule::Fn fn, std::string repr) {
  layer(std::make_shared<OpModule>(n_.op_type(), std::move(fn), std::move(repr)));
}

void Builder::function(Step::Fn fn) {
  bool folds = true;
  for (int i = 0; i < n_.input_size(); ++i)
    if (has_input(i) && !g_.has_constant(input(i))) folds = false;
  if (folds) {
    std::vector<Tensor> in;
    for (int i = 0; i < n_.input_size(); ++i) in.push_back(has_input(i) ? g_.constant(input(i)) : Tensor());
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
               .inputs = names(n_.input()),
               .outputs = names(n_.output()),
               .module = "",
               .fn = std::move(fn)});
}

const std::unordered_map<std::string, Converter>& converters() {
  static const auto m = [] {
    std::unordered_map<std::string, Converter> r;
    add_layer_converters(r);
    add_tensor_converters(r);
    return r;
  }();
  return m;
}

std::shared_ptr<Graph> build(const pb::ModelProto& model, const std::string& file) {
  if (!model.has_graph() || model.graph().node_size() == 0)
    fail("onnx", "{}: no graph with nodes (not an ONNX model, or an empty one)", file);
  std::int64_t opset = -1;
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  if (opset < 0) fail("onnx", "{}: the model imports no opset of the default ONNX domain", file);
  if (opset < 9 || opset > 17) fail("onnx", "{}: opset {} is not supported (fovea reads opsets 9 to 17)", file, opset);
  const pb::GraphProto& gp = model.graph();
  if (gp.sparse_initializer_size() > 0) fail("onnx", "{}: sparse initializers are not supported", file);

  auto g = std::make_shared<Graph>();
  std::unordered_set<std::string> known;  // values defined before any node runs
  for (const auto& init : gp.initializer()) {
    g->add_constant(init.name(), to_tensor(init, fmt::format("initializer '{}'", init.name())));
    known.insert(init.name());
  }
  std::vector<std::string> inputs;
  for (const auto& in : gp.input())
    if (!known.count(in.name())) {
      inputs.push_back(in.name());
      known.insert(in.name());
    }
  std::vector<std::string> outputs;
  for (const auto& out : gp.output()) outputs.push_back(out.name());
  g->set_io(inputs, outputs);

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

  const auto& conv = converters();
  for (int i : order) {
    const pb::NodeProto& node = gp.node(i);
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      node_fail(node, "op type '{}' of domain '{}' is not supported", node.op_type(), node.domain());
    auto it = conv.find(node.op_type());
    if (it == conv.end())
      node_fail(node, "op type '{}' is not supported (docs/onnx.md lists the supported ops)", node.op_type());
    Builder b(*g, opset, node, static_cast<std::size_t>(i), used);
    it->second(b);
  }
  for (const auto& o : outputs)
    if (!producer.count(o) && !known.count(o) && !g->has_constant(o))
      fail("onnx", "{}: graph output '{}' is not produced by any node", file, o);
  g->finish();
  g->eval();
  return g;
}

}  // namespace detail

std::shared_ptr<Graph> load_model_from_bytes(const std::string& bytes, const std::string& name) {
  detail::pb::ModelProto model;
  if (!model.ParseFromString(bytes))
    fail("onnx", "{}: not an ONNX model (the protobuf does not parse: a truncated file or another format)", name);
  return detail::build(model, name);
}

std::shared_ptr<Graph> load_model(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("onnx", "cannot open '{}'", path);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size >= (std::uint64_t{1} << 31))
    fail("onnx", "{}: {} bytes, more than the 2 GiB protobuf limit (external data is not supported)", path, size);
  detail::pb::ModelProto model;
  if (!model.ParseFromIstream(&f))
    fail("onnx", "{}: not an ONNX model (the protobuf does not parse: a truncated file or another format)", path);
  return detail::build(model, path);
}

bool is_onnx_path(const std::string& path) {
  if (path.size() < 5) return false;
  std::string ext = path.substr(path.size() - 5);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".onnx";
}

}  // namespace fovea::onnx
