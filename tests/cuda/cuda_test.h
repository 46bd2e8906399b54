#pragma once
// Shared by the tests of tests/cuda: they need a CUDA device (a GPU, or the CUDA emulator's).
#include <gtest/gtest.h>

#include "fovea/backend/backend.h"

// In a fixture's SetUp: skips the test, saying that `what` was NOT checked, where fovea was built
// without CUDA or the machine has no GPU.
#define FOVEA_SKIP_WITHOUT_CUDA(what)      \
  if (!::fovea::backend::cuda_available()) \
  GTEST_SKIP() << "no CUDA device (or fovea built without FOVEA_CUDA): " << (what) << " NOT checked"
