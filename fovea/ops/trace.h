#pragma once
// Op tracing for export (fovea/onnx/export.cpp): while a Sink is installed on this thread, the
// functional ops report each call (ONNX op type, inputs, output, ONNX attributes). One line per
// op, a no-op unless tracing: `if (trace::active()) trace::record("Relu", {x}, y);`
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "fovea/core/tensor.h"
#include "fovea/ops/options.h"

namespace fovea::trace {

using Value = std::variant<std::int64_t, double, std::string, std::vector<std::int64_t>, std::vector<double>>;
using Attrs = std::vector<std::pair<std::string, Value>>;

struct Op {
  std::string type;            // ONNX op type ("Conv")
  std::vector<Tensor> inputs;  // undefined for an absent optional input
  Tensor output;
  Attrs attrs;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void record(Op op) = 0;
};

Sink*& current_sink();  // this thread's sink, or nullptr
inline bool active() { return current_sink() != nullptr; }
void record(std::string type, std::vector<Tensor> inputs, const Tensor& output, Attrs attrs = {});

// Installs a sink on this thread for its lifetime.
class Scope {
 public:
  explicit Scope(Sink& s) : prev_(current_sink()) { current_sink() = &s; }
  ~Scope() { current_sink() = prev_; }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Sink* prev_;
};

}  // namespace fovea::trace

namespace fovea::trace {

// Records `out` as the output of `type` when tracing; returns it.
inline Tensor traced(Tensor out, const char* type, std::vector<Tensor> inputs, Attrs attrs = {}) {
  if (active()) record(type, std::move(inputs), out, std::move(attrs));
  return out;
}

inline std::vector<std::int64_t> ints(Pair p) { return {p.h, p.w}; }

}  // namespace fovea::trace
