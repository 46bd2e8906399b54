// Row reductions: x (M, R) contiguous -> out (M). The ops layer permutes reduced dims last.
#include <cmath>
#include <limits>

#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/loops.h"

namespace fovea::backend::cpu {

namespace {

template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;

template <typename T>
void reduce_typed(ReduceOp op, const T* x, std::int64_t M, std::int64_t R, const Tensor& out) {
  auto rows = [&](auto f) {
#pragma omp parallel for schedule(static) if (M * R >= kParallelGrain && M > 1)
    for (std::int64_t i = 0; i < M; ++i) f(i, x + i * R);
  };
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::prod: {
      T* o = out.data<T>();
      if (M == 1 && R >= kParallelGrain) {  // one long row: split across threads
        Acc<T> total = op == ReduceOp::sum ? 0 : 1;
        if (op == ReduceOp::sum) {
#pragma omp parallel for reduction(+ : total)
          for (std::int64_t k = 0; k < R; ++k) total += x[k];
        } else {
#pragma omp parallel for reduction(* : total)
          for (std::int64_t k = 0; k < R; ++k) total *= x[k];
        }
        o[0] = static_cast<T>(total);
        return;
      }
      rows([&](std::int64_t i, const T* r) {
        Acc<T> a = op == ReduceOp::sum ? 0 : 1;
        if (op == ReduceOp::sum)
          for (std::int64_t k = 0; k < R; ++k) a += r[k];
        else
          for (std::int64_t k = 0; k < R; ++k) a *= r[k];
        o[i] = static_cast<T>(a);
      });
      return;
    }
    case ReduceOp::max:
    case ReduceOp::min: {
      T* o = out.data<T>();
      const bool mx = op == ReduceOp::max;
      rows([&](std::int64_t i, const T* r) {
        T best = r[0];
        for (std::int64_t k = 1; k < R; ++k) {
          T v = r[k];
          if (v != v) {
            best = v;
            break;
          }  // NaN propagates, as in PyTorch
          if (mx ? v > best : v < best) best = v;
        }
        o[i] = best;
      });
      return;
    }
    case ReduceOp::argmax:
    case ReduceOp::argmin: {
      auto* o = out.data<std::int64_t>();
      const bool mx = op == ReduceOp::argmax;
      rows([&](std::int64_t i, const T* r) {
        std::int64_t bi = 0;
        T best = r[0];
        for (std::int64_t k = 1; k < R && best == best; ++k) {
          T v = r[k];
          if (v != v || (mx ? v > best : v < best)) {
            best = v;
            bi = k;
          }
        }
        o[i] = bi;
      });
      return;
    }
  }
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out) {
  const std::int64_t M = x.size(0), R = x.size(1);
  if (R == 0) {
    if (op == ReduceOp::sum || op == ReduceOp::prod) return fill(out, op == ReduceOp::sum ? 0.0 : 1.0);
    fail("reduce", "cannot take max/min/argmax of an empty dimension");
  }
  FOVEA_DISPATCH(x.dtype(), "reduce", [&] { reduce_typed<scalar_t>(op, x.data<scalar_t>(), M, R, out); });
}

}  // namespace fovea::backend::cpu
