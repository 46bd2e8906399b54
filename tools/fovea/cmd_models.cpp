// `fovea models`: the model zoo's names.
#include <fmt/core.h>

#include "tools/fovea/commands.h"

namespace fovea::cli {

void add_models(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "list the networks of the model zoo");
  cmd->callback([] {
    fmt::print("The model zoo is empty in this version; networks arrive with the zoo issue.\n");
  });
}

}  // namespace fovea::cli
