#pragma once
// Random numbers: xoshiro256** seeded through splitmix64. The whole state is four integers,
// so checkpoints can store and restore it exactly.
#include <array>
#include <cstdint>

namespace fovea {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0x5eed) { manual_seed(seed); }
  void manual_seed(std::uint64_t seed);
  std::uint64_t next();
  double uniform();                      // [0, 1)
  double normal();                       // N(0, 1), Box-Muller
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n)
  std::array<std::uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<std::uint64_t, 4>& s) {
    s_ = s;
    has_spare_ = false;
  }

 private:
  std::array<std::uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0;
};

Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace fovea
