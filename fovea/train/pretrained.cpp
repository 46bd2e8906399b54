// Reading and loading pretrained weights, new classifier heads (pretrained.h).
#include "fovea/train/pretrained.h"

#include <fmt/format.h>

#include "fovea/autograd/grad_mode.h"
#include "fovea/io/safetensors.h"
#include "fovea/io/torch_file.h"
#include "fovea/nn/nn.h"
#include "fovea/onnx/import.h"

namespace fovea::train {

namespace {

constexpr const char* kOp = "pretrained";

std::string list(const std::vector<std::string>& v, std::size_t at_most = 8) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < at_most; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > at_most) s += fmt::format(", ... ({} in all)", v.size());
  return s;
}

}  // namespace

namespace {

// The weights and where they were: a fovea checkpoint's "model." tensors (read_state_dict takes
// them), a torch checkpoint's nested state dict, "module." prefixes dropped, and of a state dict
// whose keys start with "model." those tensors
std::pair<NamedTensors, std::string> read_with_source(const std::string& path) {
  if (onnx::is_onnx_path(path)) return {onnx::load_model(path)->state_dict(), ""};
  io::StateDictFile f = io::read_state_dict(path);  // safetensors or torch.save
  bool checkpoint = false;
  for (auto& [k, t] : f.tensors) checkpoint |= k.rfind("model.", 0) == 0;
  if (f.fovea_checkpoint || !checkpoint) return {std::move(f.tensors), f.note()};
  NamedTensors out;
  for (auto& [k, t] : f.tensors)
    if (k.rfind("model.", 0) == 0) out.emplace_back(k.substr(6), t);
  const std::string note = f.note();
  return {out, note.empty() ? "the checkpoint's 'model.' tensors" : note + ", then its 'model.' tensors"};
}

}  // namespace

NamedTensors read_pretrained(const std::string& path) { return read_with_source(path).first; }

std::string PretrainedReport::str() const {
  std::string s = fmt::format("{} tensors loaded", loaded.size());
  if (!source.empty()) s += fmt::format(" (from {})", source);
  if (!mismatched.empty()) s += fmt::format("; left as initialised (other shape): {}", list(mismatched));
  if (!missing.empty()) s += fmt::format("; not in the file: {}", list(missing));
  if (!unused.empty()) s += fmt::format("; in the file only: {}", list(unused));
  if (!skipped.empty()) s += fmt::format("; new head, not loaded: {}", list(skipped));
  return s;
}

PretrainedReport load_pretrained(nn::Module& model, const std::string& path, const std::string& skip) {
  const auto [src, source] = read_with_source(path);
  PretrainedReport r;
  r.source = source;
  NoGradGuard ng;
  auto own = model.state_dict();
  for (auto& [name, t] : own) {
    if (!skip.empty() && name.rfind(skip + ".", 0) == 0) {
      r.skipped.push_back(name);
      continue;
    }
    const Tensor* from = nullptr;
    for (auto& [k, v] : src)
      if (k == name) from = &v;
    if (!from) {
      r.missing.push_back(name);
      continue;
    }
    if (from->shape() != t.shape()) {
      r.mismatched.push_back(fmt::format("{} {} vs {}", name, shape_str(from->shape()), shape_str(t.shape())));
      continue;
    }
    if (is_floating(t.dtype()) != is_floating(from->dtype()))
      fail(kOp, "{}: '{}' is {} in the file, {} in the model", path, name, dtype_name(from->dtype()),
           dtype_name(t.dtype()));
    t.detach().copy_(from->to(t.dtype()).to(t.device()));
    r.loaded.push_back(name);
  }
  for (auto& [k, v] : src) {
    bool known = false;
    for (auto& [name, t] : own) known |= name == k;
    if (!known) r.unused.push_back(k);
  }
  if (r.loaded.empty()) {
    if (!r.mismatched.empty())  // the names match: the networks differ in size (input channels, width, classes)
      fail(kOp, "{}: no tensor fits the model: the names match but every shape differs (file vs model: {}{})", path,
           r.mismatched.front(),
           r.mismatched.size() > 1 ? fmt::format(", and {} more", r.mismatched.size() - 1) : std::string());
    fail(kOp, "{}: no tensor matches the model by name (the file has '{}', the model '{}')", path,
         src.empty() ? "-" : src.front().first, own.empty() ? "-" : own.front().first);
  }
  return r;
}

std::string find_head(nn::Module& model) {
  std::string linear, conv1x1;
  for (auto& [name, m] : model.named_modules()) {
    if (dynamic_cast<nn::Linear*>(m)) linear = name;
    if (auto* c = dynamic_cast<nn::Conv2d*>(m); c && c->options().kernel == Pair{1, 1}) conv1x1 = name;
  }
  if (!linear.empty()) return linear;
  if (!conv1x1.empty()) return conv1x1;
  fail(kOp, "the model has no Linear layer or 1x1 convolution to use as its head; name it");
}

std::string new_head(nn::Module& model, const std::string& path, std::int64_t num_classes) {
  if (num_classes < 1) fail(kOp, "a head needs at least one class, got {}", num_classes);
  const std::string at = path == "auto" ? find_head(model) : path;
  nn::Module& old = model.submodule(at);
  nn::ModulePtr fresh;
  if (auto* l = dynamic_cast<nn::Linear*>(&old)) {
    auto o = l->options();
    o.out = num_classes;
    fresh = nn::make<nn::Linear>(o);
  } else if (auto* c = dynamic_cast<nn::Conv2d*>(&old)) {
    auto o = c->options();
    o.out = num_classes;
    fresh = nn::make<nn::Conv2d>(o);
  } else {
    fail(kOp, "'{}' is a {}, not a Linear layer or a convolution", at, old.type());
  }
  if (const auto p = old.parameters(); !p.empty()) fresh->to(p.front().device());
  model.replace_module(at, fresh);
  return at;
}

}  // namespace fovea::train
