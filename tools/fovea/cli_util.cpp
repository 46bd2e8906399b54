#include "tools/fovea/cli_util.h"

#include <filesystem>
#include <sstream>

#include "fovea/core/error.h"
#include "fovea/nn/serialize.h"

namespace fovea::cli {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

void check_out_dir(const std::string& dir, bool force, const char* op) {
  std::error_code ec;
  if (force || !std::filesystem::exists(dir, ec)) return;
  if (!std::filesystem::is_directory(dir, ec)) fail(op, "--out {} is a file, not a folder", dir);
  if (!std::filesystem::is_empty(dir, ec))
    fail(op, "--out {} already holds files; choose another folder or pass --force to write over them", dir);
}

void load_weights(nn::Module& m, const std::string& path) {
  const nn::LoadReport r = nn::load(m, path);
  if (!r.source.empty()) fmt::print(stderr, "--weights {}: read {}\n", path, r.source);
}

namespace {
std::string& command_line_storage() {
  static std::string s;
  return s;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  std::string s = "fovea";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool plain = !a.empty() && a.find_first_of(" \t\"'\\$") == std::string::npos;
    s += " " + (plain ? a : "'" + a + "'");
  }
  command_line_storage() = s;
}

const std::string& command_line() { return command_line_storage(); }

}  // namespace fovea::cli
