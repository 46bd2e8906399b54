// The HTML report's data and page (fovea/report): what a run directory gives, what is missing,
// and a page whose slots are filled and that fetches nothing. The page in a browser:
// tests/report/report_page.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fovea/report/report.h"
#include "tests/test_util.h"
#include "tests/train/train_test_util.h"

using namespace fovea;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "data:image/png;base64,..." -> the first bytes of what it encodes
std::string decode_start(const std::string& uri) {
  const std::string prefix = "data:image/png;base64,";
  EXPECT_EQ(uri.rfind(prefix, 0), 0u) << uri.substr(0, 40);
  const std::string b64 = uri.substr(prefix.size(), 12);
  static const std::string abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i + 3 < b64.size(); i += 4) {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) v = (v << 6) | static_cast<std::uint32_t>(abc.find(b64[i + k]));
    out += {static_cast<char>(v >> 16), static_cast<char>((v >> 8) & 255), static_cast<char>(v & 255)};
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST(Report, RunJsonHoldsTheRunsFiguresAndTheCheckpointsResults) {
  test::SyntheticRun s;
  auto o = s.options("run");
  std::vector<std::pair<std::int64_t, std::int64_t>> calls;
  o.on_epoch = [&](std::int64_t done, std::int64_t epochs) {
    calls.emplace_back(done, epochs);
    EXPECT_TRUE(fs::exists(fs::path(o.out_dir) / "metrics.json"));  // the page is written after it
  };
  train::train(o);
  EXPECT_EQ(calls, (std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 2}, {2, 2}}));

  const auto generator = default_generator().state();
  const json run = json::parse(report::run_json(o.out_dir));
  // building the network to report on draws no number a training run would see
  EXPECT_EQ(default_generator().state(), generator);
  const json metrics = json::parse(slurp(fs::path(o.out_dir) / "metrics.json"));
  EXPECT_TRUE(run["notes"].empty()) << run["notes"];
  EXPECT_EQ(run["name"], "run");
  EXPECT_EQ(run["epochs"], metrics["epochs"]);
  EXPECT_EQ(run["commands"], metrics["commands"]);
  EXPECT_EQ(run["status"]["epochs_done"], 2);
  EXPECT_EQ(run["data"]["train_images"], 512);
  EXPECT_EQ(run["data"]["test_images"], 128);
  EXPECT_EQ(run["network"]["total_params"], 61706);  // LeNet-5
  EXPECT_EQ(run["network"]["rf_layer"], "features.5");
  // the best checkpoint, scored again here, gives the best epoch's figures
  double best = 0;
  for (const auto& e : metrics["epochs"]) best = std::max(best, e["test_accuracy"].get<double>());
  const auto& r = run["results"];
  EXPECT_EQ(r["source"], fmt::format("best.safetensors (after epoch {})", run["checkpoint"]["epoch"].get<int>()));
  EXPECT_DOUBLE_EQ(r["top1"].get<double>(), best);
  EXPECT_EQ(r["images"], 128);
  std::int64_t total = 0, diagonal = 0;
  for (std::size_t i = 0; i < 10; ++i)
    for (std::size_t j = 0; j < 10; ++j) {
      total += r["confusion"][i][j].get<std::int64_t>();
      if (i == j) diagonal += r["confusion"][i][j].get<std::int64_t>();
    }
  EXPECT_EQ(total, 128);
  EXPECT_EQ(r["errors"], 128 - diagonal);
  ASSERT_LE(r["mistakes"].size(), 12u);
  for (std::size_t i = 1; i < r["mistakes"].size(); ++i)  // most confident first
    EXPECT_GE(r["mistakes"][i - 1]["confidence"].get<double>(), r["mistakes"][i]["confidence"].get<double>());
  for (const auto& m : r["mistakes"]) EXPECT_NE(m["truth"], m["predicted"]);
  // two explained images per class, in class order, four maps each, all PNGs
  const auto& ex = run["looks"]["explanations"];
  EXPECT_EQ(ex["methods"], json({"vanilla", "guided", "gradcam", "guided-gradcam"}));
  ASSERT_EQ(ex["rows"].size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(ex["rows"][i]["truth"], i / 2);
    ASSERT_EQ(ex["rows"][i]["maps"].size(), 4u);
    EXPECT_EQ(decode_start(ex["rows"][i]["maps"][2]).substr(1, 3), "PNG");
  }
  EXPECT_EQ(run["looks"]["filters"]["shape"], json({6, 1, 5, 5}));
  EXPECT_EQ(run["looks"]["filters"]["tiles"].size(), 6u);
  EXPECT_EQ(run["looks"]["features"]["shape"], json({1, 6, 28, 28}));
}

