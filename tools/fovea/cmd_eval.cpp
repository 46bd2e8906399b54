// `fovea eval`: loss, top-1, top-5 and per-class accuracy of a checkpoint on its test data.
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "fovea/train/trainer.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "evaluate a checkpoint on test data");
  struct Args {
    std::string checkpoint, data, format = "text", device = "cpu";
    std::int64_t batch_size = 256, limit = 0;
    int workers = 2;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint written by fovea train")->required();
  cmd->add_option("--data", a->data, "data to evaluate on (default: the checkpoint's)");
  cmd->add_option("--format", a->format, "text | json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size)->capture_default_str();
  cmd->add_option("--limit", a->limit, "a seeded stratified subset of N test images (docs/data.md)");
  cmd->add_option("--workers", a->workers)->capture_default_str();
  cmd->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->callback([a] {
    auto [model, c] = train::load_trained(a->checkpoint);
    if (a->limit < 0) fail("eval", "--limit must be >= 0 (0: every image), got {}", a->limit);
    if (a->data.empty()) train::check_checkpoint_data(c, "eval");
    else c.data = a->data;
    c.limit_test = a->limit;
    auto ds = train::open_data(c);
    const auto counts = train::named_class_counts(*ds.test);
    const std::string warning =
        train::empty_classes_warning(counts, "test", a->limit > 0 ? fmt::format("--limit {}", a->limit) : "");
    if (!warning.empty()) fmt::print(stderr, "{}\n", warning);
    model->to(Device::parse(a->device));
    if (a->batch_size < 1) fail("eval", "batch size must be >= 1, got {}", a->batch_size);
    data::DataLoader loader(ds.test, train::eval_transform(c),
                            {.batch_size = a->batch_size, .shuffle = false, .workers = a->workers});
    auto m = train::evaluate(*model, loader);
    if (a->format == "json") {
      nlohmann::ordered_json per;
      auto acc = m.per_class_accuracy();
      for (size_t i = 0; i < c.classes.size(); ++i)
        per[c.classes[i]] = std::isnan(acc[i]) ? nlohmann::json() : nlohmann::json(acc[i]);
      nlohmann::ordered_json test_counts;
      for (const auto& [name, n] : counts) test_counts[name] = n;
      nlohmann::ordered_json j{{"checkpoint", a->checkpoint},
                               {"data", c.data},
                               {"samples", m.count()},
                               {"loss", m.loss()},
                               {"top1", m.top1()}};
      if (train::has_top5(c.num_classes)) j["top5"] = m.top5();
      j["per_class_accuracy"] = per;
      j["test_class_counts"] = test_counts;
      fmt::print("{}\n", j.dump(2));
      return;
    }
    fmt::print("{} on {} ({} images): loss {:.4f}  top-1 {:.2f}%{}\n\n{}", a->checkpoint, c.data, m.count(), m.loss(),
               100 * m.top1(), train::has_top5(c.num_classes) ? fmt::format("  top-5 {:.2f}%", 100 * m.top5()) : "",
               train::per_class_table(m, c.classes));
  });
}

}  // namespace fovea::cli
