// The entry point of libfovea_cuda.so, the CUDA backend as a library of its own: libfovea looks
// it up by this unmangled name the first time a cuda device is asked for (registry.cpp).
#include "fovea/backend/cuda/cuda_backend.h"

extern "C" __attribute__((visibility("default"))) fovea::backend::Backend* fovea_cuda_backend() {
  return fovea::backend::cuda::cuda_backend();
}
