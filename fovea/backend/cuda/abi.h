#pragma once
// The backend's code lives in fovea::backend::cuda::FOVEA_CUDA_ABI: `device` when nvcc builds it
// for a GPU, `emulated` when tests/cuda/emulator compiles the same sources for the CPU, so that
// both can link into one test binary beside the core library.
#ifdef FOVEA_CUDA_EMULATOR
#define FOVEA_CUDA_ABI emulated
#else
#define FOVEA_CUDA_ABI device
#endif
