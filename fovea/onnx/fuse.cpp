// Patterns of several ONNX nodes that are one fovea layer, so that their weights train:
// - Below opset 17, torch.onnx.export writes torch.nn.LayerNorm as
//     m = ReduceMean(x, last k axes); d = Sub(x, m); v = ReduceMean(Pow(d, 2), same axes);
//     y = Div(d, Sqrt(Add(v, eps))); y = Mul(y, weight) [; y = Add(y, bias)]
//   which becomes one LayerNormalization node (an nn::LayerNorm) when the weight is a constant of
//   the normalised shape and no other node reads the intermediates.
// - torch.nn.Linear on a 3-D or 4-D input is MatMul(x, W) then Add(bias): one MatMul node with
//   the bias as a third input (an nn::Linear with its bias).
#include <algorithm>

#include "fovea/onnx/detail.h"

namespace fovea::onnx::detail {

namespace {

class Matcher {
 public:
  Matcher(const Graph& graph, const std::vector<const pb::NodeProto*>& seq,
          const std::unordered_set<std::string>& graph_outputs)
      : graph_(graph), graph_outputs_(graph_outputs) {
    for (const auto* n : seq) {
      for (const auto& o : n->output()) producer_[o] = n;
      for (const auto& i : n->input()) ++readers_[i];
    }
  }

  // the node producing `value`, if it has op type `op`
  const pb::NodeProto* made_by(const std::string& value, const char* op) const {
    auto it = producer_.find(value);
    return it != producer_.end() && it->second->op_type() == op ? it->second : nullptr;
  }
  // `value` is read by exactly n nodes and is no graph output
  bool private_value(const std::string& value, int n) const {
    auto it = readers_.find(value);
    return it != readers_.end() && it->second == n && !graph_outputs_.count(value);
  }
  // a constant's value (initializer or Constant node, also through Identity nodes: torch shares
  // equal initializers that way), undefined when not constant
  Tensor constant(const std::string& value) const {
    if (graph_.has_constant(value)) return graph_.constant(value);  // initializers, already read
    if (const auto* c = made_by(value, "Constant"))
      for (const auto& a : c->attribute())
        if (a.name() == "value" && a.has_t()) return to_tensor(a.t(), value);
    if (const auto* id = made_by(value, "Identity"); id && id->input_size() == 1) return constant(id->input(0));
    return {};
  }
  std::optional<double> scalar(const std::string& value) const {
    Tensor t = constant(value);
    if (!t.defined() || t.numel() != 1) return std::nullopt;
    return to_doubles(t)[0];
  }
  // ReduceMean over the last k axes (negative, contiguous, ending at -1), keepdims; k or 0
  int reduce_last_axes(const pb::NodeProto& n, std::int64_t opset) const {
    Attrs a(n);
    if (a.i("keepdims", 1) != 1) return 0;
    std::vector<std::int64_t> axes;
    if (opset < 18) axes = a.ints("axes");
    else if (n.input_size() > 1) axes = to_ints(constant(n.input(1)));
    if (axes.empty()) return 0;
    std::sort(axes.begin(), axes.end());
    for (std::size_t i = 0; i < axes.size(); ++i)
      if (axes[i] != -static_cast<std::int64_t>(axes.size() - i)) return 0;
    return static_cast<int>(axes.size());
  }
  // the node's other input when one of its two inputs is `value`
  static std::string other_input(const pb::NodeProto& n, const std::string& value) {
    if (n.input_size() != 2) return "";
    if (n.input(0) == value) return n.input(1);
    if (n.input(1) == value) return n.input(0);
    return "";
  }
  // the only node reading `value`
  const pb::NodeProto* sole_reader(const std::string& value, const std::vector<const pb::NodeProto*>& seq) const {
    if (!private_value(value, 1)) return nullptr;
    for (const auto* n : seq)
      for (const auto& i : n->input())
        if (i == value) return n;
    return nullptr;
  }

