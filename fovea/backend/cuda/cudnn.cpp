// cuDNN convolution (library.h): forward, backward data, backward filter and bias, with the
// fastest algorithm measured once per shape (cudnnFind*AlgorithmEx) and cached.
#include <cudnn.h>
#include <fmt/format.h>

#include <map>
#include <mutex>

#include "fovea/backend/cuda/cuda_util.h"
#include "fovea/backend/cuda/library.h"

namespace fovea::backend::cuda {
inline namespace FOVEA_CUDA_ABI {

namespace {

void check(cudnnStatus_t s, const char* op) {
  if (s != CUDNN_STATUS_SUCCESS) fail(op, "cuDNN error: {}", cudnnGetErrorString(s));
}

cudnnHandle_t handle(const Tensor& t) {
  return cuda::per_device<cudnnHandle_t>(t, [](cudaStream_t st) {
    cudnnHandle_t h = nullptr;
    check(cudnnCreate(&h), "conv2d");
    check(cudnnSetStream(h, st), "conv2d");
    return h;
  });
}

// cuDNN's alpha = 1 and beta = 0 in the data's precision
struct Scale {
  const void* one;
  const void* zero;
};
Scale scale(DType t) {  // float for f32 and bf16 data, double for f64
  static const float onef = 1, zerof = 0;
  static const double one = 1, zero = 0;
  return t == DType::f64 ? Scale{&one, &zero} : Scale{&onef, &zerof};
}

// f32, f64, and bf16 (autocast: tensor cores with f32 accumulation)
cudnnDataType_t data_type(const Tensor& t, const char* op) {
  cuda::require_dtype(t, {DType::f32, DType::f64, DType::bf16}, op);
  return t.dtype() == DType::f32 ? CUDNN_DATA_FLOAT : t.dtype() == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_BFLOAT16;
}

// RAII descriptors for one call
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, b = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  std::string key;  // the shapes and options, for the algorithm cache

  // x: (N,C,H,W) and y contiguous, w: (O,C/g,kH,kW); padding symmetric here
  Descriptors(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p, const char* op) {
    const cudnnDataType_t dt = data_type(x, op);
    check(cudnnCreateTensorDescriptor(&this->x), op);
    check(cudnnCreateTensorDescriptor(&this->y), op);
    check(cudnnCreateFilterDescriptor(&this->w), op);
    check(cudnnCreateConvolutionDescriptor(&conv), op);
    auto dims = [](const Tensor& t) {
      return std::array<int, 4>{static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), static_cast<int>(t.size(2)),
                                static_cast<int>(t.size(3))};
    };
    const auto xd = dims(x), yd = dims(y), wd = dims(w);
    check(cudnnSetTensor4dDescriptor(this->x, CUDNN_TENSOR_NCHW, dt, xd[0], xd[1], xd[2], xd[3]), op);
    check(cudnnSetTensor4dDescriptor(this->y, CUDNN_TENSOR_NCHW, dt, yd[0], yd[1], yd[2], yd[3]), op);
    check(cudnnSetFilter4dDescriptor(this->w, dt, CUDNN_TENSOR_NCHW, wd[0], wd[1], wd[2], wd[3]), op);
    const cudnnDataType_t compute = dt == CUDNN_DATA_BFLOAT16 ? CUDNN_DATA_FLOAT : dt;
    check(cudnnSetConvolution2dDescriptor(conv, static_cast<int>(p.padding[0]), static_cast<int>(p.padding[2]),
                                          static_cast<int>(p.stride[0]), static_cast<int>(p.stride[1]),
                                          static_cast<int>(p.dilation[0]), static_cast<int>(p.dilation[1]),
                                          CUDNN_CROSS_CORRELATION, compute),
          op);
    check(cudnnSetConvolutionGroupCount(conv, static_cast<int>(p.groups)), op);
    const bool tf32 = dt == CUDNN_DATA_FLOAT && cuda_math().conv_tf32;
    const bool tensor_ops = tf32 || dt == CUDNN_DATA_BFLOAT16;
    check(cudnnSetConvolutionMathType(conv, tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH), op);
    key = fmt::format("{}:{}x{}x{}x{}:{}x{}x{}x{}:{}:{},{},{},{},{},{}:{}:{}", x.device().index, xd[0], xd[1], xd[2],
                      xd[3], wd[0], wd[1], wd[2], wd[3], static_cast<int>(dt), p.padding[0], p.padding[2], p.stride[0],
                      p.stride[1], p.dilation[0], p.dilation[1], p.groups, tf32);
  }
  void bias(const Tensor& b, const char* op) {
    check(cudnnCreateTensorDescriptor(&this->b), op);
    check(
        cudnnSetTensor4dDescriptor(this->b, CUDNN_TENSOR_NCHW, data_type(b, op), 1, static_cast<int>(b.size(0)), 1, 1),
        op);
  }
  ~Descriptors() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (b) cudnnDestroyTensorDescriptor(b);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
  }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;
};

// Scratch memory for cuDNN from the backend's caching allocator.
Tensor workspace(const Tensor& like, std::size_t bytes) {
  return empty({static_cast<std::int64_t>(bytes > 0 ? bytes : 1)}, {.dtype = DType::u8, .device = like.device()});
}

