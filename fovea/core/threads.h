#pragma once
// Worker threads for OpenMP loops and oneDNN (which uses the same OpenMP runtime here).
// The default comes from FOVEA_NUM_THREADS, else OMP_NUM_THREADS, else the core count.

namespace fovea {

void set_num_threads(int n);  // n >= 1
int num_threads();
// Reads FOVEA_NUM_THREADS once; the backends call it before their first kernel.
void init_threads_from_env();

}  // namespace fovea
