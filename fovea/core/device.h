#pragma once
#include <string>
#include <string_view>

namespace fovea {

// `meta` carries shapes and no data: ops on it only infer output shapes.
enum class DeviceType { cpu, cuda, meta };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  bool operator==(const Device&) const = default;
  std::string str() const;
  static Device parse(std::string_view s);  // "cpu", "cuda", "cuda:1", "meta"
};

inline constexpr Device kCPU{DeviceType::cpu, 0};
inline constexpr Device kMeta{DeviceType::meta, 0};

}  // namespace fovea
