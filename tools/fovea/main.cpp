// fovea: the command-line tool. Each subcommand lives in its own cmd_*.cpp file.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "fovea/core/error.h"
#include "fovea/core/threads.h"
#include "tools/fovea/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"fovea: build, train, inspect and explain convolutional networks"};
  app.set_version_flag("--version", std::string("fovea ") + FOVEA_VERSION);
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "worker threads (default: FOVEA_NUM_THREADS, OMP_NUM_THREADS or all cores)")
      ->check(CLI::PositiveNumber);
  app.parse_complete_callback([&] {
    if (threads > 0) fovea::set_num_threads(threads);
  });
  app.fallthrough();  // --threads may follow the subcommand
  fovea::cli::add_models(app);
  fovea::cli::add_train(app);
  fovea::cli::add_eval(app);
  fovea::cli::add_predict(app);
  fovea::cli::add_summary(app);
  fovea::cli::add_run(app);
  fovea::cli::add_export(app);
  fovea::cli::add_explain(app);
  fovea::cli::add_features(app);
  fovea::cli::add_finetune(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {  // also CLI::RuntimeError(130) from an interrupted run
    return app.exit(e);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
