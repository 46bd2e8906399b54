#include "fovea/train/deploy.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "fovea/core/error.h"

namespace fovea::train {

namespace {

constexpr const char* kInput = "fovea.input";
constexpr const char* kMean = "fovea.mean";
constexpr const char* kStd = "fovea.std";
constexpr const char* kClasses = "fovea.classes";

}  // namespace

Preprocess preprocess_of(const RunConfig& c) {
  return {.input = c.input, .mean = c.mean, .std = c.std, .classes = c.classes};
}

std::vector<std::pair<std::string, std::string>> onnx_metadata(const Preprocess& p) {
  std::vector<std::pair<std::string, std::string>> out;
  if (p.input.size() == 3) out.emplace_back(kInput, fmt::format("{}x{}x{}", p.input[0], p.input[1], p.input[2]));
  if (!p.mean.empty()) {
    out.emplace_back(kMean, nlohmann::json(p.mean).dump());
    out.emplace_back(kStd, nlohmann::json(p.std).dump());
  }
  if (!p.classes.empty()) out.emplace_back(kClasses, nlohmann::json(p.classes).dump());
  out.emplace_back("fovea.preprocess", p.mean.empty() ? "x = pixel / 255 (channels in RGB order)"
                                                      : "x = (pixel / 255 - fovea.mean) / fovea.std, per channel "
                                                        "(RGB order)");
  return out;
}

Preprocess preprocess_of(const onnx::ModelInfo& info, const std::string& path) {
  Preprocess p;
  auto bad = [&](const std::string& key, const std::string& value, const char* expected) {
    fail("onnx", "{}: metadata {} is '{}', expected {}", path, key, value, expected);
  };
  for (const auto& [key, value] : info.metadata) {
    if (key == kInput) {
      try {
        p.input = parse_chw(value, "onnx");
      } catch (const Error&) {
        bad(key, value, "CxHxW, e.g. 3x224x224");
      }
      continue;
    }
    if (key != kMean && key != kStd && key != kClasses) continue;
    const auto j = nlohmann::json::parse(value, nullptr, false);
    try {
      if (j.is_discarded()) throw std::invalid_argument(value);
      if (key == kClasses) p.classes = j.get<std::vector<std::string>>();
      else (key == kMean ? p.mean : p.std) = j.get<std::vector<double>>();
    } catch (const std::exception&) {
      bad(key, value, key == kClasses ? "a JSON array of names" : "a JSON array of numbers");
    }
  }
  if (p.mean.size() != p.std.size())
    fail("onnx", "{}: metadata {} has {} values but {} has {}", path, kMean, p.mean.size(), kStd, p.std.size());
  if (p.input.empty() && !info.input_shapes.empty()) {
    const Shape& s = info.input_shapes.front();
    if (s.size() == 4 && s[1] > 0 && s[2] > 0 && s[3] > 0) p.input = {s[1], s[2], s[3]};
  }
  if (!p.mean.empty() && p.input.size() == 3 && static_cast<std::int64_t>(p.mean.size()) != p.input[0])
    fail("onnx", "{}: metadata {} has {} values for an input of {} channels", path, kMean, p.mean.size(), p.input[0]);
  return p;
}

data::Transform transform_of(const Preprocess& p) {
  std::vector<data::Transform> ts{data::to_tensor()};
  if (p.input.size() == 3) ts.push_back(data::resize(p.input[1], p.input[2]));
  if (!p.mean.empty()) ts.push_back(data::normalize(p.mean, p.std));
  return data::compose(ts);
}

}  // namespace fovea::train
