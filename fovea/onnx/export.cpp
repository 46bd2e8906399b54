// ONNX export: trace, keep the ops the output depends on, write one or a few nodes per op.
#include "fovea/onnx/export.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "fovea/autograd/node.h"
#include "fovea/io/safetensors.h"
#include "fovea/onnx/detail.h"
#include "fovea/ops/ops.h"
#include "fovea/ops/trace.h"

namespace fovea::onnx {

namespace {

namespace pb = detail::pb;

[[noreturn]] void export_fail(const std::string& what) { fail("onnx export", "{}", what); }

struct Record {
  trace::Op op;
  std::string scope;  // the module path that ran it ("layer1.0.conv1")
};

class Recorder : public trace::Sink {
 public:
  void record(trace::Op op) override { ops.push_back({std::move(op), scope.empty() ? "" : scope.back()}); }
  std::vector<Record> ops;
  std::vector<std::string> scope;
};

class Writer {
 public:
  Writer(pb::GraphProto& g, std::int64_t opset) : g_(g), opset_(opset) {}

  // an initializer from a tensor (f32 or i64), once per name
  std::string initializer(const std::string& name, const Tensor& t) {
    if (!inits_.insert(name).second) return name;
    pb::TensorProto* p = g_.add_initializer();
    p->set_name(name);
    for (auto d : t.shape()) p->add_dims(d);
    Tensor c = t.detach().to(kCPU);
    if (c.dtype() == DType::i64) {
      p->set_data_type(pb::TensorProto::INT64);
    } else {
      c = c.to(DType::f32);
      p->set_data_type(pb::TensorProto::FLOAT);
    }
    c = c.contiguous();
    p->set_raw_data(std::string(static_cast<const char*>(c.raw_data()),
                                static_cast<std::size_t>(c.numel()) * dtype_size(c.dtype())));
    return name;
  }
  std::string constant(const Tensor& t) { return initializer(fmt::format("const_{}", next_const_++), t); }
  std::string ints(const std::vector<std::int64_t>& v) {
    return constant(from_vector(v, {static_cast<std::int64_t>(v.size())}, {.device = kCPU}));
  }
  std::string floats(const std::vector<float>& v) {
    return constant(from_vector(v, {static_cast<std::int64_t>(v.size())}, {.device = kCPU}));
  }
  std::string scalar(double v) { return constant(scalar_tensor(v, DType::f32, kCPU)); }

  pb::NodeProto* node(const std::string& type, const std::string& scope, const std::vector<std::string>& in,
                      const std::string& out) {
    pb::NodeProto* n = g_.add_node();
    n->set_op_type(type);
    n->set_name(fmt::format("{}/{}_{}", scope.empty() ? "" : scope, type, next_node_++));
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  }
  std::string temp() { return fmt::format("tmp_{}", next_temp_++); }
  std::int64_t opset() const { return opset_; }

 private:
  pb::GraphProto& g_;
  std::int64_t opset_;
  std::unordered_set<std::string> inits_;
  int next_const_ = 0, next_node_ = 0, next_temp_ = 0;
};

void set_attr(pb::NodeProto* n, const std::string& name, const trace::Value& v) {
  pb::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  std::visit(
      [a](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::int64_t>) {
          a->set_type(pb::AttributeProto::INT);
          a->set_i(x);
        } else if constexpr (std::is_same_v<T, double>) {
          a->set_type(pb::AttributeProto::FLOAT);
          a->set_f(static_cast<float>(x));
        } else if constexpr (std::is_same_v<T, std::string>) {
          a->set_type(pb::AttributeProto::STRING);
          a->set_s(x);
        } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
          a->set_type(pb::AttributeProto::INTS);
          for (auto e : x) a->add_ints(e);
        } else {
          a->set_type(pb::AttributeProto::FLOATS);
          for (auto e : x) a->add_floats(static_cast<float>(e));
        }
      },
      v);
}

const trace::Value* find_attr(const trace::Op& op, const std::string& name) {
  for (const auto& [k, v] : op.attrs)
    if (k == name) return &v;
  return nullptr;
}
template <typename T>
T attr(const trace::Op& op, const std::string& name) {
  const trace::Value* v = find_attr(op, name);
  if (!v) export_fail(fmt::format("{}: attribute '{}' missing in the trace", op.type, name));
  return std::get<T>(*v);
}

