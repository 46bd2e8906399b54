// Parameter groups, zero_grad and the named-tensor state shared by every optimizer.
#include "fovea/optim/optimizer.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_set>

#include "fovea/autograd/grad_mode.h"

namespace fovea::optim {

namespace {

std::optional<std::size_t> parse_index(std::string_view s) {
  std::size_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

Tensor f64_scalar(double v) { return scalar_tensor(v, DType::f64); }

}  // namespace

Optimizer::Optimizer(std::string op, std::vector<ParamGroup> groups, const GroupDefaults& defaults)
    : op_(std::move(op)), groups_(std::move(groups)) {
  std::unordered_set<const TensorImpl*> seen;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    auto& group = groups_[g];
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      if (!p.defined()) fail(op_, "parameter {} of group {} is undefined", i, g);
      if (!is_floating(p.dtype()))
        fail(op_, "parameter {} of group {} is {}, expected a floating dtype", i, g, dtype_name(p.dtype()));
      if (!p.is_leaf())
        fail(op_, "parameter {} of group {} is not a leaf tensor (it has a history): optimize the tensor itself", i, g);
      if (!seen.insert(p.impl()).second) fail(op_, "parameter {} of group {} appears more than once", i, g);
    }
    if (group.lr < 0) group.lr = defaults.lr;
    if (group.weight_decay < 0) group.weight_decay = defaults.weight_decay;
    if (group.momentum < 0) group.momentum = defaults.momentum;
  }
  if (seen.empty()) fail(op_, "got an empty parameter list");
  state_.resize(groups_.size());
}

std::vector<ParamGroup> Optimizer::single_group(std::vector<Tensor> params) {
  std::vector<ParamGroup> groups(1);
  groups[0].params = std::move(params);
  return groups;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& group : groups_) {
    for (auto& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      // a gradient with its own history (create_graph) is replaced, not zeroed in place, as PyTorch does
      if (set_to_none) p.set_grad(Tensor{});
      else if (g.requires_grad()) p.set_grad(zeros_like(g));
      else g.zero_();
    }
  }
}

Optimizer::ParamState& Optimizer::state(std::size_t group, std::size_t index) {
  if (state_.size() < groups_.size()) state_.resize(groups_.size());
  auto& slots = state_[group];
  if (slots.size() <= index) slots.resize(std::max(index + 1, groups_[group].params.size()));
  return slots[index];
}

std::vector<std::vector<std::size_t>> Optimizer::grad_buckets(std::size_t group) const {
  const auto& params = groups_[group].params;
  std::vector<std::vector<std::size_t>> buckets;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (!p.grad().defined()) continue;
    auto it = std::find_if(buckets.begin(), buckets.end(), [&](const std::vector<std::size_t>& b) {
      return params[b.front()].device() == p.device() && params[b.front()].dtype() == p.dtype();
    });
    if (it == buckets.end()) buckets.push_back({i});
    else it->push_back(i);
  }
  return buckets;
}

Tensor Optimizer::Staging::read(const Tensor& t, DType dtype) { return t.to(dtype).contiguous(); }

Tensor Optimizer::Staging::update(const Tensor& t) {
  if (t.is_contiguous()) return t;
  copies_.emplace_back(t.contiguous(), t);
  return copies_.back().first;
}

