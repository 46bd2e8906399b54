#pragma once
// Registration functions of the CLI's subcommands; each runs its work in a callback and
// reports errors by throwing fovea::Error (main prints it and exits non-zero).
#include <CLI/CLI.hpp>

namespace fovea::cli {

void add_models(CLI::App& app);
void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_predict(CLI::App& app);
void add_summary(CLI::App& app);  // also `rf`
void add_run(CLI::App& app);
void add_export(CLI::App& app);
void add_explain(CLI::App& app);
void add_features(CLI::App& app);
void add_finetune(CLI::App& app);
void add_report(CLI::App& app);

}  // namespace fovea::cli
