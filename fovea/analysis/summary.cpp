#include "fovea/analysis/summary.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "fovea/analysis/table.h"
#include "fovea/autograd/grad_mode.h"
#include "fovea/nn/nn.h"
#include "fovea/ops/ops.h"

namespace fovea::analysis {

namespace {

// One layer of kernel k, stride s, padding p_begin, dilation d (Araujo et al., eq. 1-3, run
// forwards): rf += (k' - 1) jump, start += ((k' - 1) / 2 - p) jump, jump *= s, k' = d (k - 1) + 1.
Axis through(const Axis& a, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d) {
  const double keff = static_cast<double>(d * (k - 1) + 1);
  return {a.rf + (keff - 1) * a.jump, a.jump * static_cast<double>(s),
          a.start + ((keff - 1) / 2 - static_cast<double>(p)) * a.jump};
}

Geometry whole_input(const Shape& chw) {
  Geometry g;
  g.global = true;
  g.h = {static_cast<double>(chw[1]), 0, (static_cast<double>(chw[1]) - 1) / 2};
  g.w = {static_cast<double>(chw[2]), 0, (static_cast<double>(chw[2]) - 1) / 2};
  return g;
}

// Upsampling by factor f (output / input size): units get closer (jump / f). Nearest takes one
// input unit per output, bilinear two (rf + jump); with half-pixel centres (align_corners false)
// the first output's centre moves by (1/f - 1)/2 input units.
Axis upsampled(const Axis& a, double f, bool two_taps, bool half_pixel) {
  return {a.rf + (two_taps ? a.jump : 0), a.jump / f, a.start + (half_pixel ? (1 / f - 1) / 2 * a.jump : 0)};
}

// A transposed convolution of stride s spreads each input over d(k-1)+1 outputs; an output
// draws on at most ceil(d(k-1)/s)+1 inputs. The field is that upper bound (fields of decoders
// are not what Araujo et al. define; docs/analysis.md).
Axis transposed(const Axis& a, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d) {
  const double span = std::ceil(static_cast<double>(d * (k - 1)) / static_cast<double>(s));
  const double first = (static_cast<double>(p) - static_cast<double>(d * (k - 1)) / 2) / static_cast<double>(s);
  return {a.rf + span * a.jump, a.jump / static_cast<double>(s), a.start + first * a.jump};
}

Geometry leaf_geometry(nn::Module& m, const Geometry& in, const Tensor& input, const Tensor& output, const Shape& chw) {
  if (in.global) return in;
  const double fh = static_cast<double>(output.size(-2)) / static_cast<double>(input.size(-2));
  const double fw = static_cast<double>(output.size(-1)) / static_cast<double>(input.size(-1));
  if (auto* u = dynamic_cast<nn::Upsample*>(&m)) {
    const bool bilinear = u->options().mode == UpsampleMode::bilinear, half = !u->options().align_corners;
    return {upsampled(in.h, fh, bilinear, half), upsampled(in.w, fw, bilinear, half), false};
  }
  if (auto* t = dynamic_cast<nn::ConvTranspose2d*>(&m)) {
    const auto& o = t->options();
    return {transposed(in.h, o.kernel.h, o.stride.h, o.padding.h, o.dilation.h),
            transposed(in.w, o.kernel.w, o.stride.w, o.padding.w, o.dilation.w), false};
  }
  if (dynamic_cast<nn::AdaptiveAvgPool2d*>(&m) || dynamic_cast<nn::AdaptiveMaxPool2d*>(&m)) {
    if (output.size(-2) == 1 && output.size(-1) == 1) return whole_input(chw);
    // windows of about ceil(in / out) every floor(in / out)
    auto axis = [](const Axis& a, std::int64_t n, std::int64_t o) {
      return through(a, (n + o - 1) / o, std::max<std::int64_t>(n / o, 1), 0, 1);
    };
    return {axis(in.h, input.size(-2), output.size(-2)), axis(in.w, input.size(-1), output.size(-1)), false};
  }
  if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) {
    const auto& o = c->options();
    auto pad = resolve_padding(o.padding, {input.size(2), input.size(3)}, o.kernel, o.stride, o.dilation, "summary");
    return {through(in.h, o.kernel.h, o.stride.h, pad[0], o.dilation.h),
            through(in.w, o.kernel.w, o.stride.w, pad[2], o.dilation.w), false};
  }
  const Pool2dOptions* po = nullptr;
  if (auto* p = dynamic_cast<nn::MaxPool2d*>(&m)) po = &p->options();
  if (auto* p = dynamic_cast<nn::AvgPool2d*>(&m)) po = &p->options();
  if (po) {
    const Pair s = (po->stride.h == 0 && po->stride.w == 0) ? po->kernel : po->stride;
    return {through(in.h, po->kernel.h, s.h, po->padding.h, 1), through(in.w, po->kernel.w, s.w, po->padding.w, 1),
            false};
  }
  if (dynamic_cast<nn::Flatten*>(&m) || dynamic_cast<nn::Linear*>(&m)) return whole_input(chw);
  if (auto w = m.window())
    return {through(in.h, w->kernel.h, w->stride.h, w->padding.h, w->dilation.h),
            through(in.w, w->kernel.w, w->stride.w, w->padding.w, w->dilation.w), false};
  return in;  // elementwise and normalisation layers keep the geometry
}

std::int64_t leaf_macs(nn::Module& m, const Tensor& in, const Tensor& out) {
  if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) {
    const auto& o = c->options();
    return out.numel() * (o.in / o.groups) * o.kernel.h * o.kernel.w;
  }
  if (auto* l = dynamic_cast<nn::Linear*>(&m)) return out.numel() * l->options().in;
  if (auto* t = dynamic_cast<nn::ConvTranspose2d*>(&m)) {
    const auto& o = t->options();
    return in.numel() * (o.out / o.groups) * o.kernel.h * o.kernel.w;  // every input meets every tap
  }
  return 0;
}

