// `fovea finetune`: transfer learning in the article's three steps: (1) take pretrained
// weights, (2) freeze the body and train a new head, (3) unfreeze the last block(s) and train on
// with a low learning rate (docs/transfer.md).
#include <fmt/core.h>

#include <filesystem>

#include "fovea/analysis/summary.h"
#include "fovea/io/safetensors.h"
#include "fovea/io/torch_file.h"
#include "fovea/onnx/import.h"
#include "fovea/train/checkpoint.h"
#include "fovea/train/pretrained.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

constexpr const char* kOp = "finetune";

// Which layers train in this stage: the model as the stage builds it, frozen as it says; the
// table stops at depth 1, so the layers that train are listed by their full names below it.
void print_frozen(const train::RunConfig& c, std::FILE* out) {
  auto model = train::build_model(c);
  for (const auto& g : c.freeze) model->freeze(g, c.bn_update);
  for (const auto& g : c.unfreeze) model->unfreeze(g);
  fmt::print(out, "{}", analysis::format_summary(analysis::summarize(*model, c.input), analysis::Format::table, 1));
  std::vector<std::string> trainable;
  for (const auto& [name, m] : model->named_modules()) {
    if (name.empty() || !m->named_children().empty()) continue;
    for (const auto& [p, t] : m->named_parameters(false))
      if (t.requires_grad()) {
        trainable.push_back(fmt::format("{} ({})", name, m->type()));
        break;
      }
  }
  fmt::print(out, "trainable layers ({}): {}\n", trainable.size(), fmt::join(trainable, ", "));
}

bool is_checkpoint(const std::string& path) {
  if (onnx::is_onnx_path(path) || io::is_zip_file(path)) return false;  // .onnx, torch.save
  return io::load_safetensors(path).metadata.count("config") > 0;
}

}  // namespace

