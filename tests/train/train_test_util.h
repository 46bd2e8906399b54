#pragma once
// A small synthetic MNIST-format dataset written per test, and training options on it (shared
// by the trainer and transfer-learning tests).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fovea/train/trainer.h"

namespace fovea::test {

namespace fs = std::filesystem;

inline void write_be32(std::ofstream& f, std::uint32_t v) {
  unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                        static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  f.write(reinterpret_cast<char*>(b), 4);
}

// n images of 28x28: noise plus a bright bar whose row encodes the label (0..9)
inline void write_split(const fs::path& dir, const char* prefix, std::uint32_t n, std::uint64_t seed) {
  Generator g(seed);
  std::ofstream img(dir / (std::string(prefix) + "-images-idx3-ubyte"), std::ios::binary);
  std::ofstream lab(dir / (std::string(prefix) + "-labels-idx1-ubyte"), std::ios::binary);
  write_be32(img, 0x00000803);
  write_be32(img, n);
  write_be32(img, 28);
  write_be32(img, 28);
  write_be32(lab, 0x00000801);
  write_be32(lab, n);
  for (std::uint32_t i = 0; i < n; ++i) {
    auto label = static_cast<unsigned char>(g.below(10));
    lab.put(static_cast<char>(label));
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        int v = static_cast<int>(g.below(60));
        if (r == 3 + 2 * label && c >= 4 && c < 24) v += 150;
        img.put(static_cast<char>(v));
      }
  }
}

struct SyntheticRun {
  fs::path root;
  SyntheticRun() {
    // unique per process and test: ctest runs the tests in parallel processes
    root =
        fs::path(::testing::TempDir()) /
        fmt::format("fovea_train_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root / "data");
    write_split(root / "data", "train", 512, 1);
    write_split(root / "data", "t10k", 128, 2);
  }
  ~SyntheticRun() { fs::remove_all(root); }
  train::TrainOptions options(const std::string& name) const {
    train::TrainOptions o;
    o.config.data = "mnist:" + (root / "data").string();
    o.config.epochs = 2;
    o.config.batch_size = 32;
    o.config.lr = 0.05;
    o.config.workers = 1;
    o.config.seed = 3;
    o.out_dir = (root / name).string();
    o.quiet = true;
    o.log = log;
    return o;
  }
  std::FILE* log = std::tmpfile();
};

inline NamedTensors model_weights(const std::string& path) {
  auto ck = train::load_checkpoint(path);
  return ck.model;
}

}  // namespace fovea::test
