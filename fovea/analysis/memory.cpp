#include "fovea/analysis/memory.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "fovea/analysis/table.h"
#include "fovea/autograd/grad_mode.h"
#include "fovea/backend/meta_memory.h"
#include "fovea/ops/ops.h"

namespace fovea::analysis {

using detail::mb;

namespace {

// Tags of what no layer allocates (layers are tagged by their row, >= 0).
constexpr int kOutside = -1;    // the batch, the loss, ops between modules at the top
constexpr int kBackward = -2;   // gradients and backward's temporaries
constexpr int kOptimizer = -3;  // the optimizer's state and temporaries

std::int64_t bytes_of(const Tensor& t) { return t.numel() * static_cast<std::int64_t>(dtype_size(t.dtype())); }

// Restores the module's training mode and drops the gradients the simulated steps left.
struct Restore {
  nn::Module& m;
  bool was_training = m.is_training();
  ~Restore() {
    m.train(was_training);
    for (auto& p : m.parameters()) p.set_grad(Tensor{});
  }
};

}  // namespace

MemoryEstimate estimate_memory(nn::Module& m, const Shape& chw, const MemoryOptions& o) {
  if (chw.size() != 3 || chw[0] < 1 || chw[1] < 1 || chw[2] < 1)
    fail("summary", "expected an input size C x H x W, got {}", shape_str(chw));
  if (o.batch < 1) fail("summary", "the batch size must be at least 1, got {}", o.batch);
  for (const auto& [name, p] : m.named_parameters())
    if (!p.is_meta())
      fail("summary", "the memory estimate runs the network on the meta device, but {} is on {}", name,
           p.device().str());

  MemoryEstimate e{.input = chw, .batch = o.batch};
  const auto modules = m.named_modules();
  std::unordered_map<const nn::Module*, int> row_of;
  for (const auto& [name, mod] : modules) {
    LayerMemory r{.name = name, .type = mod->type(), .leaf = mod->named_children().empty()};
    r.depth = name.empty() ? 0 : 1 + static_cast<int>(std::count(name.begin(), name.end(), '.'));
    std::unordered_set<const Storage*> seen;  // a tensor registered twice (an imported graph's constant) counts once
    for (const auto& p : mod->parameters()) {
      if (seen.insert(p.storage().get()).second) r.params += bytes_of(p);
      if (p.requires_grad()) r.grads += bytes_of(p);
    }
    for (const auto& [bn, b] : mod->named_buffers())
      if (seen.insert(b.storage().get()).second) r.params += bytes_of(b);
    row_of.emplace(mod, static_cast<int>(e.rows.size()));
    e.rows.push_back(r);
  }
  e.params = e.rows.front().params;

  Restore restore{m};
  backend::MetaMemoryTrace trace;
  std::vector<int> stack;  // rows of the modules running, innermost last
  nn::ScopedHooks hooks;
  for (const auto& [name, mod] : modules) {
    const int row = row_of.at(mod);
    hooks.pre(*mod, [&, row](nn::Module&, const Tensor&) {
      stack.push_back(row);
      trace.set_tag(row);
      return Tensor();
    });
    hooks.post(*mod, [&, row](nn::Module&, const Tensor&, const Tensor& out) {
      stack.pop_back();
      trace.set_tag(stack.empty() ? kOutside : stack.back());
      if (e.rows[static_cast<size_t>(row)].output.empty()) e.rows[static_cast<size_t>(row)].output = out.shape();
      return Tensor();
    });
  }

  // Two steps as the trainer runs them (zero_grad, forward, loss, backward, update): the second
  // starts with the optimizer's state alive.
  m.train();
  auto opt = o.optimizer ? o.optimizer(m.trainable_parameters()) : nullptr;
  if (opt) e.optimizer = opt->name();
  std::map<int, std::int64_t> at_forward_end;
  for (int step = 0; step < 2; ++step) {
    if (opt) opt->zero_grad();
    else
      for (auto& p : m.parameters()) p.set_grad(Tensor{});
    trace.set_tag(kOutside);
    Tensor x = empty({o.batch, chw[0], chw[1], chw[2]}, {.device = kMeta});
    Tensor y = empty({o.batch}, {.dtype = DType::i64, .device = kMeta});
    e.batch_bytes = bytes_of(x) + bytes_of(y);
    Tensor logits = m(x);
    Tensor loss = o.loss ? o.loss(m, logits, y) : cross_entropy(logits, y);
    if (step == 1) at_forward_end = trace.live_bytes_by_tag();
    trace.set_tag(kBackward);
    if (loss.requires_grad()) loss.backward();
    trace.set_tag(kOptimizer);
    if (opt) opt->step();
  }
  e.peak = e.params + trace.peak_bytes();
  for (const auto& [tag, bytes] : trace.peak_bytes_by_tag())
    (tag == kBackward ? e.peak_gradients : tag == kOptimizer ? e.peak_optimizer : e.peak_activations) += bytes;
  e.peak_phase = trace.peak_tag() == kBackward ? "backward" : trace.peak_tag() == kOptimizer ? "update" : "forward";
  const auto after = trace.live_bytes_by_tag();
  for (const auto& p : m.parameters())
    if (p.grad().defined()) e.grads += bytes_of(p.grad());
  e.optimizer_state = after.contains(kOptimizer) ? after.at(kOptimizer) : 0;

  // what each module's own forward left alive, then summed up the tree (rows are pre-order)
  for (const auto& [tag, bytes] : at_forward_end)
    if (tag >= 0) e.rows[static_cast<size_t>(tag)].saved += bytes;
  for (size_t i = e.rows.size(); i-- > 1;) {
    size_t parent = i;
    while (e.rows[--parent].depth >= e.rows[i].depth) {
    }
    e.rows[parent].saved += e.rows[i].saved;
  }
  e.saved = e.rows.front().saved + (at_forward_end.contains(kOutside) ? at_forward_end.at(kOutside) : 0);
  const double state_per_grad_byte =
      e.rows.front().grads > 0 ? static_cast<double>(e.optimizer_state) / static_cast<double>(e.rows.front().grads) : 0;
  for (auto& r : e.rows) r.optimizer = static_cast<std::int64_t>(static_cast<double>(r.grads) * state_per_grad_byte);

  {
    NoGradGuard ng;
    nn::EvalGuard eval(m);
    trace.set_tag(kOutside);
    trace.reset_peak();
    const std::int64_t before = trace.live_bytes();
    Tensor x = empty({o.batch, chw[0], chw[1], chw[2]}, {.device = kMeta});
    m(x);
    e.inference_peak = e.params + trace.peak_bytes() - before;
  }
  return e;
}

std::string format_memory(const MemoryEstimate& e, Format f, int max_depth) {
  auto shown = [&](const LayerMemory& r) { return r.depth > 0 && (max_depth < 0 || r.depth <= max_depth); };
  if (f == Format::json) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& r : e.rows)
      if (shown(r))
        rows.push_back({{"name", r.name},
                        {"type", r.type},
                        {"depth", r.depth},
                        {"output", r.output},
                        {"saved_bytes", r.saved},
                        {"param_bytes", r.params},
                        {"grad_bytes", r.grads},
                        {"optimizer_bytes", r.optimizer}});
    return nlohmann::ordered_json{{"input", e.input},
                                  {"batch", e.batch},
                                  {"optimizer", e.optimizer},
                                  {"layers", rows},
                                  {"param_bytes", e.params},
                                  {"grad_bytes", e.grads},
                                  {"optimizer_bytes", e.optimizer_state},
                                  {"saved_bytes", e.saved},
                                  {"batch_bytes", e.batch_bytes},
                                  {"training_peak_bytes", e.peak},
                                  {"training_peak",
                                   {{"phase", e.peak_phase},
                                    {"activation_bytes", e.peak_activations},
                                    {"gradient_bytes", e.peak_gradients},
                                    {"optimizer_bytes", e.peak_optimizer}}},
                                  {"inference_peak_bytes", e.inference_peak}}
               .dump(2) +
           "\n";
  }
  std::vector<detail::Column> cols{{"Layer", false}, {"Type", false}, {"Output", false},  {"Saved for backward", true},
                                   {"Params", true}, {"Grads", true}, {"Optimizer", true}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : e.rows)
    if (shown(r)) {
      std::string indent = f == Format::table ? std::string(2 * static_cast<size_t>(r.depth - 1), ' ') : "";
      auto cell = [](std::int64_t b) { return b > 0 ? mb(b) : std::string("-"); };
      rows.push_back({indent + r.name, r.type, detail::shape_text(r.output), cell(r.saved), cell(r.params),
                      cell(r.grads), cell(r.optimizer)});
    }
  std::string t = detail::render(cols, rows, f) + (f == Format::markdown ? "\n" : "");
  t += fmt::format("Training step, batch {} of {}x{}x{}, optimizer {}:\n", e.batch, e.input[0], e.input[1], e.input[2],
                   e.optimizer.empty() ? "none" : e.optimizer);
  t += fmt::format("  Parameters and buffers: {:>12}\n", mb(e.params));
  t += fmt::format("  Gradients:              {:>12}\n", mb(e.grads));
  t += fmt::format("  Optimizer state:        {:>12}\n", mb(e.optimizer_state));
  t += fmt::format("  Saved for backward:     {:>12}  (the batch's {} included)\n", mb(e.saved), mb(e.batch_bytes));
  t += fmt::format(
      "  Estimated peak:         {:>12}  in the {} pass: parameters {}, optimizer {}, activations {}, "
      "gradients and backward's temporaries {}\n",
      mb(e.peak), e.peak_phase, mb(e.params), mb(e.peak_optimizer), mb(e.peak_activations), mb(e.peak_gradients));
  t += fmt::format("Inference (eval, no gradients), batch {}: estimated peak {}\n", e.batch, mb(e.inference_peak));
  t += "Tensors only: a training process holds more (the program and oneDNN's generated code, the allocator's free "
       "blocks, the kernels' scratch space, the data loader's batches): 75 to 140 MB more for the zoo's rows of "
       "bench/models.py\n";
  return t;
}

}  // namespace fovea::analysis