// The spatial extent of a layer's window (dilated kernel), {0, 0} for layers without one.
Pair window_extent(nn::Module& m) {
  auto dilated = [](Pair k, Pair d) { return Pair{d.h * (k.h - 1) + 1, d.w * (k.w - 1) + 1}; };
  if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) return dilated(c->options().kernel, c->options().dilation);
  if (auto* p = dynamic_cast<nn::MaxPool2d*>(&m)) return p->options().kernel;
  if (auto* p = dynamic_cast<nn::AvgPool2d*>(&m)) return p->options().kernel;
  if (auto w = m.window()) return dilated(w->kernel, w->dilation);
  return {0, 0};
}

constexpr std::size_t kMaxWarnings = 3;

struct Frame {
  std::size_t row;
  Geometry in;
  std::vector<Geometry> children;  // the geometries of the outputs of this call's direct children
};

}  // namespace

Summary summarize(nn::Module& m, const Shape& chw) {
  if (chw.size() != 3 || chw[0] < 1 || chw[1] < 1 || chw[2] < 1)
    fail("summary", "expected an input size C x H x W, got {}", shape_str(chw));
  Summary s;
  s.input = chw;
  const auto params = m.parameters();
  const Device dev = params.empty() ? kMeta : params[0].device();
  NoGradGuard ng;
  nn::EvalGuard eval_mode(m);

  std::unordered_map<const TensorImpl*, Geometry> geo;
  std::vector<Tensor> keep;  // every tensor in `geo` stays alive, so no new tensor reuses its address
  Geometry last;             // the most recent geometry: inputs made by functional ops between modules inherit it
  std::vector<Frame> stack;
  std::size_t too_small = 0;  // layers whose window exceeds their input
  nn::ScopedHooks handles;
  for (auto& [name, mod] : m.named_modules()) {
    const std::string nm = name;
    const int depth = nm.empty() ? 0 : 1 + static_cast<int>(std::count(nm.begin(), nm.end(), '.'));
    const bool leaf = mod->named_children().empty();
    handles.pre(*mod, [&, nm, depth, leaf](nn::Module& self, const Tensor& in) {
      LayerRow r{.name = nm, .type = self.type(), .depth = depth, .leaf = leaf};
      r.params = self.num_parameters();
      r.trainable = self.num_parameters(true);
      s.rows.push_back(r);
      auto it = geo.find(in.impl());
      stack.push_back({s.rows.size() - 1, it != geo.end() ? it->second : last, {}});
      return Tensor();
    });
    handles.post(*mod, [&, leaf](nn::Module& self, const Tensor& in, const Tensor& out) {
      Frame f = std::move(stack.back());
      stack.pop_back();
      LayerRow& r = s.rows[f.row];
      r.output = out.shape();
      r.activation_bytes = out.numel() * static_cast<std::int64_t>(dtype_size(out.dtype()));
      Geometry g;
      if (leaf) {
        g = leaf_geometry(self, f.in, in, out, chw);
        r.macs = leaf_macs(self, in, out);
        const Pair k = window_extent(self);
        if (in.dim() == 4 && (k.h > in.size(2) || k.w > in.size(3))) {
          ++too_small;
          if (s.warnings.size() < kMaxWarnings)
            s.warnings.push_back(fmt::format("{} ({}, {}x{} window) gets {}x{} maps: most of each window is padding",
                                             r.name, r.type, k.h, k.w, in.size(2), in.size(3)));
        }
      } else if (auto it = geo.find(out.impl()); it != geo.end()) {
        g = it->second;  // the output of its last child (Sequential)
      } else if (!f.children.empty()) {
        // a merge of paths (residual addition, concatenation): the largest receptive field
        g = *std::max_element(f.children.begin(), f.children.end(),
                              [](const Geometry& a, const Geometry& b) { return a.h.rf * a.w.rf < b.h.rf * b.w.rf; });
      } else {
        g = f.in;
      }
      r.geometry = g;
      geo[out.impl()] = g;
      keep.push_back(out);
      last = g;
      if (!stack.empty()) stack.back().children.push_back(g);
      return Tensor();
    });
  }

  Tensor x = dev.type == DeviceType::meta ? empty({1, chw[0], chw[1], chw[2]}, {.device = kMeta})
                                          : zeros({1, chw[0], chw[1], chw[2]}, {.device = dev});
  geo[x.impl()] = Geometry{};
  try {
    m(x);
  } catch (const Error& e) {
    if (stack.empty()) throw;
    const LayerRow& r = s.rows[stack.back().row];  // the innermost module that had started
    fail("summary", "{} ({}) does not fit the input {}x{}x{}: {}", r.name.empty() ? "the network" : r.name, r.type,
         chw[0], chw[1], chw[2], e.what());
  }
  if (too_small > kMaxWarnings) s.warnings.push_back(fmt::format("... and {} more layers", too_small - kMaxWarnings));
  if (too_small > 0)
    s.warnings.push_back(fmt::format("the input {}x{}x{} is too small for this network: maps shrink below its windows",
                                     chw[0], chw[1], chw[2]));
  s.params = m.num_parameters();
  s.trainable = m.num_parameters(true);
  for (auto& p : params) s.param_bytes += p.numel() * static_cast<std::int64_t>(dtype_size(p.dtype()));
  for (auto& r : s.rows)
    if (r.leaf) {
      s.macs += r.macs;
      s.activation_bytes += r.activation_bytes;
    }
  if (!s.rows.empty()) s.output_geometry = s.rows.front().geometry;
  return s;
}

