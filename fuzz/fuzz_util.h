#pragma once
// Pieces the fuzz targets share: an input written to a file (for the parsers that read files:
// IDX through zlib, images through libpng / libjpeg, .pth through libzip, checkpoints), and the
// rule every target follows: fovea::Error is a refusal, the expected answer to a bad file; any
// other exception, a crash, a sanitizer report, a timeout or an allocation over the limit is a
// finding.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fovea/core/error.h"

namespace fovea::fuzz {

// The input as a file on a RAM disk when there is one (/dev/shm), unique per process.
inline std::string as_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
  static const std::string dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/fovea_fuzz_" + std::to_string(::getpid()) + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Runs f; a fovea::Error (the file refused with a message) is fine.
template <typename F>
void refusals_are_fine(F&& f) {
  try {
    f();
  } catch (const fovea::Error&) {
  }
}

}  // namespace fovea::fuzz