void Optimizer::Staging::write_back() {
  for (const auto& [copy, original] : copies_) original.copy_(copy);
  copies_.clear();
}

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const auto& group = groups_[g];
    out.emplace_back(fmt::format("{}.lr", g), f64_scalar(group.lr));
    out.emplace_back(fmt::format("{}.initial_lr", g), f64_scalar(group.initial_lr));
    out.emplace_back(fmt::format("{}.weight_decay", g), f64_scalar(group.weight_decay));
    out.emplace_back(fmt::format("{}.momentum", g), f64_scalar(group.momentum));
    out.emplace_back(fmt::format("{}.size", g), scalar_tensor(static_cast<double>(group.params.size()), DType::i64));
    if (g >= state_.size()) continue;
    for (std::size_t i = 0; i < state_[g].size() && i < group.params.size(); ++i) {
      const auto& st = state_[g][i];
      if (st.empty()) continue;
      for (const auto& [slot, t] : st.buffers) out.emplace_back(fmt::format("{}.{}.{}", g, i, slot), t);
      if (counts_steps())
        out.emplace_back(fmt::format("{}.{}.step", g, i), scalar_tensor(static_cast<double>(st.step), DType::i64));
    }
  }
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
  static constexpr std::string_view kHyper[] = {"lr", "initial_lr", "weight_decay", "momentum", "size"};
  struct Incoming {
    std::map<std::string, Tensor> buffers;
    std::optional<std::int64_t> step;
  };
  const std::size_t n_groups = groups_.size();
  std::vector<std::map<std::string, double, std::less<>>> hyper(n_groups);
  std::vector<std::map<std::size_t, Incoming>> incoming(n_groups);
  std::set<std::string, std::less<>> names;

  // 1. parse and check every entry on its own
  for (const auto& [name, t] : state) {
    if (!names.insert(name).second) fail(op_, "state_dict: '{}' appears twice", name);
    if (!t.defined()) fail(op_, "state_dict: '{}' is an undefined tensor", name);
    auto parts = split_dots(name);
    auto g = parse_index(parts[0]);
    if (!g || parts.size() < 2 || parts.size() > 3) fail(op_, "state_dict: unexpected key '{}'", name);
    if (*g >= n_groups)
      fail(op_, "state_dict: '{}' names group {}, but the optimizer has {} group(s)", name, *g, n_groups);
    const auto& group = groups_[*g];
    if (parts.size() == 2) {
      if (std::find(std::begin(kHyper), std::end(kHyper), parts[1]) == std::end(kHyper))
        fail(op_, "state_dict: unexpected key '{}'", name);
      if (t.numel() != 1) fail(op_, "state_dict: '{}' must hold one value, got shape {}", name, shape_str(t.shape()));
      hyper[*g][std::string(parts[1])] = t.item();
      continue;
    }
    auto i = parse_index(parts[1]);
    if (!i) fail(op_, "state_dict: unexpected key '{}'", name);
    if (*i >= group.params.size())
      fail(op_, "state_dict: '{}' names parameter {} of group {}, which has {} parameter(s)", name, *i, *g,
           group.params.size());
    auto& in = incoming[*g][*i];
    if (parts[2] == "step") {
      if (!counts_steps()) fail(op_, "state_dict: unexpected key '{}' ({} keeps no step count)", name, op_);
      if (t.numel() != 1) fail(op_, "state_dict: '{}' must hold one value, got shape {}", name, shape_str(t.shape()));
      double v = t.item();
      if (!(v >= 1) || v != static_cast<double>(static_cast<std::int64_t>(v)))
        fail(op_, "state_dict: '{}' must be a positive whole number, got {}", name, v);
      in.step = static_cast<std::int64_t>(v);
      continue;
    }
    const Tensor& p = group.params[*i];
    if (t.shape() != p.shape())
      fail(op_, "state_dict: '{}' has shape {}, but parameter {} of group {} has shape {}", name, shape_str(t.shape()),
           *i, *g, shape_str(p.shape()));
    in.buffers.emplace(std::string(parts[2]), t);
  }

  // 2. every group complete, of the same size; every parameter with state has exactly its slots
  std::vector<ParamGroup> next = groups_;
  for (std::size_t g = 0; g < n_groups; ++g) {
    for (auto key : kHyper) {
      if (!hyper[g].contains(key))
        fail(op_, "state_dict: missing '{}.{}' (was it saved from an optimizer with fewer groups?)", g, key);
    }
    const double size = hyper[g].find("size")->second;
    if (size != static_cast<double>(groups_[g].params.size()))
      fail(op_, "state_dict: group {} has {} parameter(s), but the optimizer's group {} has {}", g, size, g,
           groups_[g].params.size());
    next[g].lr = hyper[g].find("lr")->second;
    next[g].initial_lr = hyper[g].find("initial_lr")->second;
    next[g].weight_decay = hyper[g].find("weight_decay")->second;
    next[g].momentum = hyper[g].find("momentum")->second;
    const auto slots = buffer_slots(next[g]);
    for (const auto& [i, in] : incoming[g]) {
      for (const auto& slot : slots) {
        if (!in.buffers.contains(slot)) fail(op_, "state_dict: missing '{}.{}.{}'", g, i, slot);
      }
      for (const auto& [slot, t] : in.buffers) {
        if (std::find(slots.begin(), slots.end(), slot) == slots.end())
          fail(op_, "state_dict: unexpected key '{}.{}.{}' ({} with these options keeps no '{}')", g, i, slot, op_,
               slot);
      }
      if (counts_steps() && !in.step) fail(op_, "state_dict: missing '{}.{}.step'", g, i);
    }
  }

  // 3. commit: copy into tensors of each parameter's dtype and device
  NoGradGuard no_grad;
  std::vector<std::vector<ParamState>> loaded(n_groups);
  for (std::size_t g = 0; g < n_groups; ++g) {
    loaded[g].resize(groups_[g].params.size());
    for (const auto& [i, in] : incoming[g]) {
      const Tensor& p = groups_[g].params[i];
      auto& st = loaded[g][i];
      st.step = in.step.value_or(0);
      for (const auto& [slot, t] : in.buffers) {
        Tensor b = zeros_like(p);
        b.copy_(t.to(p.dtype()).to(p.device()));
        st.buffers.emplace(slot, b);
      }
    }
  }
  for (std::size_t g = 0; g < n_groups; ++g) {
    groups_[g].lr = next[g].lr;
    groups_[g].initial_lr = next[g].initial_lr;
    groups_[g].weight_decay = next[g].weight_decay;
    groups_[g].momentum = next[g].momentum;
  }
  state_ = std::move(loaded);
}

}  // namespace fovea::optim
