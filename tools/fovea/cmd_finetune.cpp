// `fovea finetune`: transfer learning in the article's three steps: (1) take pretrained
// weights, (2) freeze the body and train a new head, (3) unfreeze the last block(s) and train on
// with a low learning rate (docs/transfer.md).
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "fovea/analysis/summary.h"
#include "fovea/train/finetune.h"
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

}  // namespace

void add_finetune(CLI::App& app) {
  auto* cmd = app.add_subcommand("finetune", "transfer learning: pretrained weights, a new head, then fine-tuning");
  struct Args {
    train::FinetuneOptions f;
    std::string input;
  };
  auto a = std::make_shared<Args>();
  auto& c = a->f.base.config;
  c.schedule = "cosine";
  cmd->add_option(
         "--from", a->f.from,
         "pretrained: a fovea checkpoint, a state dict (.safetensors, or a torch.save .pth / .pt) or an .onnx file")
      ->required();
  cmd->add_option("--model", c.model, "the network (default: the checkpoint's, or the .onnx file itself)");
  cmd->add_option("--data", c.data, "fashion-mnist | mnist:DIR | folder:DIR")->capture_default_str();
  cmd->add_option("--classes", c.select_classes, "only these classes of the data (indices), relabelled 0..K-1")
      ->delimiter(',');
  cmd->add_option("--per-class", c.per_class, "at most N training images of each class");
  cmd->add_option("--num-classes", a->f.num_classes, "the new head's classes (checked against the data)");
  cmd->add_option("--head", c.head, "the layer to replace ('auto': the last Linear layer)")->capture_default_str();
  cmd->add_option("--head-epochs", a->f.head_epochs, "step 2: epochs training the new head only")
      ->capture_default_str();
  cmd->add_option("--head-lr", a->f.head_lr, "step 2: learning rate")->capture_default_str();
  cmd->add_option("--unfreeze", a->f.unfreeze, "step 3: patterns trained with the head, e.g. 'layer4.*' (repeatable)")
      ->required();
  cmd->add_option("--finetune-epochs", a->f.finetune_epochs, "step 3: epochs")->capture_default_str();
  cmd->add_option("--finetune-lr", a->f.finetune_lr, "step 3: the low learning rate")->capture_default_str();
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
  cmd->add_option("--out", a->f.base.out_dir, "run directory: head/ and finetune/ runs inside")->required();
  cmd->add_flag("--quiet", a->f.base.quiet, "one plain line per epoch");
  cmd->callback([a] {
    auto& f = a->f;
    if (!a->input.empty()) f.base.config.input = parse_chw(a->input, kOp);
    f.base.command = command_line();
    f.on_stage = [&f](int stage, const train::RunConfig& c, const std::string& head) {
      if (stage == 2)
        fmt::print("== step 2: train the new head '{}' on frozen pretrained features ({} epochs, lr {})\n", head,
                   f.head_epochs, f.head_lr);
      else
        fmt::print("\n== step 3: fine-tune {} and the head ({} epochs, lr {})\n", fmt::join(f.unfreeze, ", "),
                   f.finetune_epochs, f.finetune_lr);
      print_frozen(c, stdout);
    };
    const auto r = train::finetune(f);
    if (r.interrupted) throw CLI::RuntimeError(130);
    fmt::print(
        "\nnew head only: best test top-1 {:.2f}%; after fine-tuning: best {:.2f}%, last {:.2f}%\n"
        "the fine-tuned model: {}/best.safetensors\n",
        100 * r.head.best_top1, 100 * r.finetune.best_top1, 100 * r.finetune.last_top1, r.finetune_dir);
  });
}

}  // namespace fovea::cli
