#pragma once
// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header
// length N, N bytes of UTF-8 JSON {"name": {"dtype", "shape", "data_offsets": [b, e]}, ...,
// "__metadata__": {str: str}}, then the raw little-endian data. Every rule of the reference
// reader is enforced on load; writes are atomic (temp file + rename).
#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::io {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in file order (by data offset)
  std::map<std::string, std::string> metadata;

  bool contains(const std::string& name) const;
  const Tensor& at(const std::string& name) const;  // throws "[safetensors] no tensor 'name'"
};

// The header-size limit of the reference implementation (100 MB).
inline constexpr std::size_t kMaxSafetensorsHeader = 100'000'000;

SafetensorsFile load_safetensors(const std::string& path);
// `source` names the buffer in error messages (usually the file path).
SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, const std::string& source);
std::vector<std::byte> serialize_safetensors(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                             const std::map<std::string, std::string>& metadata = {});
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Writes bytes to path atomically: a temp file in the same folder, fsync, rename.
void write_file_atomic(const std::string& path, std::span<const std::byte> bytes);
// Removes the temporary files write_file_atomic left in `dir` when its process was killed
// mid-write (".NAME.PID.STAMP.N.tmp" of a PID that no longer runs); returns how many.
int remove_stale_temporaries(const std::string& dir);

}  // namespace fovea::io
