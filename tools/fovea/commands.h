#pragma once
// Registration functions of the CLI's subcommands; each runs its work in a callback.
#include <CLI/CLI.hpp>

namespace fovea::cli {

void add_models(CLI::App& app);

}  // namespace fovea::cli
