#pragma once
// Worker threads for OpenMP loops and oneDNN (which uses the same OpenMP runtime here).
// The default comes from FOVEA_NUM_THREADS, else OMP_NUM_THREADS, else the core count.

namespace fovea {

void set_num_threads(int n);  // n >= 1
int num_threads();
// Reads FOVEA_NUM_THREADS once; the backends call it before their first kernel.
void init_threads_from_env();

// OpenMP threads that wait for work spin before they sleep: under libgomp's default (300,000
// spins), a machine shared with other work stalls each parallel region (a small `fovea explain`:
// 6.3 s against 0.5 s with one thread). The spin count is read when libgomp loads, before main,
// so unless the user chose a wait policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set), this
// relaunches the program (execv of /proc/self/exe, same arguments) with GOMP_SPINCOUNT=
// kShortSpinCount: as fast as the default on an idle machine, without the collapse
// (docs/backend.md, "Threads"). Call it first thing in main; it returns when nothing is to do or
// the relaunch failed.
inline constexpr const char* kShortSpinCount = "10000";
void use_short_spin_wait(char** argv);

}  // namespace fovea
