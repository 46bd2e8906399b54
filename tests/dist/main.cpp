// The distributed tests' runner: every rank runs every test (ctest starts it alone and under
// mpirun -np 2); a failure on any rank fails the job.
#include <gtest/gtest.h>

#include "fovea/dist/dist.h"

int main(int argc, char** argv) {
  fovea::dist::init();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
