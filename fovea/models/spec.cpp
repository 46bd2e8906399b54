#include "fovea/models/spec.h"

#include <unistd.h>

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "fovea/nn/nn.h"

namespace fovea::models {

using nlohmann::json;

namespace {

// Reads the fields of one layer object, refusing unknown ones (a typo would be ignored silently).
class Fields {
 public:
  Fields(const json& j, std::string where, std::set<std::string> allowed) : j_(j), where_(std::move(where)) {
    allowed.insert("type");
    allowed.insert("name");
    for (auto& [k, v] : j.items())
      if (!allowed.count(k)) {
        std::string known;
        for (auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
        fail("spec", "{}: unknown field '{}' (known: {})", where_, k, known);
      }
  }
  bool has(const char* k) const { return j_.contains(k); }
  std::int64_t integer(const char* k, std::optional<std::int64_t> def = std::nullopt, std::int64_t min = 0) const {
    if (!has(k)) {
      if (def) return *def;
      fail("spec", "{}: missing field '{}'", where_, k);
    }
    const json& v = j_.at(k);
    if (!v.is_number_integer() || v.get<std::int64_t>() < min)
      fail("spec", "{}: field '{}' must be an integer >= {}, got {}", where_, k, min, v.dump());
    return v.get<std::int64_t>();
  }
  double number(const char* k, double def) const {
    if (!has(k)) return def;
    if (!j_.at(k).is_number()) fail("spec", "{}: field '{}' must be a number, got {}", where_, k, j_.at(k).dump());
    return j_.at(k).get<double>();
  }
  bool boolean(const char* k, bool def) const {
    if (!has(k)) return def;
    if (!j_.at(k).is_boolean())
      fail("spec", "{}: field '{}' must be true or false, got {}", where_, k, j_.at(k).dump());
    return j_.at(k).get<bool>();
  }
  // a number for both axes or [h, w]
  Pair pair(const char* k, std::optional<Pair> def, std::int64_t min) const {
    if (!has(k)) {
      if (def) return *def;
      fail("spec", "{}: missing field '{}'", where_, k);
    }
    const json& v = j_.at(k);
    if (v.is_number_integer() && v.get<std::int64_t>() >= min) return v.get<std::int64_t>();
    if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer() &&
        v[0].get<std::int64_t>() >= min && v[1].get<std::int64_t>() >= min)
      return {v[0].get<std::int64_t>(), v[1].get<std::int64_t>()};
    fail("spec", "{}: field '{}' must be an integer >= {} or [h, w], got {}", where_, k, min, v.dump());
  }
  // a number, [h, w], [top, bottom, left, right] or "valid" / "same" / "full"
  Padding padding(const char* k) const {
    if (!has(k)) return 0;
    const json& v = j_.at(k);
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      if (s != "valid" && s != "same" && s != "full")
        fail("spec", "{}: padding '{}' is not valid, same or full", where_, s);
      return Padding::parse(s.c_str());
    }
    if (v.is_array() && v.size() == 4) {
      std::int64_t p[4];
      for (int i = 0; i < 4; ++i) {
        if (!v[i].is_number_integer() || v[i].get<std::int64_t>() < 0)
          fail("spec", "{}: padding must hold non-negative integers, got {}", where_, v.dump());
        p[i] = v[i].get<std::int64_t>();
      }
      return Padding(p[0], p[1], p[2], p[3]);
    }
    Pair q = pair(k, std::nullopt, 0);
    return Padding(q.h, q.w);
  }

 private:
  const json& j_;
  std::string where_;
};

// Per-sample activations larger than this are refused: no real network comes near it, and products
// of such sizes overflow.
constexpr std::int64_t kMaxSampleElements = std::int64_t{1} << 40;

void check_sample(const Shape& cur, const std::string& where) {
  std::int64_t n = 1;
  for (auto d : cur)
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxSampleElements)
      fail("spec", "{}: its output {} holds more than 2^40 elements per sample", where, shape_str(cur));
}

