#pragma once
// Timing shared by the benchmarks: the median of repeated runs after two warm-up calls.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace fovea::bench {

// Runs f `warmup` times, then until `budget` seconds have been spent (at least min_runs timed
// runs); returns the median and, when asked, how many runs were timed.
inline double median_seconds(const std::function<void()>& f, double budget, int warmup = 2, std::size_t min_runs = 3,
                             std::size_t* runs = nullptr) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  double total = 0;
  while (total < budget || t.size() < min_runs) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t.push_back(dt);
    total += dt;
  }
  std::sort(t.begin(), t.end());
  if (runs) *runs = t.size();
  return t[t.size() / 2];
}

}  // namespace fovea::bench
