#include "fovea/core/threads.h"

#include <omp.h>

#include <unistd.h>

#include <cstdlib>

#include "fovea/core/error.h"

namespace fovea {

void init_threads_from_env() {
  static const bool applied = [] {
    if (const char* v = std::getenv("FOVEA_NUM_THREADS")) {
      char* end = nullptr;
      long n = std::strtol(v, &end, 10);
      if (end == v || *end != '\0' || n < 1)
        fail("threads", "FOVEA_NUM_THREADS must be a positive integer, got '{}'", v);
      omp_set_num_threads(static_cast<int>(n));
    }
    return true;
  }();
  (void)applied;
}

void set_num_threads(int n) {
  init_threads_from_env();
  if (n < 1) fail("threads", "the number of threads must be >= 1, got {}", n);
  omp_set_num_threads(n);
}

void use_short_spin_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (setenv("GOMP_SPINCOUNT", kShortSpinCount, 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: run on with the runtime's default
  unsetenv("GOMP_SPINCOUNT");
}

int num_threads() {
  init_threads_from_env();
  return omp_get_max_threads();
}

}  // namespace fovea