// The layers of spec `j`, built on the current default device.
Spec build(const json& j, const std::string& source) {
  if (!j.is_object()) fail("spec", "{}: expected an object with \"input\" and \"layers\"", source);
  for (auto& [k, v] : j.items())
    if (k != "input" && k != "layers") fail("spec", "{}: unknown field '{}' (known: input, layers)", source, k);
  if (!j.contains("input") || !j["input"].is_array() || j["input"].size() != 3)
    fail("spec", "{}: \"input\" must be [C, H, W]", source);
  Spec s;
  for (auto& v : j["input"]) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1)
      fail("spec", "{}: \"input\" must hold positive integers", source);
    s.input.push_back(v.get<std::int64_t>());
  }
  if (!j.contains("layers") || !j["layers"].is_array() || j["layers"].empty())
    fail("spec", "{}: \"layers\" must be a non-empty array", source);
  s.net = std::make_shared<nn::Sequential>();
  Shape cur = s.input;  // per-sample shape flowing through the layers
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    const json& L = j["layers"][i];
    if (!L.is_object() || !L.contains("type") || !L["type"].is_string())
      fail("spec", "{}: layer {} must be an object with a \"type\"", source, i);
    const std::string type = L["type"].get<std::string>();
    const std::string where = fmt::format("{}: layer {} ({})", source, i, type);
    auto need_image = [&] {
      if (cur.size() != 3) fail("spec", "{}: needs an image input (C,H,W), got {}", where, shape_str(cur));
    };
    nn::ModulePtr m;
    if (type == "conv2d") {
      Fields f(L, where, {"out", "kernel", "stride", "padding", "dilation", "groups", "bias"});
      need_image();
      nn::Conv2dOptions o{.in = cur[0],
                          .out = f.integer("out", std::nullopt, 1),
                          .kernel = f.pair("kernel", std::nullopt, 1),
                          .stride = f.pair("stride", Pair(1), 1),
                          .padding = f.padding("padding"),
                          .dilation = f.pair("dilation", Pair(1), 1),
                          .groups = f.integer("groups", 1, 1),
                          .bias = f.boolean("bias", true)};
      auto pad = resolve_padding(o.padding, {cur[1], cur[2]}, o.kernel, o.stride, o.dilation, "spec");
      try {
        cur = {o.out, conv_output_size(cur[1], o.kernel.h, o.stride.h, pad[0], pad[1], o.dilation.h),
               conv_output_size(cur[2], o.kernel.w, o.stride.w, pad[2], pad[3], o.dilation.w)};
        m = nn::make<nn::Conv2d>(o);
      } catch (const Error& e) {
        fail("spec", "{}: {}", where, e.what());
      }
    } else if (type == "maxpool2d" || type == "avgpool2d") {
      Fields f(L, where, {"kernel", "stride", "padding", "ceil_mode", "count_include_pad"});
      need_image();
      Pool2dOptions o{.kernel = f.pair("kernel", std::nullopt, 1),
                      .stride = f.pair("stride", Pair(0), 0),
                      .padding = f.pair("padding", Pair(0), 0),
                      .ceil_mode = f.boolean("ceil_mode", false),
                      .count_include_pad = f.boolean("count_include_pad", true)};
      const Pair st = (o.stride.h == 0 && o.stride.w == 0) ? o.kernel : o.stride;
      try {
        cur = {cur[0], pool_output_size(cur[1], o.kernel.h, st.h, o.padding.h, o.ceil_mode),
               pool_output_size(cur[2], o.kernel.w, st.w, o.padding.w, o.ceil_mode)};
      } catch (const Error& e) {
        fail("spec", "{}: {}", where, e.what());
      }
      if (type == "maxpool2d") m = nn::make<nn::MaxPool2d>(o);
      else m = nn::make<nn::AvgPool2d>(o);
    } else if (type == "batchnorm2d") {
      Fields f(L, where, {"eps", "momentum", "affine"});
      need_image();
      m = nn::make<nn::BatchNorm2d>({.features = cur[0],
                                     .eps = f.number("eps", 1e-5),
                                     .momentum = f.number("momentum", 0.1),
                                     .affine = f.boolean("affine", true)});
    } else if (type == "conv_transpose2d") {
      Fields f(L, where, {"out", "kernel", "stride", "padding", "output_padding", "dilation", "groups", "bias"});
      need_image();
      nn::ConvTranspose2dOptions o{.in = cur[0],
                                   .out = f.integer("out", std::nullopt, 1),
                                   .kernel = f.pair("kernel", std::nullopt, 1),
                                   .stride = f.pair("stride", Pair(1), 1),
                                   .padding = f.pair("padding", Pair(0), 0),
                                   .output_padding = f.pair("output_padding", Pair(0), 0),
                                   .dilation = f.pair("dilation", Pair(1), 1),
                                   .groups = f.integer("groups", 1, 1),
                                   .bias = f.boolean("bias", true)};
      try {
        cur = {
            o.out,
            conv_transpose_output_size(cur[1], o.kernel.h, o.stride.h, o.padding.h, o.dilation.h, o.output_padding.h),
            conv_transpose_output_size(cur[2], o.kernel.w, o.stride.w, o.padding.w, o.dilation.w, o.output_padding.w)};
        m = nn::make<nn::ConvTranspose2d>(o);
      } catch (const Error& e) {
        fail("spec", "{}: {}", where, e.what());
      }
    } else if (type == "upsample") {
      Fields f(L, where, {"size", "scale", "mode", "align_corners"});
      need_image();
      UpsampleOptions o;
      if (f.has("size") == f.has("scale")) fail("spec", "{}: give exactly one of 'size' and 'scale'", where);
      if (f.has("size")) {
        o.size = f.pair("size", std::nullopt, 1);
        cur = {cur[0], o.size.h, o.size.w};
      } else {
        const double sc = f.number("scale", 0);
        if (!(sc > 0)) fail("spec", "{}: field 'scale' must be > 0", where);
        o.scale = sc;
        const double h = static_cast<double>(cur[1]) * sc, w = static_cast<double>(cur[2]) * sc;
        if (h * w > static_cast<double>(kMaxSampleElements))
          fail("spec", "{}: scale {} makes {:g}x{:g} images, more than 2^40 pixels", where, sc, h, w);
        cur = {cur[0], static_cast<std::int64_t>(h), static_cast<std::int64_t>(w)};
      }
      const std::string mode = L.value("mode", std::string("nearest"));
      if (mode != "nearest" && mode != "bilinear")
        fail("spec", "{}: mode '{}' is not nearest or bilinear", where, mode);
      o.mode = mode == "bilinear" ? UpsampleMode::bilinear : UpsampleMode::nearest;
      o.align_corners = f.boolean("align_corners", false);
      m = nn::make<nn::Upsample>(o);
    } else if (type == "lrn") {
      Fields f(L, where, {"size", "alpha", "beta", "k"});
      need_image();
      m = nn::make<nn::LocalResponseNorm>({.size = f.integer("size", std::nullopt, 1),
                                           .alpha = f.number("alpha", 1e-4),
                                           .beta = f.number("beta", 0.75),
                                           .k = f.number("k", 1.0)});
    } else if (type == "adaptive_avgpool2d" || type == "adaptive_maxpool2d" || type == "global_avgpool2d") {
      const bool global = type == "global_avgpool2d";
      Fields f(L, where, global ? std::set<std::string>{} : std::set<std::string>{"out"});
      need_image();
      const Pair out = global ? Pair(1) : f.pair("out", std::nullopt, 1);
      cur = {cur[0], out.h, out.w};
      if (type == "adaptive_maxpool2d") m = nn::make<nn::AdaptiveMaxPool2d>({.out = out});
      else m = nn::make<nn::AdaptiveAvgPool2d>({.out = out});
    } else if (type == "linear") {
      Fields f(L, where, {"out", "bias"});
      const std::int64_t out = f.integer("out", std::nullopt, 1);
      m = nn::make<nn::Linear>({.in = cur.back(), .out = out, .bias = f.boolean("bias", true)});
      cur.back() = out;
    } else if (type == "flatten") {
      Fields f(L, where, {});
      m = nn::make<nn::Flatten>();
      cur = {numel(cur)};
    } else if (type == "dropout") {
      Fields f(L, where, {"p"});
      const double p = f.number("p", 0.5);
      if (p < 0 || p > 1) fail("spec", "{}: field 'p' must be in [0, 1], got {}", where, p);
      m = nn::make<nn::Dropout>({.p = p});
    } else if (type == "relu" || type == "sigmoid" || type == "tanh" || type == "gelu" || type == "hardswish" ||
               type == "identity") {
      Fields f(L, where, {});
      if (type == "relu") m = nn::make<nn::ReLU>();
      if (type == "sigmoid") m = nn::make<nn::Sigmoid>();
      if (type == "tanh") m = nn::make<nn::Tanh>();
      if (type == "gelu") m = nn::make<nn::GELU>();
      if (type == "hardswish") m = nn::make<nn::Hardswish>();
      if (type == "identity") m = nn::make<nn::Identity>();
    } else if (type == "leaky_relu") {
      Fields f(L, where, {"negative_slope"});
      m = nn::make<nn::LeakyReLU>({.negative_slope = f.number("negative_slope", 0.01)});
    } else if (type == "elu") {
      Fields f(L, where, {"alpha"});
      m = nn::make<nn::ELU>({.alpha = f.number("alpha", 1.0)});
    } else if (type == "softmax" || type == "log_softmax") {
      Fields f(L, where, {"dim"});
      const std::int64_t dim = f.integer("dim", 1, -8);
      if (type == "softmax") m = nn::make<nn::Softmax>({.dim = dim});
      else m = nn::make<nn::LogSoftmax>({.dim = dim});
    } else {
      fail("spec",
           "{}: unknown layer type '{}' (known: conv2d, conv_transpose2d, maxpool2d, avgpool2d, "
           "adaptive_avgpool2d, adaptive_maxpool2d, global_avgpool2d, upsample, batchnorm2d, lrn, linear, "
           "flatten, dropout, relu, leaky_relu, elu, sigmoid, tanh, gelu, hardswish, softmax, log_softmax, identity)",
           source, type);
    }
    check_sample(cur, where);
    if (L.contains("name")) {
      if (!L["name"].is_string()) fail("spec", "{}: field 'name' must be a string", where);
      s.net->add(L["name"].get<std::string>(), m);
    } else {
      s.net->add(m);
    }
  }
  s.output = cur;
  return s;
}