using detail::Column;
using detail::mb;
using detail::render;
using detail::shape_text;
using detail::with_commas;

namespace {

std::string fmt_num(double v) {
  if (v == static_cast<double>(static_cast<std::int64_t>(v))) return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{:.1f}", v);
}

std::string axis_pair(double h, double w) { return h == w ? fmt_num(h) : fmt_num(h) + "x" + fmt_num(w); }

std::string rf_text(const Geometry& g) { return g.global ? "global" : axis_pair(g.h.rf, g.w.rf); }
std::string jump_text(const Geometry& g) { return g.global ? "-" : axis_pair(g.h.jump, g.w.jump); }
std::string start_text(const Geometry& g) { return g.global ? "-" : axis_pair(g.h.start, g.w.start); }
std::string pad_text(const Geometry& g) { return g.global ? "-" : axis_pair(g.h.padding(), g.w.padding()); }

nlohmann::json geometry_json(const Geometry& g) {
  if (g.global) return {{"global", true}};
  return {{"rf", {g.h.rf, g.w.rf}},
          {"jump", {g.h.jump, g.w.jump}},
          {"start", {g.h.start, g.w.start}},
          {"effective_padding", {g.h.padding(), g.w.padding()}}};
}

std::string warning_lines(const Summary& s) {
  std::string out;
  for (const auto& w : s.warnings) out += "warning: " + w + "\n";
  return out;
}

}  // namespace

