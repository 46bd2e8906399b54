// Train LeNet-5 on a few thousand Fashion-MNIST images and keep its HTML report up to date
// after every epoch, then compare it with a second run at another learning rate on one page.
// Usage: train_with_report OUT_DIR   (writes OUT_DIR/a, OUT_DIR/b and OUT_DIR/compare.html)
#include <fmt/core.h>

#include <filesystem>

#include "fovea/report/report.h"
#include "fovea/train/trainer.h"

using namespace fovea;

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out(argv[1]);
  try {
    std::vector<std::string> runs;
    for (double lr : {0.05, 0.01}) {
      train::TrainOptions o;
      o.config.model = "lenet5";
      o.config.epochs = 3;
      o.config.lr = lr;
      o.config.limit_train = 6000;
      o.config.limit_test = 1000;
      o.out_dir = (out / (runs.empty() ? "a" : "b")).string();
      o.quiet = true;
      // the page after every epoch, as `fovea train --report` does; it says "in progress" until the end
      o.on_epoch = [&o](std::int64_t done, std::int64_t epochs) {
        report::write_report({o.out_dir}, o.out_dir + "/report.html", {.in_progress = done < epochs});
      };
      train::train(o);
      runs.push_back(o.out_dir);
      fmt::print("report of the run: {}/report.html\n", o.out_dir);
    }
    // the two runs side by side; notes say what a run directory lacked
    for (const auto& note : report::write_report(runs, (out / "compare.html").string())) fmt::print("note: {}\n", note);
    fmt::print("comparison: {}\n", (out / "compare.html").string());
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