std::int64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::int64_t>(pages) * page : std::numeric_limits<std::int64_t>::max();
}

// Refuses a network whose parameters pass the limit or, as f32, this machine's memory; names the largest layer.
void check_size(const nn::Sequential& net, const std::string& source, std::int64_t limit, bool allocating) {
  std::int64_t total = 0, largest = -1;
  std::string largest_name;
  for (const auto& [name, m] : net.named_children()) {
    const std::int64_t n = m->num_parameters();
    if (__builtin_add_overflow(total, n, &total)) total = std::numeric_limits<std::int64_t>::max();
    if (n > largest) largest = n, largest_name = fmt::format("{} ({})", name, m->type());
  }
  const double gib = static_cast<double>(total) * 4 / (1 << 30);
  const std::string size = gib >= 1 ? fmt::format("{:.1f} GiB", gib) : fmt::format("{:.1f} MiB", gib * 1024);
  const std::int64_t memory = physical_memory_bytes();
  if (total > limit)
    fail("spec", "{}: the network holds {} parameters ({} as f32), more than the limit of {}; layer {} alone holds {}",
         source, total, size, limit, largest_name, largest);
  if (allocating && total > memory / 4)
    fail("spec",
         "{}: the network holds {} parameters ({} as f32), more than this machine's {:.1f} GiB of memory; layer {} "
         "alone holds {}",
         source, total, size, static_cast<double>(memory) / (1 << 30), largest_name, largest);
}

}  // namespace

bool is_spec_path(const std::string& model) {
  return model.size() > 5 && model.compare(model.size() - 5, 5, ".json") == 0;
}

Spec parse_spec(const std::string& text, const std::string& source, const SpecOptions& o) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("spec", "{}: not valid JSON: {}", source, e.what());
  }
  const bool allocating = default_device().type != DeviceType::meta;
  {
    // shapes and sizes first, on the meta device: nothing is allocated and no random number drawn
    DefaultDeviceGuard meta(kMeta);
    Spec probe = build(j, source);
    check_size(*probe.net, source, o.max_parameters, allocating);
    if (!allocating) return probe;
  }
  return build(j, source);
}

Spec load_spec(const std::string& path, const SpecOptions& o) {
  std::ifstream in(path);
  if (!in) fail("spec", "cannot read {}", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_spec(ss.str(), path, o);
}

}  // namespace fovea::models
