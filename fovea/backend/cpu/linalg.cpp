// Batched matrix multiply: oneDNN matmul for f32 (any strides, broadcast batch), loops for f64.
#include "fovea/backend/cpu/cpu_backend.h"
#include "fovea/backend/cpu/dnnl_util.h"

namespace fovea::backend::cpu {

namespace {

struct MatmulEntry {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  dnnl::memory::desc a_md, b_md, bias_md, out_md;
};

template <typename T>
void matmul_loops(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out, std::int64_t B,
                  std::int64_t M, std::int64_t N, std::int64_t K) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const auto& sa = a.strides();
  const auto& sb = b.strides();
  const T* pbias = bias ? bias->data<T>() : nullptr;
  const std::int64_t sbias = bias ? bias->strides()[0] : 0;
#pragma omp parallel for collapse(2) if (B * M * N * K > 1 << 16)
  for (std::int64_t bb = 0; bb < B; ++bb)
    for (std::int64_t i = 0; i < M; ++i) {
      const T* ar = pa + (a.size(0) == 1 ? 0 : bb * sa[0]) + i * sa[1];
      const T* bm = pb + (b.size(0) == 1 ? 0 : bb * sb[0]);
      T* orow = po + (bb * M + i) * N;
      for (std::int64_t j = 0; j < N; ++j) orow[j] = pbias ? pbias[j * sbias] : T(0);
      for (std::int64_t k = 0; k < K; ++k) {
        const T av = ar[k * sa[2]];
        for (std::int64_t j = 0; j < N; ++j) orow[j] += av * bm[k * sb[1] + j * sb[2]];
      }
    }
}

}  // namespace

// a: (B|1, M, K), b: (B|1, K, N), bias: (N) or null -> out: (B, M, N) contiguous
void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor* bias, const Tensor& out) {
  const std::int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  if (out.numel() == 0) return;
  if (a.dtype() == DType::f32) {
    std::string key = fmt::format("mm{}{}{}{}", key_of(a), key_of(b), key_of(out), bias != nullptr);
    auto e = cached<MatmulEntry>(key, [&] {
      auto m = std::make_shared<MatmulEntry>();
      m->a_md = plain_desc(a, "matmul");
      m->b_md = plain_desc(b, "matmul");
      m->out_md = plain_desc(out, "matmul");
      if (bias) {
        m->bias_md = dnnl::memory::desc({1, 1, N}, dnnl::memory::data_type::f32, dnnl::memory::dims{N, N, 1});
        m->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(m->a_md, m->b_md, m->bias_md, m->out_md),
                                             user_scratchpad(), engine());
      } else {
        m->pd =
            dnnl::matmul::primitive_desc(dnnl::matmul::desc(m->a_md, m->b_md, m->out_md), user_scratchpad(), engine());
      }
      m->prim = dnnl::matmul(m->pd);
      return m;
    });
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, make_memory(e->a_md, a)},
                                               {DNNL_ARG_WEIGHTS, make_memory(e->b_md, b)},
                                               {DNNL_ARG_DST, make_memory(e->out_md, out)}};
    if (bias) args.emplace(DNNL_ARG_BIAS, make_memory(e->bias_md, *bias));
    execute(e->prim, e->pd.scratchpad_desc(), args);
    return;
  }
  FOVEA_DISPATCH(a.dtype(), "matmul", [&] { matmul_loops<scalar_t>(a, b, bias, out, B, M, N, K); });
}

}  // namespace fovea::backend::cpu
