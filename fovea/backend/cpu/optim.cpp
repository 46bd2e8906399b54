// Fused optimizer steps: one pass over each parameter's elements with the formulas of
// optim_math.h, the chunks of all parameters of a call shared among the threads.
#include <algorithm>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/loops.h"
#include "fovea/backend/optim_check.h"
#include "fovea/backend/optim_math.h"

namespace fovea::backend::cpu {

namespace {

// Elements per work item: small enough to balance a few large parameters over the threads.
constexpr std::int64_t kChunk = 8192;

// Pointers to the first elements of a list of T tensors (empty list: none).
template <typename T>
std::vector<T*> pointers(std::span<const Tensor> list) {
  std::vector<T*> v;
  v.reserve(list.size());
  for (const Tensor& t : list) v.push_back(t.data<std::remove_const_t<T>>());
  return v;
}

// Calls f(i, begin, end) on chunks of [0, numel of params[i]) for every i; in parallel when the
// call has at least kParallelGrain elements in all. f must not throw.
template <typename F>
void for_chunks(std::span<const Tensor> params, F f) {
  struct Chunk {
    std::size_t tensor;
    std::int64_t begin, end;
  };
  std::vector<Chunk> chunks;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::int64_t n = params[i].numel();
    total += n;
    for (std::int64_t b = 0; b < n; b += kChunk) chunks.push_back({i, b, std::min(n, b + kChunk)});
  }
  const auto count = static_cast<std::int64_t>(chunks.size());
#pragma omp parallel for schedule(static) if (total >= kParallelGrain && count > 1)
  for (std::int64_t c = 0; c < count; ++c) f(chunks[c].tensor, chunks[c].begin, chunks[c].end);
}

// The loops below must round every product on its own, as the separate tensor ops do: GCC would
// otherwise contract a * b + c into one FMA (-ffp-contract=fast is its default for C++). This file
// is compiled with -ffp-contract=off, and with -fno-math-errno so that sqrt does not keep the Adam
// loop from vectorising (CMakeLists.txt).

template <typename T>
void sgd_typed(std::span<const Tensor> params, std::span<const Tensor> grads, std::span<const Tensor> buffers,
               std::span<const std::uint8_t> buffer_is_new, const SgdStepParams& p) {
  const optim_math::SgdCoeffs<T> c(p);
  const auto param = pointers<T>(params), buffer = pointers<T>(buffers);
  const auto grad = pointers<const T>(grads);
  for_chunks(params, [&](std::size_t i, std::int64_t begin, std::int64_t end) {
    // a local copy of the scalars and literal flags: the loops then load nothing conditionally
    // and keep the scalars in registers, so they vectorise
    const optim_math::SgdCoeffs<T> ci = c;
    T* x = param[i];
    const T* g = grad[i];
    T* b = buffer.empty() ? nullptr : buffer[i];
    if (!b) {
      for (std::int64_t k = begin; k < end; ++k) optim_math::sgd_update<T>(x[k], g[k], nullptr, false, ci);
    } else if (buffer_is_new[i]) {
      for (std::int64_t k = begin; k < end; ++k) optim_math::sgd_update<T>(x[k], g[k], b + k, true, ci);
    } else {
      for (std::int64_t k = begin; k < end; ++k) optim_math::sgd_update<T>(x[k], g[k], b + k, false, ci);
    }
  });
}

template <typename T>
void adam_typed(std::span<const Tensor> params, std::span<const Tensor> grads, std::span<const Tensor> exp_avg,
                std::span<const Tensor> exp_avg_sq, std::span<const Tensor> max_exp_avg_sq,
                std::span<const double> step_size, std::span<const double> bias_correction2_sqrt,
                const AdamStepParams& p) {
  const optim_math::AdamCoeffs<T> c(p);
  const auto param = pointers<T>(params), m = pointers<T>(exp_avg), v = pointers<T>(exp_avg_sq);
  const auto v_max = pointers<T>(max_exp_avg_sq);
  const auto grad = pointers<const T>(grads);
  for_chunks(params, [&](std::size_t i, std::int64_t begin, std::int64_t end) {
    const optim_math::AdamCoeffs<T> ci = c;  // kept in registers, as in sgd_typed
    const auto neg_step_size = static_cast<T>(-step_size[i]);
    const auto bc2_sqrt = static_cast<T>(bias_correction2_sqrt[i]);
    T *x = param[i], *mi = m[i], *vi = v[i];
    const T* g = grad[i];
    if (v_max.empty()) {
      for (std::int64_t k = begin; k < end; ++k)
        optim_math::adam_update<T>(x[k], g[k], mi[k], vi[k], nullptr, neg_step_size, bc2_sqrt, ci);
      return;
    }
    T* vm = v_max[i];
    for (std::int64_t k = begin; k < end; ++k)
      optim_math::adam_update<T>(x[k], g[k], mi[k], vi[k], vm + k, neg_step_size, bc2_sqrt, ci);
  });
}

}  // namespace

void CpuBackend::sgd_step(std::span<const Tensor> params, std::span<const Tensor> grads,
                          std::span<const Tensor> momentum_buffers, std::span<const std::uint8_t> buffer_is_new,
                          const SgdStepParams& p) {
  check_sgd_step(params, grads, momentum_buffers, buffer_is_new, p);
  if (params.empty()) return;
  FOVEA_DISPATCH_FLOAT(params[0].dtype(), "sgd",
                       [&] { sgd_typed<scalar_t>(params, grads, momentum_buffers, buffer_is_new, p); });
}

void CpuBackend::adam_step(std::span<const Tensor> params, std::span<const Tensor> grads,
                           std::span<const Tensor> exp_avg, std::span<const Tensor> exp_avg_sq,
                           std::span<const Tensor> max_exp_avg_sq, std::span<const double> step_size,
                           std::span<const double> bias_correction2_sqrt, const AdamStepParams& p) {
  check_adam_step(params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, bias_correction2_sqrt, p);
  if (params.empty()) return;
  FOVEA_DISPATCH_FLOAT(params[0].dtype(), p.decoupled ? "adamw" : "adam", [&] {
    adam_typed<scalar_t>(params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, step_size, bias_correction2_sqrt, p);
  });
}

}  // namespace fovea::backend::cpu
