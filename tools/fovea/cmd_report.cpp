// `fovea report`: the HTML page of one run, or the comparison of several (docs/report.md).
#include <fmt/core.h>

#include <filesystem>

#include "fovea/report/report.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

void add_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "write one self-contained HTML page of a run, or compare several runs");
  auto runs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto methods = std::make_shared<std::string>("vanilla,guided,gradcam,guided-gradcam");
  auto o = std::make_shared<report::ReportOptions>();
  cmd->add_option("runs", *runs, "run directories written by fovea train (two or more: a comparison page)")->required();
  cmd->add_option("--out", *out, "the HTML file (default: RUN/report.html; several runs: compare.html)");
  cmd->add_option("--checkpoint", o->checkpoint, "the weights the results and explanations use: best | last")
      ->capture_default_str();
  cmd->add_option("--examples", o->examples_per_class, "test images explained per class")->capture_default_str();
  cmd->add_option("--classes-explained", o->max_explained_classes, "explain images of the first N classes")
      ->capture_default_str();
  cmd->add_option("--mistakes", o->mistakes, "the most confident mistakes shown")->capture_default_str();
  cmd->add_option("--max-test", o->max_test_images, "score at most N test images (a stratified subset; 0: all)")
      ->capture_default_str();
  cmd->add_option("--rf-layer", o->rf_layer, "the layer whose receptive field is drawn (default: chosen)");
  cmd->add_option("--methods", *methods, "explanation methods (as fovea explain --methods)")->capture_default_str();
  cmd->callback([runs, out, methods, o] {
    o->methods = explain::parse_methods(*methods);
    std::string path = *out;
    if (path.empty())
      path = runs->size() == 1 ? (std::filesystem::path(runs->front()) / "report.html").string() : "compare.html";
    for (const auto& n : report::write_report(*runs, path, *o)) fmt::print(stderr, "note: {}\n", n);
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(path, ec);
    fmt::print("wrote {} ({:.1f} MB, self-contained: open it in any browser, offline)\n", path,
               static_cast<double>(bytes) / 1e6);
  });
}

}  // namespace fovea::cli