 private:
  const Graph& graph_;
  const std::unordered_set<std::string>& graph_outputs_;
  std::unordered_map<std::string, const pb::NodeProto*> producer_;
  std::unordered_map<std::string, int> readers_;
};

}  // namespace

void fuse_patterns(const pb::GraphProto& g, const Graph& graph, std::int64_t opset,
                   std::vector<const pb::NodeProto*>& seq, std::deque<pb::NodeProto>& synthetic) {
  std::unordered_set<std::string> outputs;
  for (const auto& o : g.output()) outputs.insert(o.name());
  const Matcher m(graph, seq, outputs);
  std::unordered_set<const pb::NodeProto*> removed;
  std::unordered_map<const pb::NodeProto*, const pb::NodeProto*> replaced;  // last node -> fused node
  for (const auto* mean1 : seq) {
    if (mean1->op_type() != "ReduceMean" || removed.count(mean1)) continue;
    const int k = m.reduce_last_axes(*mean1, opset);
    if (k == 0) continue;
    const std::string x = mean1->input(0);
    const auto* sub = m.sole_reader(mean1->output(0), seq);
    if (!sub || sub->op_type() != "Sub" || sub->input(0) != x || sub->input(1) != mean1->output(0)) continue;
    const std::string d = sub->output(0);
    if (!m.private_value(d, 2)) continue;
    const pb::NodeProto *pow = nullptr, *div = nullptr;
    for (const auto* n : seq) {
      if (n->op_type() == "Pow" && n->input_size() == 2 && n->input(0) == d) pow = n;
      if (n->op_type() == "Div" && n->input_size() == 2 && n->input(0) == d) div = n;
    }
    if (!pow || !div || m.scalar(pow->input(1)) != 2.0) continue;
    const auto* mean2 = m.sole_reader(pow->output(0), seq);
    if (!mean2 || mean2->op_type() != "ReduceMean" || m.reduce_last_axes(*mean2, opset) != k) continue;
    const auto* add = m.sole_reader(mean2->output(0), seq);
    if (!add || add->op_type() != "Add") continue;
    const auto eps = m.scalar(Matcher::other_input(*add, mean2->output(0)));
    const auto* sqrt = m.sole_reader(add->output(0), seq);
    if (!eps || !sqrt || sqrt->op_type() != "Sqrt" || !m.private_value(sqrt->output(0), 1) ||
        div->input(1) != sqrt->output(0))
      continue;
    // the affine part: Mul by a constant weight of k dims, then optionally Add a constant bias
    const auto* mul = m.sole_reader(div->output(0), seq);
    if (!mul || mul->op_type() != "Mul") continue;
    const std::string w = Matcher::other_input(*mul, div->output(0));
    const Tensor wt = m.constant(w);
    if (!wt.defined() || wt.dim() != k) continue;
    const pb::NodeProto* last = mul;
    std::string bias;
    if (const auto* badd = m.sole_reader(mul->output(0), seq); badd && badd->op_type() == "Add") {
      const std::string b = Matcher::other_input(*badd, mul->output(0));
      const Tensor bt = m.constant(b);
      if (bt.defined() && bt.shape() == wt.shape()) {
        bias = b;
        last = badd;
      }
    }
    pb::NodeProto& ln = synthetic.emplace_back();
    // named after the layer's scope: "/norm/ReduceMean" -> "/norm/LayerNormalization"
    std::string name = mean1->name();
    if (const auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(0, slash + 1);
    ln.set_name(name.empty() ? "" : name + "LayerNormalization");
    ln.set_op_type("LayerNormalization");
    ln.add_input(x);
    ln.add_input(w);
    if (!bias.empty()) ln.add_input(bias);
    ln.add_output(last->output(0));
    auto* axis = ln.add_attribute();
    axis->set_name("axis");
    axis->set_type(pb::AttributeProto::INT);
    axis->set_i(-k);
    auto* e = ln.add_attribute();
    e->set_name("epsilon");
    e->set_type(pb::AttributeProto::FLOAT);
    e->set_f(static_cast<float>(*eps));
    for (const auto* n : {mean1, sub, pow, mean2, add, sqrt, div, mul}) removed.insert(n);
    removed.insert(last);
    replaced[last] = &ln;
  }
  // MatMul(x, constant 2-D W) read only by Add(., constant bias of W's columns)
  for (const auto* mm : seq) {
    if (mm->op_type() != "MatMul" || removed.count(mm) || mm->input_size() != 2) continue;
    const Tensor w = m.constant(mm->input(1));
    if (!w.defined() || w.dim() != 2 || m.constant(mm->input(0)).defined()) continue;
    const auto* add = m.sole_reader(mm->output(0), seq);
    if (!add || add->op_type() != "Add" || removed.count(add)) continue;
    const std::string b = Matcher::other_input(*add, mm->output(0));
    const Tensor bt = m.constant(b);
    if (!bt.defined() || bt.numel() != w.size(1) || bt.dim() != 1) continue;
    pb::NodeProto& lin = synthetic.emplace_back(*mm);
    lin.add_input(b);
    lin.set_output(0, add->output(0));
    removed.insert(mm);
    removed.insert(add);
    replaced[add] = &lin;
  }
  if (removed.empty()) return;
  std::vector<const pb::NodeProto*> out;
  for (const auto* n : seq) {
    if (auto it = replaced.find(n); it != replaced.end()) out.push_back(it->second);
    else if (!removed.count(n)) out.push_back(n);
  }
  seq = std::move(out);
}

}  // namespace fovea::onnx::detail
