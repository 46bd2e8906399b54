#include "tools/fovea/cli_util.h"

#include <sstream>

#include "fovea/core/error.h"
#include "fovea/nn/serialize.h"

namespace fovea::cli {

Shape parse_chw(const std::string& s, const char* op) {
  Shape v;
  size_t start = 0;
  while (true) {
    const size_t x = s.find('x', start);
    const std::string part = s.substr(start, x == std::string::npos ? std::string::npos : x - start);
    try {
      size_t used = 0;
      const long long n = std::stoll(part, &used);
      if (used != part.size() || n < 1) throw std::invalid_argument(part);
      v.push_back(n);
    } catch (const std::exception&) {
      fail(op, "bad input size '{}' (expected CxHxW, e.g. 3x224x224)", s);
    }
    if (x == std::string::npos) break;
    start = x + 1;
  }
  if (v.size() != 3) fail(op, "bad input size '{}' (expected CxHxW, e.g. 3x224x224)", s);
  return v;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

void load_weights(nn::Module& m, const std::string& path) {
  const nn::LoadReport r = nn::load(m, path);
  if (!r.source.empty()) fmt::print(stderr, "--weights {}: read {}\n", path, r.source);
}

}  // namespace fovea::cli
