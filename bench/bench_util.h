#pragma once
// Timing shared by the benchmarks: the median of repeated runs after two warm-up calls.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace fovea::bench {

// Runs f until `budget` seconds have been spent (at least 3 timed runs); returns the median.
inline double median_seconds(const std::function<void()>& f, double budget) {
  for (int i = 0; i < 2; ++i) f();
  std::vector<double> t;
  double total = 0;
  while (total < budget || t.size() < 3) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    t.push_back(dt);
    total += dt;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace fovea::bench
