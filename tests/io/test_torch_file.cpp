// torch.save files read without Python (fovea/io/torch_file.h), on files Debian's PyTorch 1.13
// wrote (tests/io/torch_files.py): every dtype and view a state dict holds, checkpoints that nest
// one, and files that must be refused without running anything.
#include "fovea/io/torch_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "fovea/io/safetensors.h"
#include "fovea/nn/nn.h"
#include "fovea/nn/serialize.h"
#include "tests/data/data_test_util.h"

using namespace fovea;

namespace {

std::string fixture(const std::string& name) {
  return std::string(FOVEA_SOURCE_DIR) + "/tests/io/fixtures/torch/" + name;
}

// The file's tensors equal, bit for bit, the expected twin torch_files.py wrote.
void expect_as_written(const io::TorchFile& got, const std::string& expected) {
  const auto want = io::load_safetensors(fixture(expected));
  ASSERT_EQ(got.tensors.size(), want.tensors.size());
  for (std::size_t i = 0; i < want.tensors.size(); ++i) {
    const auto& [name, t] = got.tensors[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(name, want.tensors[i].first);  // the file's order
    const Tensor& w = want.tensors[i].second;
    EXPECT_EQ(t.dtype(), w.dtype());
    EXPECT_EQ(t.shape(), w.shape());
    EXPECT_EQ(test::raw_bytes(t), test::raw_bytes(w));
  }
}

}  // namespace

TEST(TorchFile, StateDictOfEveryDtypeAndView) {
  const io::TorchFile f = io::load_torch(fixture("state_dict.pth"));
  EXPECT_EQ(f.found_at, "");
  expect_as_written(f, "state_dict.expected.safetensors");
}

TEST(TorchFile, CheckpointNestingAStateDict) {
  const io::TorchFile f = io::load_torch(fixture("checkpoint.pth"));
  EXPECT_EQ(f.found_at, "state_dict");
  expect_as_written(f, "checkpoint.expected.safetensors");
}

TEST(TorchFile, LoadsIntoAModuleWhereSafetensorsWould) {
  auto lin = nn::make<nn::Linear>({.in = 2, .out = 2});
  const auto report = nn::load(*lin, fixture("checkpoint.pth"));
  EXPECT_TRUE(report.missing.empty());
  const auto want = io::load_safetensors(fixture("checkpoint.expected.safetensors"));
  EXPECT_EQ(test::raw_bytes(lin->weight), test::raw_bytes(want.at("weight")));
  EXPECT_EQ(io::load_named_tensors(fixture("checkpoint.expected.safetensors")).size(), 2u);
}

// A DataParallel checkpoint: the state dict under "model_state_dict", every key "module.": both
// found, said, and the weights load where the unwrapped model's would.
TEST(TorchFile, WrappedCheckpointIsFoundAndSaid) {
  const auto f = io::read_state_dict(fixture("ddp_checkpoint.pth"));
  EXPECT_EQ(f.found_at, "model_state_dict");
  EXPECT_EQ(f.dropped, "module.");
  EXPECT_EQ(f.note(),
            "the state dict under 'model_state_dict' of the checkpoint, prefix 'module.' dropped from every key");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].first, "weight");
  auto lin = nn::make<nn::Linear>({.in = 2, .out = 2});
  const auto report = nn::load(*lin, fixture("ddp_checkpoint.pth"));
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.source, f.note());
  EXPECT_EQ(test::raw_bytes(lin->weight), test::raw_bytes(f.tensors[0].second));
  // a plain state dict says nothing
  EXPECT_EQ(io::read_state_dict(fixture("state_dict.pth")).note(), "");
}

TEST(TorchFile, RunsNothingAndRefusesOtherGlobals) {
  std::filesystem::remove("/tmp/fovea_torch_file_pwned");
  EXPECT_CONTAINS(test::error_of([] { io::load_torch(fixture("evil.pth")); }),
                  "the pickle refers to posix.system, which a state dict never needs; refused (nothing in the file "
                  "was run)");
  EXPECT_FALSE(std::filesystem::exists("/tmp/fovea_torch_file_pwned"));
  EXPECT_CONTAINS(test::error_of([] { io::load_torch(fixture("unknown_global.pth")); }), "collections.Counter");
}

TEST(TorchFile, MalformedFilesAreClearErrors) {
  const auto err = [](const std::string& name) { return test::error_of([&] { io::load_torch(fixture(name)); }); };
  EXPECT_CONTAINS(err("truncated.pth"), "not a readable zip archive");
  EXPECT_CONTAINS(err("truncated_pickle.pth"), "the pickle ends early (truncated file)");
  EXPECT_CONTAINS(err("short_storage.pth"), "storage 0 holds 10 bytes, less than its 54 elements of 4 bytes");
  EXPECT_CONTAINS(err("huge_shape.pth"), "has more elements than any storage holds");
  EXPECT_CONTAINS(err("past_end.pth"), "reaches past the end of storage");
  // found by fuzzing: a second reference to a storage already read was not checked against its length
  EXPECT_CONTAINS(err("storage_claims_differ.pth"), "storage 0 holds 8 bytes, less than its 8 elements of 4 bytes");
  EXPECT_CONTAINS(err("legacy.pth"), "is not a zip-format torch file (PyTorch 1.6 and later write those)");
  EXPECT_CONTAINS(err("no_state_dict.pth"),
                  "no state dict (a dict of tensors) in the file: it holds a dict with keys "
                  "epoch, notes");
  EXPECT_CONTAINS(err("absent.pth"), "absent.pth not found");
  EXPECT_CONTAINS(err("state_dict.expected.safetensors"), "is not a zip-format torch file");
}
