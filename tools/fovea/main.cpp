// fovea: the command-line tool. Each subcommand lives in its own cmd_*.cpp file.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "fovea/core/error.h"
#include "fovea/core/threads.h"
#include "fovea/core/version.h"
#include "fovea/dist/dist.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace {

// An error in a distributed run (mpirun): one the ranks reached together is printed by rank 0
// and every rank exits with 1; one rank's own error names the rank and ends the whole job, so
// that no other rank waits forever in a collective.
int fail_run(const std::exception& e) {
  const int world = fovea::dist::world_size(), rank = fovea::dist::rank();
  if (world == 1) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  if (dynamic_cast<const fovea::dist::AgreedError*>(&e)) {
    if (rank == 0) fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  fmt::print(stderr, "error on rank {} of {}: {}\n", rank, world, e.what());
  std::fflush(stderr);
  fovea::dist::abort(1);
}

}  // namespace

int main(int argc, char** argv) {
  fovea::use_short_spin_wait(argv);  // before any thread starts (docs/backend.md, "Threads")
  try {
    fovea::dist::init();  // a rank of an mpirun job, or nothing (docs/distributed.md)
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  CLI::App app{"fovea: build, train, inspect and explain convolutional networks"};
  app.set_version_flag("--version", "fovea " + fovea::version() + " (" + fovea::build_commit() + ")");
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
  fovea::cli::add_report(app);
  fovea::cli::set_command_line(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {  // also CLI::RuntimeError(130) from an interrupted run
    // every rank of an mpirun job parsed the same line: rank 0 alone says what is wrong
    if (fovea::dist::rank() != 0) return e.get_exit_code();
    return app.exit(e);
  } catch (const std::exception& e) {
    return fail_run(e);
  }
  return 0;
}
