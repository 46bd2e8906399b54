#pragma once
// Errors: every message starts with the op or file in brackets, e.g.
// "[conv2d] expected 4-D input (N,C,H,W), got (3,224,224)".
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace fovea {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(std::string_view op, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format("[{}] {}", op, fmt::format(f, std::forward<Args>(args)...)));
}

}  // namespace fovea

#define FOVEA_CHECK(cond, op, ...)               \
  do {                                           \
    if (!(cond)) ::fovea::fail(op, __VA_ARGS__); \
  } while (0)
