#include "fovea/onnx/graph.h"

#include <cctype>
#include <unordered_set>

namespace fovea::onnx {

Device common_device(const std::vector<Tensor>& xs) {
  for (const auto& x : xs)
    if (x.defined() && x.device() != kCPU) return x.device();
  return kCPU;
}

void Graph::set_io(std::vector<std::string> inputs, std::vector<std::string> outputs,
                   std::vector<std::optional<DType>> input_types) {
  inputs_ = std::move(inputs);
  outputs_ = std::move(outputs);
  input_types_ = std::move(input_types);
}

void Graph::add_constant(const std::string& value, const Tensor& t) { constants_[value] = t; }

void Graph::finish() {
  std::unordered_set<std::string> read(outputs_.begin(), outputs_.end());
  for (const auto& s : steps_) read.insert(s.inputs.begin(), s.inputs.end());
  std::unordered_set<std::string> taken;
  for (auto it = constants_.begin(); it != constants_.end();) {
    if (!read.count(it->first)) {
      it = constants_.erase(it);  // folded into layers or other constants
      continue;
    }
    if (is_floating(it->second.dtype())) {
      const std::string base = "const_" + sanitize_name(it->first);
      std::string name = base;
      for (int k = 2; taken.count(name); ++k) name = fmt::format("{}_{}", base, k);
      taken.insert(name);
      register_buffer(name, it->second);
    }
    ++it;
  }
}

void Graph::add_step(Step s) {
  for (const auto& in : s.inputs)
    if (!in.empty()) last_use_[in] = steps_.size();
  steps_.push_back(std::move(s));
}

std::string sanitize_name(const std::string& name) {
  std::string n;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) n += c;
    else if (!n.empty() && n.back() != '_') n += '_';
  }
  while (!n.empty() && n.back() == '_') n.pop_back();
  return n;
}

std::string Graph::child_name(const std::string& node_name, const std::string& op_type, std::size_t index) const {
  std::string n = sanitize_name(node_name);
  if (n.empty()) n = fmt::format("{}_{}", op_type, index);
  if (!child(n)) return n;
  for (int k = 2;; ++k)
    if (auto c = fmt::format("{}_{}", n, k); !child(c)) return c;
}

Tensor Graph::forward(const Tensor& x) {
  if (inputs_.size() != 1) fail("onnx", "the graph has {} inputs; call run() with all of them", inputs_.size());
  return run({x}).at(0);
}

std::vector<Tensor> Graph::run(const std::vector<Tensor>& inputs) {
  if (inputs.size() != inputs_.size())
    fail("onnx", "the graph takes {} input(s), got {}", inputs_.size(), inputs.size());
  std::unordered_map<std::string, Tensor> values;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& want = i < input_types_.size() ? input_types_[i] : std::nullopt;
    if (want && inputs[i].defined() && inputs[i].dtype() != *want)
      fail("onnx", "input '{}' is declared {} in the file, got a {} tensor (convert it first: x.to(DType::{}))",
           inputs_[i], dtype_name(*want), dtype_name(inputs[i].dtype()), dtype_name(*want));
    values[inputs_[i]] = inputs[i];
  }
  const std::unordered_set<std::string> keep(outputs_.begin(), outputs_.end());
  auto get = [&](const Step& s, const std::string& name) -> Tensor {
    if (name.empty()) return {};
    if (auto it = values.find(name); it != values.end()) return it->second;
    if (auto it = constants_.find(name); it != constants_.end()) return it->second;
    fail("onnx", "node '{}' ({}): value '{}' is not defined", s.node, s.op_type, name);
  };
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    std::vector<Tensor> in;
    in.reserve(s.inputs.size());
    for (const auto& name : s.inputs) in.push_back(get(s, name));
    nn::Module* m = nullptr;
    if (!s.module.empty()) {
      auto c = child(s.module);
      if (!c) fail("onnx", "node '{}' ({}): the graph has no layer named '{}'", s.node, s.op_type, s.module);
      m = c.get();
    }
    std::vector<Tensor> out;
    try {
      out = s.fn ? s.fn(m, in) : std::vector<Tensor>{(*m)(in.at(0))};
    } catch (const Error& e) {
      throw Error(fmt::format("[onnx] node '{}' ({}): {}", s.node, s.op_type, e.what()));
    }
    for (std::size_t k = 0; k < s.outputs.size() && k < out.size(); ++k)
      if (!s.outputs[k].empty()) values[s.outputs[k]] = std::move(out[k]);
    // drop values no later step reads
    for (const auto& name : s.inputs) {
      auto it = last_use_.find(name);
      if (it != last_use_.end() && it->second == i && !keep.count(name)) values.erase(name);
    }
  }
  std::vector<Tensor> out;
  for (const auto& name : outputs_) {
    if (auto it = values.find(name); it != values.end()) out.push_back(it->second);
    else if (auto c = constants_.find(name); c != constants_.end()) out.push_back(c->second);
    else fail("onnx", "graph output '{}' was not computed", name);
  }
  return out;
}

}  // namespace fovea::onnx
