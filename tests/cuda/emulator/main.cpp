// The emulator's test runner: the emulated CUDA backend serves the `cuda` device, then every
// test of tests/cuda runs against it (and the emulator's own tests).
#include <gtest/gtest.h>

#include "fovea/backend/cuda/cuda_backend.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  fovea::backend::register_backend(fovea::DeviceType::cuda, fovea::backend::cuda::cuda_backend());
  return RUN_ALL_TESTS();
}
