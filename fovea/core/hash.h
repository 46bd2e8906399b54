#pragma once
// FNV-1a, 64 bits (Fowler, Noll and Vo, http://www.isthe.com/chongo/tech/comp/fnv/): a cheap
// fingerprint of bytes, for telling whether two processes hold the same thing (a dataset, a
// model's layout), never for security.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fovea {

class Fnv1a {
 public:
  Fnv1a& bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h_ = (h_ ^ b[i]) * 1099511628211ULL;
    return *this;
  }
  Fnv1a& text(std::string_view s) { return bytes(s.data(), s.size()).bytes("\0", 1); }  // ends each string
  Fnv1a& number(std::int64_t v) { return bytes(&v, sizeof v); }
  std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 1469598103934665603ULL;
};

}  // namespace fovea