TEST(Report, MissingPartsBecomeNotesAndNoRunIsAnError) {
  test::SyntheticRun s;
  auto o = s.options("run");
  o.config.epochs = 1;
  train::train(o);
  const fs::path dir(o.out_dir);

  // metrics.json alone: no checkpoint, so the results are its last epoch's and nothing is explained
  const fs::path only = s.root / "only_metrics";
  fs::create_directories(only);
  fs::copy_file(dir / "metrics.json", only / "metrics.json");
  json run = json::parse(report::run_json(only.string()));
  ASSERT_EQ(run["notes"].size(), 1u);
  EXPECT_NE(run["notes"][0].get<std::string>().find("no checkpoint"), std::string::npos);
  EXPECT_EQ(run["results"]["source"], "metrics.json, epoch 1");
  EXPECT_FALSE(run.contains("looks"));
  EXPECT_EQ(run["network"]["total_params"], 61706);  // rebuilt from the configuration

  // a checkpoint alone (stopped in its first epoch): the configuration comes from it
  const fs::path half = s.root / "half";
  fs::create_directories(half);
  fs::copy_file(dir / "last.safetensors", half / "last.safetensors");
  run = json::parse(report::run_json(half.string()));
  EXPECT_EQ(run["notes"].size(), 2u);  // no metrics.json, no best.safetensors
  EXPECT_EQ(run["results"]["source"], "last.safetensors (after epoch 1)");
  EXPECT_TRUE(run["epochs"].empty());

  // a metrics.json cut short is a note, not an error
  {
    std::ofstream cut(half / "metrics.json");
    cut << slurp(dir / "metrics.json").substr(0, 300);
  }
  run = json::parse(report::run_json(half.string()));
  EXPECT_NE(run["notes"].dump().find("metrics.json is not valid JSON"), std::string::npos);

  // fields of other types than a run writes are a note too
  {
    std::ofstream odd(half / "metrics.json");
    odd << R"({"epochs": [{"epoch": 1, "seconds": "soon", "test_accuracy": 0.5}], "test_per_class_accuracy": 3})";
  }
  run = json::parse(report::run_json(half.string()));
  EXPECT_NE(run["notes"].dump().find("unexpected types"), std::string::npos) << run["notes"];
  EXPECT_TRUE(run["epochs"].empty());

  // the test data moved away: the results are metrics.json's
  fs::rename(s.root / "data", s.root / "data_moved");
  run = json::parse(report::run_json(o.out_dir));
  EXPECT_NE(run["notes"].dump().find("the test data could not be opened"), std::string::npos);
  EXPECT_EQ(run["results"]["source"], "metrics.json, epoch 1");
  fs::rename(s.root / "data_moved", s.root / "data");

  fs::create_directories(s.root / "empty");
  EXPECT_NE(test::error_of([&] { report::run_json((s.root / "empty").string()); }).find("not a run directory"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { report::run_json((s.root / "nowhere").string()); }).find("no such directory"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { report::run_json(o.out_dir, {.checkpoint = "middle"}); }).find("'best' or 'last'"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { report::run_json(o.out_dir, {.rf_layer = "fc9"}); }).find("--rf-layer 'fc9'"),
            std::string::npos);
}

TEST(Report, ThePageIsOneFileWithEverySlotFilled) {
  test::SyntheticRun s;
  auto o = s.options("run");
  o.config.epochs = 1;
  train::train(o);
  const std::string path = (s.root / "page.html").string();
  const auto notes = report::write_report({o.out_dir, o.out_dir}, path);
  EXPECT_TRUE(notes.empty());
  const std::string page = slurp(path);
  for (auto slot : {"{{TITLE}}", "{{CHART_JS}}", "{{DATA}}"}) EXPECT_EQ(page.find(slot), std::string::npos) << slot;
  EXPECT_NE(page.find("<title>fovea report: run vs run</title>"), std::string::npos);
  EXPECT_EQ(report::has_charts(), page.find("Chart.js v") != std::string::npos);
  // the runs' JSON cannot close its <script>: only the template's own three </script> are there
  std::size_t closes = 0;
  for (std::size_t at = 0; (at = page.find("</script", at)) != std::string::npos; ++at) ++closes;
  EXPECT_EQ(closes, 3u);
  EXPECT_EQ(page.find("src=\"http"), std::string::npos);
  // nothing else is left beside it (the temp file was renamed)
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(s.root)) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}
