// `fovea train`: the main job (docs/training.md).
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "fovea/core/threads.h"
#include "fovea/dist/dist.h"
#include "fovea/report/report.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

// The options given with --resume whose value differs from the run's own configuration (which
// --resume keeps): "--epochs 45 (the run's: 10)".
std::vector<std::string> ignored_options(const CLI::App& cmd, const train::RunConfig& given,
                                         const std::string& given_input, const train::RunConfig& run) {
  const auto mine = nlohmann::json::parse(given.to_json()), theirs = nlohmann::json::parse(run.to_json());
  std::vector<std::string> out;
  for (const CLI::Option* opt : cmd.get_options()) {
    const std::string name = opt->get_name();
    if (opt->count() == 0 || name == "--out" || name == "--resume" || name == "--quiet" || name == "--help") continue;
    std::string key = name.substr(2);
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "classes") key = "select_classes";
    if (key == "new_head") key = "head";
    nlohmann::json value = mine.value(key, nlohmann::json());
    if (key == "input") value = parse_chw(given_input, "train");
    if (!theirs.contains(key) || value == theirs[key]) continue;
    out.push_back(fmt::format("{} {} (the run's: {})", name, fmt::join(opt->results(), ","), theirs[key].dump()));
  }
  return out;
}

}  // namespace

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "train a classifier and evaluate it after every epoch");
  auto o = std::make_shared<train::TrainOptions>();
  auto input = std::make_shared<std::string>();
  auto with_report = std::make_shared<bool>(false);
  auto& c = o->config;
  cmd->add_option("--model", c.model, "zoo model name (fovea models)")->capture_default_str();
  cmd->add_option("--data", c.data, "fashion-mnist | mnist:DIR | folder:DIR")->capture_default_str();
  cmd->add_option("--epochs", c.epochs)->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size)->capture_default_str();
  cmd->add_option("--optimizer", c.optimizer, "sgd | adam | adamw")->capture_default_str();
  cmd->add_option("--lr", c.lr, "learning rate (the peak for onecycle)")->capture_default_str();
  cmd->add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay)->capture_default_str();
  cmd->add_option("--schedule", c.schedule, "none | cosine | step | onecycle")->capture_default_str();
  cmd->add_option("--warmup-epochs", c.warmup_epochs, "linear warm-up epochs before the schedule")
      ->capture_default_str();
  cmd->add_option("--augment", c.augment, "none, or a list of crop[=PAD], flip, rotate=DEG, erase[=P]")
      ->capture_default_str();
  cmd->add_option("--normalize", c.normalize, "auto (mean/std of the training data) | none | M1,..,S1,..")
      ->capture_default_str();
  cmd->add_option("--input", *input, "model input CxHxW (images are resized); default: the data's");
  cmd->add_option("--val-fraction", c.val_fraction, "folder data: share held out for validation")
      ->capture_default_str();
  cmd->add_option("--seed", c.seed)->capture_default_str();
  cmd->add_option("--workers", c.workers, "data loading threads")->capture_default_str();
  cmd->add_option("--device", c.device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--precision", c.precision, "f32 | bf16 (CUDA: conv and linear layers in bf16, f32 master weights)")
      ->capture_default_str();
  cmd->add_flag("--cuda-graph", c.cuda_graph,
                "replay each training step as a CUDA graph (SGD on CUDA; pays off with --schedule none or step)");
  cmd->add_flag("--sync-bn", c.sync_bn,
                "under mpirun: batch norms normalise with the whole global batch's statistics (SyncBatchNorm)");
  cmd->add_option("--limit-train", c.limit_train, "a seeded stratified subset of N training images (smoke tests)");
  cmd->add_option("--limit-test", c.limit_test, "a seeded stratified subset of N test images (smoke tests)");
  cmd->add_option("--classes", c.select_classes, "only these classes (indices, comma-separated), relabelled 0..K-1")
      ->delimiter(',');
  cmd->add_option("--per-class", c.per_class, "at most N training images of each class");
  cmd->add_option(
      "--init-from", c.init_from,
      "pretrained weights: a fovea checkpoint, a state dict (.safetensors or torch.save .pth / .pt) or .onnx");
  cmd->add_option("--new-head", c.head,
                  "rebuild this layer for the data's classes, freshly initialised ('auto': the classifier)");
  cmd->add_option("--freeze", c.freeze, "parameter-name pattern to freeze, e.g. 'features.*' (repeatable)");
  cmd->add_option("--unfreeze", c.unfreeze, "pattern made trainable again after --freeze (repeatable)");
  cmd->add_flag("--bn-update", c.bn_update, "frozen batch norms still update their running statistics");
  cmd->add_option("--out", o->out_dir, "run directory")->capture_default_str();
  cmd->add_flag("--resume", o->resume, "continue the run in --out (its configuration is kept)");
  cmd->add_flag("--quiet", o->quiet, "one plain line per epoch, no progress bar");
  cmd->add_flag("--report", *with_report, "rewrite OUT/report.html after every epoch (fovea report)");
  cmd->callback([cmd, o, input, with_report] {
    if (!input->empty()) o->config.input = parse_chw(*input, "train");
    const bool lead = dist::rank() == 0;  // one voice in a distributed run
    o->on_resume = [cmd, given = o->config, given_input = *input, lead](const train::RunConfig& run) {
      const auto ignored = ignored_options(*cmd, given, given_input, run);
      if (lead && !ignored.empty())
        fmt::print(stderr, "note: --resume continues the run as it was configured; ignored: {}\n",
                   fmt::join(ignored, ", "));
    };
    o->command = command_line();
    const std::string report_path = (std::filesystem::path(o->out_dir) / "report.html").string();
    if (*with_report)
      // a page that cannot be written is a warning: the training goes on
      o->on_epoch = [run = o->out_dir, report_path](std::int64_t done, std::int64_t epochs) {
        try {
          report::write_report({run}, report_path, {.in_progress = done < epochs});
        } catch (const std::exception& e) {
          fmt::print(stderr, "warning: the report was not written: {}\n", e.what());
        }
      };
    auto r = train::train(*o);
    if (r.interrupted) {
      const std::string launch = dist::world_size() > 1 ? fmt::format("mpirun -np {} ", dist::world_size()) : "";
      // the same thread count keeps the resumed run bit-identical to an uninterrupted one
      if (lead)
        fmt::print("interrupted after a step; resume with: {}fovea train --resume --out {} --threads {}\n", launch,
                   o->out_dir, num_threads());
      throw CLI::RuntimeError(130);  // the shell's code for an interrupted job
    }
    if (lead && !r.already_complete)
      fmt::print("best test top-1 {:.2f}%, last {:.2f}%\n", 100 * r.best_top1, 100 * r.last_top1);
    if (lead && *with_report && r.epochs_done > 0 && std::filesystem::exists(report_path))
      fmt::print("report: {}\n", report_path);
  });
}

}  // namespace fovea::cli