constexpr std::size_t kSearchWorkspace = std::size_t{256} << 20;  // the most an algorithm may use while searching

// The fastest algorithm for a key, measured on first use. `find(perf, n, &got, workspace)` runs
// cudnnFind*Ex with kSearchWorkspace bytes of scratch and returns the results (sorted fastest
// first); the first that succeeded wins.
template <typename Algo, typename Perf, typename Find>
std::pair<Algo, std::size_t> cached_algo(std::map<std::string, std::pair<Algo, std::size_t>>& cache,
                                         const std::string& key, const Tensor& like, Find find, const char* op) {
  static std::mutex mu;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  Perf perf[16];
  int n = 0;
  const Tensor ws = workspace(like, kSearchWorkspace);
  find(perf, 16, &n, ptr(ws));
  for (int i = 0; i < n; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS) {
      std::lock_guard<std::mutex> lock(mu);
      return cache[key] = {perf[i].algo, perf[i].memory};
    }
  fail(op, "cuDNN has no algorithm for this convolution ({})", key);
}

}  // namespace

void library_conv_forward(const Tensor& x, const Tensor& w, const Tensor* b, const Tensor& y, const Conv2dParams& p) {
  Descriptors d(x, w, y, p, "conv2d");
  cudnnHandle_t h = handle(x);
  static std::map<std::string, std::pair<cudnnConvolutionFwdAlgo_t, std::size_t>> cache;
  const auto [algo, bytes] = cached_algo<cudnnConvolutionFwdAlgo_t, cudnnConvolutionFwdAlgoPerf_t>(
      cache, d.key, x,
      [&](cudnnConvolutionFwdAlgoPerf_t* perf, int want, int* got, void* ws) {
        check(cudnnFindConvolutionForwardAlgorithmEx(h, d.x, ptr(x), d.w, ptr(w), d.conv, d.y, ptr(y), want, got, perf,
                                                     ws, kSearchWorkspace),
              "conv2d");
      },
      "conv2d");
  Tensor ws = workspace(x, bytes);
  const Scale k = scale(x.dtype());
  check(cudnnConvolutionForward(h, k.one, d.x, ptr(x), d.w, ptr(w), d.conv, algo, ptr(ws), bytes, k.zero, d.y, ptr(y)),
        "conv2d");
  if (b) {
    d.bias(*b, "conv2d");
    check(cudnnAddTensor(h, k.one, d.b, ptr(*b), k.one, d.y, ptr(y)), "conv2d");
  }
}

void library_conv_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv2dParams& p) {
  Descriptors d(gx, w, gy, p, "conv2d_backward");
  cudnnHandle_t h = handle(gy);
  static std::map<std::string, std::pair<cudnnConvolutionBwdDataAlgo_t, std::size_t>> cache;
  const auto [algo, bytes] = cached_algo<cudnnConvolutionBwdDataAlgo_t, cudnnConvolutionBwdDataAlgoPerf_t>(
      cache, d.key, gy,
      [&](cudnnConvolutionBwdDataAlgoPerf_t* perf, int want, int* got, void* ws) {
        check(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, ptr(w), d.y, ptr(gy), d.conv, d.x, ptr(gx), want, got,
                                                          perf, ws, kSearchWorkspace),
              "conv2d_backward");
      },
      "conv2d_backward");
  Tensor ws = workspace(gy, bytes);
  const Scale k = scale(gy.dtype());
  check(cudnnConvolutionBackwardData(h, k.one, d.w, ptr(w), d.y, ptr(gy), d.conv, algo, ptr(ws), bytes, k.zero, d.x,
                                     ptr(gx)),
        "conv2d_backward");
}

void library_conv_backward_weights(const Tensor& gy, const Tensor& x, const Tensor& gw, const Tensor* gb,
                                   const Conv2dParams& p) {
  Descriptors d(x, gw, gy, p, "conv2d_backward");
  cudnnHandle_t h = handle(gy);
  static std::map<std::string, std::pair<cudnnConvolutionBwdFilterAlgo_t, std::size_t>> cache;
  const auto [algo, bytes] = cached_algo<cudnnConvolutionBwdFilterAlgo_t, cudnnConvolutionBwdFilterAlgoPerf_t>(
      cache, d.key, gy,
      [&](cudnnConvolutionBwdFilterAlgoPerf_t* perf, int want, int* got, void* ws) {
        check(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x, ptr(x), d.y, ptr(gy), d.conv, d.w, ptr(gw), want,
                                                            got, perf, ws, kSearchWorkspace),
              "conv2d_backward");
      },
      "conv2d_backward");
  Tensor ws = workspace(gy, bytes);
  const Scale k = scale(gy.dtype());
  check(cudnnConvolutionBackwardFilter(h, k.one, d.x, ptr(x), d.y, ptr(gy), d.conv, algo, ptr(ws), bytes, k.zero, d.w,
                                       ptr(gw)),
        "conv2d_backward");
  if (gb) {
    d.bias(*gb, "conv2d_backward");
    check(cudnnConvolutionBackwardBias(h, k.one, d.y, ptr(gy), k.zero, d.b, ptr(*gb)), "conv2d_backward");
  }
}

}  // namespace FOVEA_CUDA_ABI
}  // namespace fovea::backend::cuda
