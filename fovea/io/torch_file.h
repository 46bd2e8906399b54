#pragma once
// PyTorch checkpoint files (`torch.save`, the zip format of PyTorch 1.6 and later): a zip
// archive holding ARCHIVE/data.pkl, the pickled object, and ARCHIVE/data/KEY, the raw bytes of
// each storage the pickle refers to by persistent id. The pickle is read by a restricted
// unpickler that accepts exactly what a state dict needs and executes nothing, as
// torch.load(weights_only=True): dicts (collections.OrderedDict), lists, tuples, numbers,
// strings, tensors (torch._utils._rebuild_tensor_v2, _rebuild_parameter) over the typed
// storages (Float, Double, Half, BFloat16, Long, Int, Short, Char, Byte, Bool). Any other global
// is refused with an error naming it. The legacy (pre-1.6, tar / raw pickle) format is refused
// with a message saying how to re-save the file.
#include <string>
#include <utility>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::io {

struct TorchFile {
  // The state dict: its tensors in the file's order, keys as saved ("features.0.weight").
  std::vector<std::pair<std::string, Tensor>> tensors;
  // Where in the pickled object the state dict was: "" (the object itself), or the key of the
  // checkpoint dict that held it ("state_dict", "model", "model_state_dict", ...).
  std::string found_at;
};

// Refuses what is not a zip-format torch file, a malformed archive or pickle, a global outside
// the allowed ones (naming it), storages that are missing or shorter than a tensor needs, and
// objects in which no state dict (a dict of tensors) can be found.
TorchFile load_torch(const std::string& path);
// Whether the file starts as a zip archive does (what torch.save writes since PyTorch 1.6).
bool is_zip_file(const std::string& path);

// A file of named tensors: safetensors, or a torch.save zip file (load_torch), told apart by
// their first bytes.
std::vector<std::pair<std::string, Tensor>> load_named_tensors(const std::string& path);

// A state dict as users bring it: load_named_tensors, with the key prefix that wrapping adds
// ("module." of torch.nn.DataParallel and DistributedDataParallel) dropped when every key has it;
// of a fovea train checkpoint (safetensors with a "config"), the model's tensors.
struct StateDictFile {
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::string found_at;  // torch checkpoints: the key that held the state dict ("state_dict"), or ""
  std::string dropped;   // the prefix dropped from every key, or ""
  bool fovea_checkpoint = false;
  // "" when the file was a plain state dict; else what was done: "the state dict under 'state_dict'
  // of the checkpoint, prefix 'module.' dropped"
  std::string note() const;
};
StateDictFile read_state_dict(const std::string& path);

}  // namespace fovea::io