std::string format_summary(const Summary& s, Format f, int max_depth) {
  if (f == Format::json) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (auto& r : s.rows) {
      if (r.depth == 0 || (max_depth >= 0 && r.depth > max_depth)) continue;
      rows.push_back({{"name", r.name},
                      {"type", r.type},
                      {"depth", r.depth},
                      {"output", r.output},
                      {"params", r.params},
                      {"trainable", r.trainable},
                      {"macs", r.macs},
                      {"activation_bytes", r.activation_bytes},
                      {"receptive_field", geometry_json(r.geometry)}});
    }
    nlohmann::ordered_json j{{"input", s.input},
                             {"layers", rows},
                             {"total_params", s.params},
                             {"trainable_params", s.trainable},
                             {"frozen_params", s.params - s.trainable},
                             {"macs", s.macs},
                             {"activation_bytes", s.activation_bytes},
                             {"param_bytes", s.param_bytes},
                             {"warnings", s.warnings}};
    return j.dump(2) + "\n";
  }
  std::vector<Column> cols{{"Layer", false},    {"Type", false},      {"Output", false}, {"Params", true},
                           {"Trainable", true}, {"Mult-adds", true},  {"RF", true},      {"Jump", true},
                           {"Start", true},     {"Activations", true}};
  std::vector<std::vector<std::string>> rows;
  for (auto& r : s.rows) {
    if (r.depth == 0 || (max_depth >= 0 && r.depth > max_depth)) continue;
    std::string indent = f == Format::table ? std::string(2 * static_cast<size_t>(r.depth - 1), ' ') : "";
    rows.push_back({indent + r.name, r.type, shape_text(r.output), with_commas(r.params), with_commas(r.trainable),
                    r.macs ? with_commas(r.macs) : "-", rf_text(r.geometry), jump_text(r.geometry),
                    start_text(r.geometry), with_commas(numel(r.output))});
  }
  std::string t = render(cols, rows, f) + (f == Format::markdown ? "\n" : "");
  const std::int64_t input_bytes = s.input[0] * s.input[1] * s.input[2] * 4;
  t += fmt::format("Input: {}x{}x{}\nTotal params: {}\nTrainable params: {}\nFrozen params: {}\nMult-adds: {}\n",
                   s.input[0], s.input[1], s.input[2], with_commas(s.params), with_commas(s.trainable),
                   with_commas(s.params - s.trainable), with_commas(s.macs));
  t += fmt::format("Input size: {}\nForward activations: {}\nParams size: {}\nEstimated total: {}\n", mb(input_bytes),
                   mb(s.activation_bytes), mb(s.param_bytes), mb(input_bytes + s.activation_bytes + s.param_bytes));
  t += "RF, Jump, Start: receptive field size, effective stride and centre of the first unit, in input pixels; "
       "Activations: output values per image\n";
  return t + warning_lines(s);
}

std::string format_receptive_fields(const Summary& s, Format f) {
  if (f == Format::json) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (auto& r : s.rows)
      if (r.leaf)
        rows.push_back(
            {{"name", r.name}, {"type", r.type}, {"output", r.output}, {"receptive_field", geometry_json(r.geometry)}});
    return nlohmann::ordered_json{{"input", s.input},
                                  {"layers", rows},
                                  {"output", geometry_json(s.output_geometry)},
                                  {"warnings", s.warnings}}
               .dump(2) +
           "\n";
  }
  std::vector<Column> cols{{"Layer", false}, {"Type", false}, {"Output", false},     {"RF", true},
                           {"Jump", true},   {"Start", true}, {"Eff. padding", true}};
  std::vector<std::vector<std::string>> rows;
  for (auto& r : s.rows)
    if (r.leaf)
      rows.push_back({r.name, r.type, shape_text(r.output), rf_text(r.geometry), jump_text(r.geometry),
                      start_text(r.geometry), pad_text(r.geometry)});
  return render(cols, rows, f) +
         "RF: receptive field size; Jump: effective stride; Start: centre of the first unit's field; Eff. padding: "
         "how far that field reaches left of the input (Araujo et al. 2019); all in input pixels\n" +
         warning_lines(s);
}

}  // namespace fovea::analysis
