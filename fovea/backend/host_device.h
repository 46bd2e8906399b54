#pragma once
// FOVEA_HOST_DEVICE marks a function that both devices run: __host__ __device__ under nvcc,
// nothing for the host compiler. The headers that hold the formulas both backends share
// (optim_math.h, activation_math.h, pool_window.h) are plain C++17 with no other fovea header,
// so the CUDA kernels include them as the CPU backend does.
#ifdef __CUDACC__
#define FOVEA_HOST_DEVICE __host__ __device__
#else
#define FOVEA_HOST_DEVICE
#endif
