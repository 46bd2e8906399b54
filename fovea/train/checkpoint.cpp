#include "fovea/train/checkpoint.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "fovea/core/generator.h"
#include "fovea/io/safetensors.h"

namespace fovea::train {

namespace {
constexpr const char* kFormat = "fovea-checkpoint-1";

void add_prefixed(NamedTensors& out, const char* prefix, const NamedTensors& in) {
  for (auto& [k, t] : in) out.emplace_back(std::string(prefix) + k, t);
}
}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer* opt,
                     const optim::LRScheduler* sched, const RunConfig& config, const RunState& state,
                     std::span<const GeneratorState> rank_rngs) {
  NamedTensors all;
  add_prefixed(all, "model.", model.state_dict());
  if (opt) add_prefixed(all, "optimizer.", opt->state_dict());
  if (sched) add_prefixed(all, "scheduler.", sched->state_dict());
  auto rs = default_generator().state();
  std::vector<std::int64_t> bits(4);
  std::memcpy(bits.data(), rs.data(), sizeof(rs));
  all.emplace_back("rng.default", from_vector(bits, {4}));
  if (!rank_rngs.empty()) {
    std::vector<std::int64_t> ranks(rank_rngs.size() * 4);
    std::memcpy(ranks.data(), rank_rngs.data(), rank_rngs.size() * sizeof(GeneratorState));
    all.emplace_back("rng.ranks", from_vector(ranks, {static_cast<std::int64_t>(rank_rngs.size()), 4}));
  }
  nlohmann::json st{{"epoch", state.epoch},
                    {"step_in_epoch", state.step_in_epoch},
                    {"global_step", state.global_step},
                    {"best_top1", state.best_top1},
                    {"epoch_loss_sum", state.epoch_loss_sum},
                    {"epoch_seen", state.epoch_seen},
                    {"epoch_correct", state.epoch_correct},
                    {"world_size", state.world_size}};
  io::save_safetensors(
      path, all, {{"format", kFormat}, {"config", config.to_json()}, {"state", st.dump()}, {"records", state.records}});
}

Checkpoint load_checkpoint(const std::string& path) {
  auto f = io::load_safetensors(path);
  auto meta = [&](const char* key) -> const std::string& {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end())
      fail("checkpoint", "{} is not a fovea checkpoint (no '{}' in its metadata); plain weights load with nn::load",
           path, key);
    return it->second;
  };
  if (meta("format") != kFormat) fail("checkpoint", "{}: unknown checkpoint format '{}'", path, meta("format"));
  Checkpoint c;
  c.config = RunConfig::from_json(meta("config"));
  if (auto it = f.metadata.find("records"); it != f.metadata.end()) {  // absent before crash-consistent runs
    if (!nlohmann::json::accept(it->second)) fail("checkpoint", "{}: its epoch records are not JSON", path);
    c.state.records = it->second;
  }

  try {
    auto st = nlohmann::json::parse(meta("state"));
    c.state.epoch = st.at("epoch").get<std::int64_t>();
    c.state.step_in_epoch = st.at("step_in_epoch").get<std::int64_t>();
    c.state.global_step = st.at("global_step").get<std::int64_t>();
    c.state.best_top1 = st.at("best_top1").get<double>();
    c.state.epoch_loss_sum = st.at("epoch_loss_sum").get<double>();
    c.state.epoch_seen = st.at("epoch_seen").get<std::int64_t>();
    c.state.epoch_correct = st.at("epoch_correct").get<std::int64_t>();
    c.state.world_size = st.value("world_size", std::int64_t{1});  // absent before distributed training
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint", "{}: bad progress record: {}", path, e.what());
  }
  for (auto& [k, t] : f.tensors) {
    auto take = [&k = k, &t = t](const char* prefix, NamedTensors& into) {
      const size_t n = std::strlen(prefix);
      if (k.compare(0, n, prefix) != 0) return false;
      into.emplace_back(k.substr(n), t);
      return true;
    };
    if (take("model.", c.model) || take("optimizer.", c.optimizer) || take("scheduler.", c.scheduler)) continue;
    if (k == "rng.default") {
      if (t.dtype() != DType::i64 || t.numel() != 4) fail("checkpoint", "{}: rng.default must be 4 i64 values", path);
      auto v = t.to_vector<std::int64_t>();
      std::array<std::uint64_t, 4> s{};
      std::memcpy(s.data(), v.data(), sizeof(s));
      c.rng = s;
      continue;
    }
    if (k == "rng.ranks") {
      if (t.dtype() != DType::i64 || t.dim() != 2 || t.size(1) != 4)
        fail("checkpoint", "{}: rng.ranks must be (ranks, 4) i64 values, got {}", path, shape_str(t.shape()));
      auto v = t.to_vector<std::int64_t>();
      c.rank_rngs.resize(static_cast<std::size_t>(t.size(0)));
      std::memcpy(c.rank_rngs.data(), v.data(), v.size() * sizeof(std::int64_t));
      continue;
    }
    fail("checkpoint", "{}: unexpected tensor '{}'", path, k);
  }
  if (c.model.empty()) fail("checkpoint", "{} holds no model weights", path);
  return c;
}

}  // namespace fovea::train
