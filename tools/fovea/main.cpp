// fovea: the command-line tool. Each subcommand lives in its own cmd_*.cpp file.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "fovea/core/error.h"
#include "tools/fovea/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"fovea: build, train, inspect and explain convolutional networks"};
  app.set_version_flag("--version", std::string("fovea ") + FOVEA_VERSION);
  app.require_subcommand(1);
  fovea::cli::add_models(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