void add_finetune(CLI::App& app) {
  auto* cmd = app.add_subcommand("finetune", "transfer learning: pretrained weights, a new head, then fine-tuning");
  struct Args {
    train::TrainOptions o;
    std::string from, input, unfreeze_list;
    std::int64_t num_classes = 0, head_epochs = 5, finetune_epochs = 10;
    double head_lr = 0.01, finetune_lr = 1e-4;
    std::vector<std::string> unfreeze;
  };
  auto a = std::make_shared<Args>();
  auto& c = a->o.config;
  c.schedule = "cosine";
  cmd->add_option(
         "--from", a->from,
         "pretrained: a fovea checkpoint, a state dict (.safetensors, or a torch.save .pth / .pt) or an .onnx file")
      ->required();
  cmd->add_option("--model", c.model, "the network (default: the checkpoint's, or the .onnx file itself)");
  cmd->add_option("--data", c.data, "fashion-mnist | mnist:DIR | folder:DIR")->capture_default_str();
  cmd->add_option("--classes", c.select_classes, "only these classes of the data (indices), relabelled 0..K-1")
      ->delimiter(',');
  cmd->add_option("--per-class", c.per_class, "at most N training images of each class");
  cmd->add_option("--num-classes", a->num_classes, "the new head's classes (checked against the data)");
  cmd->add_option("--head", c.head, "the layer to replace ('auto': the last Linear layer)")->capture_default_str();
  cmd->add_option("--head-epochs", a->head_epochs, "step 2: epochs training the new head only")->capture_default_str();
  cmd->add_option("--head-lr", a->head_lr, "step 2: learning rate")->capture_default_str();
  cmd->add_option("--unfreeze", a->unfreeze, "step 3: patterns trained with the head, e.g. 'layer4.*' (repeatable)")
      ->required();
  cmd->add_option("--finetune-epochs", a->finetune_epochs, "step 3: epochs")->capture_default_str();
  cmd->add_option("--finetune-lr", a->finetune_lr, "step 3: the low learning rate")->capture_default_str();
  cmd->add_flag("--bn-update", c.bn_update, "frozen batch norms still update their running statistics");
  cmd->add_option("--optimizer", c.optimizer, "sgd | adam | adamw")->capture_default_str();
  cmd->add_option("--batch-size", c.batch_size)->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay)->capture_default_str();
  cmd->add_option("--augment", c.augment, "none, or crop[=PAD], flip, rotate=DEG, erase[=P]")->capture_default_str();
  cmd->add_option("--normalize", c.normalize, "auto | none | M1,..,S1,.. (a checkpoint's own is used when it has one)")
      ->capture_default_str();
  cmd->add_option("--input", a->input, "model input CxHxW (images are resized); default: the data's");
  cmd->add_option("--seed", c.seed)->capture_default_str();
  cmd->add_option("--workers", c.workers)->capture_default_str();
  cmd->add_option("--device", c.device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--precision", c.precision, "f32 | bf16 (CUDA: conv and linear layers in bf16, f32 master weights)")
      ->capture_default_str();
  cmd->add_flag("--cuda-graph", c.cuda_graph,
                "replay each training step as a CUDA graph (SGD on CUDA; pays off with --schedule none or step)");
  cmd->add_option("--limit-train", c.limit_train, "a seeded stratified subset of N training images (smoke tests)");
  cmd->add_option("--limit-test", c.limit_test, "a seeded stratified subset of N test images (smoke tests)");
  cmd->add_option("--out", a->o.out_dir, "run directory: head/ and finetune/ runs inside")->required();
  cmd->add_flag("--quiet", a->o.quiet, "one plain line per epoch");
  cmd->callback([a] {
    auto& c = a->o.config;
    c.head = c.head.empty() ? "auto" : c.head;
    if (!a->input.empty()) c.input = parse_chw(a->input, kOp);
    if (a->head_epochs < 1 || a->finetune_epochs < 1) fail(kOp, "--head-epochs and --finetune-epochs must be >= 1");
    if (!(a->head_lr > 0) || !(a->finetune_lr > 0)) fail(kOp, "learning rates must be > 0");
    const std::string run = a->o.out_dir;
    const std::string head_dir = (std::filesystem::path(run) / "head").string();
    const std::string tune_dir = (std::filesystem::path(run) / "finetune").string();
    if (std::filesystem::exists(std::filesystem::path(head_dir) / "last.safetensors"))
      fail(kOp, "{} already holds a run; choose another --out", run);

    // (1) the pretrained network: a checkpoint brings its model and normalisation
    c.init_from = a->from;
    if (is_checkpoint(a->from)) {
      const auto ck = train::load_checkpoint(a->from);
      if (c.model == train::RunConfig{}.model) {
        c.model = ck.config.model;
        c.model_spec = ck.config.model_spec;
      }
      if (c.mean.empty() && ck.config.in_channels == static_cast<std::int64_t>(ck.config.mean.size())) {
        c.mean = ck.config.mean;
        c.std = ck.config.std;
      }
    } else if (onnx::is_onnx_path(a->from)) {
      c.model = a->from;
    }
    {
      train::RunConfig probe = c;
      train::open_data(probe);
      if (a->num_classes && a->num_classes != probe.num_classes)
        fail(kOp, "--num-classes {} but the data has {} classes", a->num_classes, probe.num_classes);
      c.num_classes = probe.num_classes;
      c.in_channels = probe.in_channels;
      c.input = probe.input;
      c.classes = probe.classes;
    }
    // the input, the head and every pattern checked before anything is trained or written
    train::check_input_fits(c);
    const std::string head = [&] {
      auto m = train::build_model(c);
      const std::string h = c.head == "auto" ? train::find_head(*m) : c.head;
      m->freeze("*");
      for (const auto& g : a->unfreeze) m->unfreeze(g);
      m->unfreeze(h + ".*");
      return h;
    }();

    // (2) body frozen, new head trained
    train::TrainOptions s1 = a->o;
    s1.out_dir = head_dir;
    s1.config.freeze = {"*"};
    s1.config.unfreeze = {head + ".*"};
    s1.config.epochs = a->head_epochs;
    s1.config.lr = a->head_lr;
    fmt::print("== step 2: train the new head '{}' on frozen pretrained features ({} epochs, lr {})\n", head,
               a->head_epochs, a->head_lr);
    print_frozen(s1.config, stdout);
    s1.command = command_line();
    auto r1 = train::train(s1);
    if (r1.interrupted) throw CLI::RuntimeError(130);

    // (3) the chosen blocks unfrozen, everything trainable at the low learning rate
    train::TrainOptions s2 = a->o;
    s2.out_dir = tune_dir;
    s2.config = train::load_checkpoint((std::filesystem::path(head_dir) / "last.safetensors").string()).config;
    s2.config.init_from = (std::filesystem::path(head_dir) / "last.safetensors").string();
    s2.config.head_from_pretrained = true;
    s2.config.unfreeze = a->unfreeze;
    s2.config.unfreeze.push_back(head + ".*");
    s2.config.epochs = a->finetune_epochs;
    s2.config.lr = a->finetune_lr;
    fmt::print("\n== step 3: fine-tune {} and the head ({} epochs, lr {})\n", fmt::join(a->unfreeze, ", "),
               a->finetune_epochs, a->finetune_lr);
    print_frozen(s2.config, stdout);
    s2.command = command_line();
    auto r2 = train::train(s2);
    if (r2.interrupted) throw CLI::RuntimeError(130);
    fmt::print(
        "\nnew head only: best test top-1 {:.2f}%; after fine-tuning: best {:.2f}%, last {:.2f}%\n"
        "the fine-tuned model: {}/best.safetensors\n",
        100 * r1.best_top1, 100 * r2.best_top1, 100 * r2.last_top1, tune_dir);
  });
}

}  // namespace fovea::cli