void copy_attrs(pb::NodeProto* n, const trace::Op& op, std::initializer_list<const char*> skip = {}) {
  for (const auto& [k, v] : op.attrs)
    if (std::find(skip.begin(), skip.end(), k) == skip.end()) set_attr(n, k, v);
}

// input names without the trailing absent ones
std::vector<std::string> trimmed(std::vector<std::string> v) {
  while (!v.empty() && v.back().empty()) v.pop_back();
  return v;
}

}  // namespace

std::string export_model(nn::Module& m, const Shape& input, const ExportOptions& o) {
  if (o.opset < 11 || o.opset > 17) export_fail(fmt::format("opset {} is not supported (11 to 17)", o.opset));
  if (input.size() != 3 && input.size() != 4)
    export_fail(fmt::format("expected an input shape C x H x W, got {}", shape_str(input)));
  const Shape chw(input.end() - 3, input.end());
  nn::EvalGuard eval_mode(m);

  // trace at batch 2 with gradients on: a tensor an untraced op made from the input then has a
  // grad_fn, which tells it apart from a constant
  Recorder rec;
  nn::ScopedHooks hooks;
  for (auto& [name, mod] : m.named_modules()) {
    const std::string nm = name;
    hooks.pre(*mod, [&rec, nm](nn::Module&, const Tensor&) {
      rec.scope.push_back(nm);
      return Tensor();
    });
    hooks.post(*mod, [&rec](nn::Module&, const Tensor&, const Tensor&) {
      rec.scope.pop_back();
      return Tensor();
    });
  }
  const auto params = m.parameters();
  const Device dev = params.empty() ? kCPU : params[0].device();
  Generator gen(7);
  Tensor x = randn({2, chw[0], chw[1], chw[2]}, {.device = kCPU}, gen).to(dev);
  x.requires_grad_();
  Tensor y;
  {
    trace::Scope scope(rec);
    y = m(x);
  }

  std::unordered_map<const TensorImpl*, std::string> param_names;
  for (auto& [n, t] : m.named_parameters()) param_names.emplace(t.impl(), n);
  for (auto& [n, t] : m.named_buffers()) param_names.emplace(t.impl(), n);
  std::unordered_map<const TensorImpl*, std::size_t> producer;  // a later record of the same tensor wins
  for (std::size_t i = 0; i < rec.ops.size(); ++i) producer[rec.ops[i].op.output.impl()] = i;
  // the records the output depends on
  std::vector<bool> needed(rec.ops.size(), false);
  std::vector<const TensorImpl*> stack{y.impl()};
  while (!stack.empty()) {
    const TensorImpl* t = stack.back();
    stack.pop_back();
    auto it = producer.find(t);
    if (it == producer.end() || needed[it->second] || t == x.impl() || param_names.count(t)) continue;
    needed[it->second] = true;
    for (const auto& in : rec.ops[it->second].op.inputs)
      if (in.defined()) stack.push_back(in.impl());
  }

  pb::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("fovea");
  for (const auto& [key, value] : o.metadata) {
    auto* prop = model.add_metadata_props();
    prop->set_key(key);
    prop->set_value(value);
  }
  auto* op_import = model.add_opset_import();
  op_import->set_domain("");
  op_import->set_version(o.opset);
  pb::GraphProto& g = *model.mutable_graph();
  g.set_name(m.type());
  Writer w(g, o.opset);

  std::unordered_map<const TensorImpl*, std::string> names{{x.impl(), "input"}};
  std::unordered_set<const TensorImpl*> batched{x.impl()};  // tensors whose dim 0 is the batch
  int next_value = 0;
  auto name_of = [&](const Tensor& t, const Record& r) -> std::string {
    if (!t.defined()) return "";
    if (auto it = names.find(t.impl()); it != names.end()) return it->second;
    if (auto it = param_names.find(t.impl()); it != param_names.end()) return w.initializer(it->second, t);
    if (t.grad_fn())
      export_fail(fmt::format("'{}' in '{}' reads a tensor made by '{}', an op the exporter does not trace", r.op.type,
                              r.scope, t.grad_fn()->name));
    return names[t.impl()] = w.constant(t);
  };

  for (std::size_t i = 0; i < rec.ops.size(); ++i) {
    if (!needed[i]) continue;
    const Record& r = rec.ops[i];
    const trace::Op& op = r.op;
    std::vector<std::string> in;
    bool is_batched = false;
    for (const auto& t : op.inputs) {
      in.push_back(name_of(t, r));
      if (t.defined() && batched.count(t.impl())) is_batched = true;
    }
    const std::string out = op.output.same(y) ? "output" : fmt::format("v{}", next_value++);
    const std::string& type = op.type;
    const std::string& scope = r.scope;
    if (type == "Reshape") {
      Shape s = op.output.shape();
      if (is_batched) {
        if (s.empty() || s[0] != op.inputs[0].size(0))
          export_fail(fmt::format("a reshape in '{}' mixes the batch dimension: {} -> {}", scope,
                                  shape_str(op.inputs[0].shape()), shape_str(s)));
        s[0] = 0;  // copy N
      }
      w.node("Reshape", scope, {in[0], w.ints(std::vector<std::int64_t>(s.begin(), s.end()))}, out);
    } else if (type == "Transpose") {
      const auto perm = attr<std::vector<std::int64_t>>(op, "perm");
      if (is_batched && perm[0] != 0) export_fail(fmt::format("a transpose in '{}' moves the batch dimension", scope));
      copy_attrs(w.node("Transpose", scope, in, out), op);
    } else if (type == "Slice") {
      const auto axes = attr<std::vector<std::int64_t>>(op, "axes");
      if (is_batched && axes[0] == 0) export_fail(fmt::format("a slice in '{}' cuts the batch dimension", scope));
      w.node("Slice", scope,
             {in[0], w.ints(attr<std::vector<std::int64_t>>(op, "starts")),
              w.ints(attr<std::vector<std::int64_t>>(op, "ends")), w.ints(axes),
              w.ints(attr<std::vector<std::int64_t>>(op, "steps"))},
             out);
    } else if (type == "Gemm") {
      if (op.inputs[0].dim() != 2)
        export_fail(fmt::format("linear in '{}' on a {}-D input", scope, op.inputs[0].dim()));
      copy_attrs(w.node("Gemm", scope, trimmed(in), out), op);
    } else if (type == "BatchNormalization") {
      const std::int64_t C = op.inputs[0].size(1);
      if (in[3].empty() || in[4].empty())
        export_fail(fmt::format("batch norm in '{}' without running statistics", scope));
      if (in[1].empty()) in[1] = w.constant(ones({C}, {.device = kCPU}));
      if (in[2].empty()) in[2] = w.constant(zeros({C}, {.device = kCPU}));
      copy_attrs(w.node("BatchNormalization", scope, in, out), op);
    } else if (type == "Clip") {
      const trace::Value *lo = find_attr(op, "min"), *hi = find_attr(op, "max");
      w.node("Clip", scope,
             trimmed({in[0], lo ? w.scalar(std::get<double>(*lo)) : "", hi ? w.scalar(std::get<double>(*hi)) : ""}),
             out);
    } else if (type == "Softmax" || type == "LogSoftmax") {
      const auto r_ = op.inputs[0].dim();
      std::int64_t axis = attr<std::int64_t>(op, "axis");
      if (axis < 0) axis += r_;
      if (w.opset() < 13 && axis != r_ - 1)
        export_fail(fmt::format("{} over axis {} of a {}-D tensor needs opset 13", type, axis, r_));
      set_attr(w.node(type, scope, in, out), "axis", axis);
    } else if (type == "AdaptiveAvgPool" || type == "AdaptiveMaxPool") {
      const auto os = attr<std::vector<std::int64_t>>(op, "output_size");
      const std::int64_t H = op.inputs[0].size(2), W = op.inputs[0].size(3);
      if (os[0] == 1 && os[1] == 1) {
        w.node(type == "AdaptiveAvgPool" ? "GlobalAveragePool" : "GlobalMaxPool", scope, in, out);
      } else if (H % os[0] == 0 && W % os[1] == 0) {
        auto* n = w.node(type == "AdaptiveAvgPool" ? "AveragePool" : "MaxPool", scope, in, out);
        set_attr(n, "kernel_shape", std::vector<std::int64_t>{H / os[0], W / os[1]});
        set_attr(n, "strides", std::vector<std::int64_t>{H / os[0], W / os[1]});
      } else {
        export_fail(
            fmt::format("adaptive pooling in '{}' from {}x{} to {}x{}: ONNX has no such op (the sizes must divide)",
                        scope, H, W, os[0], os[1]));
      }
    } else if (type == "MaxPool") {
      copy_attrs(w.node(type, scope, in, out), op, {"count_include_pad"});
    } else if (type == "Pad") {
      const auto fp = attr<std::vector<std::int64_t>>(op, "pads");
      const auto r_ = static_cast<std::size_t>(op.inputs[0].dim());
      std::vector<std::int64_t> p(2 * r_, 0);
      for (std::size_t k = 0; k < fp.size() / 2; ++k) {
        const std::size_t d = r_ - 1 - k;
        p[d] = fp[2 * k];
        p[d + r_] = fp[2 * k + 1];
      }
      if (std::any_of(p.begin(), p.end(), [](auto v) { return v < 0; }))
        export_fail(fmt::format("a negative (cropping) pad in '{}'", scope));
      w.node("Pad", scope, {in[0], w.ints(p), w.scalar(attr<double>(op, "value"))}, out);
    } else if (type == "Resize") {
      const std::string mode = attr<std::string>(op, "mode");
      const bool ac = attr<std::int64_t>(op, "align_corners") != 0;
      const auto sc = attr<std::vector<double>>(op, "scales");
      std::vector<std::string> rin{in[0], "", ""};
      if (sc[0] > 0) {
        rin[2] = w.floats({1.f, 1.f, static_cast<float>(sc[0]), static_cast<float>(sc[1])});
      } else {  // sizes (N, C, H', W') with N and C from the input at run time
        const std::string shape = w.temp(), nc = w.temp(), sizes = w.temp();
        w.node("Shape", scope, {in[0]}, shape);
        w.node("Slice", scope, {shape, w.ints({0}), w.ints({2})}, nc);
        set_attr(w.node("Concat", scope, {nc, w.ints(attr<std::vector<std::int64_t>>(op, "sizes"))}, sizes), "axis",
                 std::int64_t{0});
        rin.push_back(sizes);
      }
      if (w.opset() < 13 && rin[1].empty()) rin[1] = w.floats({});  // roi was required before 13
      auto* n = w.node("Resize", scope, rin, out);
      set_attr(n, "mode", mode);
      set_attr(n, "coordinate_transformation_mode",
               std::string(mode == "nearest" ? "asymmetric" : (ac ? "align_corners" : "pytorch_half_pixel")));
      set_attr(n, "nearest_mode", std::string("floor"));
    } else if (type == "Conv" || type == "ConvTranspose" || type == "AveragePool" || type == "LRN" ||
               type == "Concat" || type == "Add" || type == "Sub" || type == "Mul" || type == "Div" || type == "Relu" ||
               type == "LeakyRelu" || type == "Elu" || type == "Sigmoid" || type == "Tanh" || type == "HardSwish" ||
               type == "GlobalAveragePool" || type == "Identity") {
      if (type == "HardSwish" && w.opset() < 14) export_fail("HardSwish needs opset 14");
      copy_attrs(w.node(type, scope, trimmed(in), out), op);
    } else {
      export_fail(fmt::format("op '{}' in '{}' has no ONNX form in fovea's exporter", type, scope));
    }
    if (is_batched) batched.insert(op.output.impl());
    names[op.output.impl()] = out;
  }
  if (y.same(x)) w.node("Identity", "", {"input"}, "output");
  else if (!producer.count(y.impl())) export_fail("the output was not made by a traced op");

  auto value_info = [](pb::ValueInfoProto* v, const std::string& name, const Shape& s) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(pb::TensorProto::FLOAT);
    auto* shape = tt->mutable_shape();
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (i == 0) shape->add_dim()->set_dim_param("N");
      else shape->add_dim()->set_dim_value(s[i]);
    }
  };
  value_info(g.add_input(), "input", x.shape());
  value_info(g.add_output(), "output", y.shape());
  std::string bytes;
  if (!model.SerializeToString(&bytes)) export_fail("the model does not serialize (over 2 GiB?)");
  return bytes;
}

void save_model(nn::Module& m, const Shape& input, const std::string& path, const ExportOptions& o) {
  const std::string bytes = export_model(m, input, o);
  io::write_file_atomic(path, std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
}

}  // namespace fovea::onnx
