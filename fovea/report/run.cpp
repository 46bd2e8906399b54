// A run directory as the page's JSON: provenance and curves from metrics.json, the network from
// the checkpoint's configuration, and notes for whatever is missing.
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include "fovea/core/error.h"
#include "fovea/core/generator.h"
#include "fovea/report/detail.h"

namespace fovea::report {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Keeps the global generator's state over a scope. Building a model draws its initial weights
// from it, and a run that writes its report after every epoch (train --report) must train on
// exactly as one that does not, and as one resumed from its checkpoint.
class KeepGenerator {
 public:
  KeepGenerator() : state_(default_generator().state()) {}
  ~KeepGenerator() { default_generator().set_state(state_); }
  KeepGenerator(const KeepGenerator&) = delete;
  KeepGenerator& operator=(const KeepGenerator&) = delete;

 private:
  std::array<std::uint64_t, 4> state_;
};

// The layer whose receptive field is drawn first: the deepest leaf with a spatial output whose
// field still fits in the image (a field larger than the image shows mostly padding).
std::string default_rf_layer(const analysis::Summary& s) {
  std::string fallback, best;
  for (const auto& r : s.rows) {
    if (!r.leaf || r.geometry.global || r.output.size() != 4) continue;
    if (fallback.empty()) fallback = r.name;
    if (r.geometry.h.rf <= static_cast<double>(s.input[1]) && r.geometry.w.rf <= static_cast<double>(s.input[2]))
      best = r.name;
  }
  return best.empty() ? fallback : best;
}

std::string check_rf_layer(const analysis::Summary& s, const std::string& name) {
  std::vector<std::string> spatial;
  for (const auto& r : s.rows)
    if (!r.geometry.global && r.output.size() == 4 && !r.name.empty()) {
      if (r.name == name) return name;
      spatial.push_back(r.name);
    }
  std::string list;
  for (std::size_t i = 0; i < spatial.size() && i < 12; ++i) list += (i ? ", " : "") + spatial[i];
  fail("report", "--rf-layer '{}' is not a layer with a spatial output in this network (some that are: {}{})", name,
       list, spatial.size() > 12 ? ", ..." : "");
}

// The figures of the epoch table a reader looks for first.
json totals_json(const json& epochs) {
  json t = json::object();
  if (!epochs.is_array() || epochs.empty()) return t;
  double wall = 0, best = -1;
  std::int64_t best_epoch = 0;
  std::vector<double> rates;
  for (const auto& e : epochs) {
    wall += e.value("seconds", 0.0);
    if (e.contains("train_images_per_sec")) rates.push_back(e["train_images_per_sec"].get<double>());
    const double a = e.value("test_accuracy", -1.0);
    if (a > best) best = a, best_epoch = e.value("epoch", 0);
  }
  t["wall_seconds"] = wall;
  if (!rates.empty()) {  // the median: the first epoch's start-up does not drag it down
    std::sort(rates.begin(), rates.end());
    t["images_per_sec"] = rates[rates.size() / 2];
  }
  t["best_top1"] = best;
  t["best_epoch"] = best_epoch;
  t["last"] = epochs.back();
  return t;
}

json data_json(const train::RunConfig& c, const json& metrics) {
  auto count = [&](const char* key) {
    std::int64_t n = 0;
    if (metrics.contains(key) && metrics[key].is_object())
      for (const auto& [name, v] : metrics[key].items()) n += v.get<std::int64_t>();
    return n;
  };
  json d{{"name", c.data_given.empty() ? c.data : c.data_given},
         {"classes", c.classes},
         {"input", c.input},
         {"normalize", c.normalize},
         {"mean", c.mean},
         {"std", c.std},
         {"augment", c.augment}};
  if (const auto n = count("train_class_counts")) d["train_images"] = n;
  if (const auto n = count("test_class_counts")) d["test_images"] = n;
  if (metrics.contains("train_class_counts")) d["train_counts"] = metrics["train_class_counts"];
  if (metrics.contains("test_class_counts")) d["test_counts"] = metrics["test_class_counts"];
  return d;
}

// metrics.json's last epoch as the results, when the checkpoint cannot be scored here.
json recorded_results(const json& metrics) {
  if (!metrics.contains("test_per_class_accuracy")) return nullptr;
  const auto& pc = metrics["test_per_class_accuracy"];
  json r{{"source", fmt::format("metrics.json, epoch {}", pc.value("epoch", 0))},
         {"classes", pc["classes"]},
         {"per_class", pc["accuracy"]},
         {"mistakes", json::array()}};
  if (metrics.contains("test_confusion")) r["confusion"] = metrics["test_confusion"]["matrix"];
  const auto t = totals_json(metrics.value("epochs", json::array()));
  if (t.contains("last")) {
    r["top1"] = t["last"].value("test_accuracy", 0.0);
    if (t["last"].contains("test_top5")) r["top5"] = t["last"]["test_top5"];
    r["loss"] = t["last"].value("test_loss", 0.0);
  }
  return r;
}

}  // namespace

std::string run_json(const std::string& run_dir, const ReportOptions& o) { return detail::run_data(run_dir, o).dump(); }

json detail::run_data(const std::string& run_dir, const ReportOptions& o) {
  const KeepGenerator keep;
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec))
    fail("report", "{}: {}", run_dir, fs::exists(run_dir, ec) ? "not a directory" : "no such directory");
  const fs::path dir(run_dir);
  const fs::path metrics_path = dir / "metrics.json";
  const fs::path best = dir / "best.safetensors", last = dir / "last.safetensors";
  const bool has_metrics = fs::exists(metrics_path, ec), has_best = fs::exists(best, ec),
             has_last = fs::exists(last, ec);
  if (!has_metrics && !has_best && !has_last)
    fail("report",
         "{}: not a run directory: it holds no metrics.json and no checkpoint (last.safetensors, best.safetensors); "
         "`fovea train --out {}` writes them",
         run_dir, run_dir);
  if (o.checkpoint != "best" && o.checkpoint != "last")
    fail("report", "checkpoint must be 'best' or 'last', got '{}'", o.checkpoint);

  json run{{"name", fs::absolute(dir).lexically_normal().filename().string()},
           {"dir", run_dir},
           {"notes", json::array()},
           {"in_progress", o.in_progress}};
  if (run["name"].get<std::string>().empty())
    run["name"] = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  auto note = [&](std::string s) { run["notes"].push_back(std::move(s)); };

  json metrics = json::object();
  if (!has_metrics) {
    note("metrics.json is missing (a run writes it when its first epoch ends): no curves and no provenance");
  } else {
    std::ifstream in(metrics_path);
    metrics = json::parse(in, nullptr, false);
    if (metrics.is_discarded() || !metrics.is_object()) {
      note("metrics.json is not valid JSON (a file cut short or edited?): no curves and no provenance");
      metrics = json::object();
    }
  }
  // what the page reads of it, checked here: a field of an unexpected type is a note, not an error
  json recorded;
  try {
    run["epochs"] = metrics.contains("epochs") && metrics["epochs"].is_array() ? metrics["epochs"] : json::array();
    run["totals"] = totals_json(run["epochs"]);
    recorded = recorded_results(metrics);
    data_json(train::RunConfig{}, metrics);
  } catch (const json::exception& e) {
    note(fmt::format("metrics.json holds fields of unexpected types ({}): no curves and no provenance", e.what()));
    metrics = json::object();
    run["epochs"] = json::array();
    run["totals"] = json::object();
    recorded = nullptr;
  }
  for (const char* key : {"commands", "fovea_version", "machine", "world_size"})
    if (metrics.contains(key)) run[key] = metrics[key];

  // the weights the results look at, and the configuration when metrics.json has none
  std::string ck_path = o.checkpoint == "best" ? best.string() : last.string();
  if (!fs::exists(ck_path, ec)) {
    const std::string other = o.checkpoint == "best" ? last.string() : best.string();
    if (fs::exists(other, ec)) {
      note(fmt::format("{} is missing: the results are those of {}", fs::path(ck_path).filename().string(),
                       fs::path(other).filename().string()));
      ck_path = other;
    } else {
      note(
          "no checkpoint (best.safetensors, last.safetensors): the results come from metrics.json and the "
          "explanations, filters and feature maps are left out");
      ck_path.clear();
    }
  }
  std::optional<train::Trained> trained;
  std::optional<train::Checkpoint> ck;
  if (!ck_path.empty()) {
    try {
      ck = train::load_checkpoint(ck_path);
      trained = train::Trained{train::build_model(ck->config), ck->config};
      trained->model->load_state_dict(ck->model);
      run["checkpoint"] = {{"file", fs::path(ck_path).filename().string()}, {"epoch", ck->state.epoch}};
    } catch (const Error& e) {
      note(fmt::format("the checkpoint could not be used: {}", e.what()));
      trained.reset();
    }
  }
  std::optional<train::RunConfig> config;
  if (metrics.contains("config")) {
    try {
      config = train::RunConfig::from_json(metrics["config"].dump());
    } catch (const Error& e) {
      note(fmt::format("metrics.json's configuration could not be read: {}", e.what()));
    }
  }
  if (!config && trained) config = trained->config;
  if (!config) {
    run["network"] = nullptr;
    run["results"] = nullptr;
    return run;
  }
  run["config"] = json::parse(config->to_json());
  run["data"] = data_json(*config, metrics);
  const std::int64_t done = ck ? ck->state.epoch : static_cast<std::int64_t>(run["epochs"].size());
  run["status"] = {{"epochs_done", std::max<std::int64_t>(done, static_cast<std::int64_t>(run["epochs"].size()))},
                   {"epochs", config->epochs}};

  // the network: its summary on the meta device (the trained model when there is one)
  std::optional<analysis::Summary> summary;
  try {
    nn::ModulePtr m = trained ? trained->model : train::build_model(*config);
    summary = analysis::summarize(*m, config->input);
  } catch (const Error& e) {
    note(fmt::format("the network could not be summarised: {}", e.what()));
  }
  std::string rf_layer;
  if (summary) {
    rf_layer = o.rf_layer.empty() ? default_rf_layer(*summary) : check_rf_layer(*summary, o.rf_layer);
    // the schema of `fovea summary --format json` (docs/analysis.md), and the layer drawn first
    run["network"] = json::parse(analysis::format_summary(*summary, analysis::Format::json));
    run["network"]["rf_layer"] = rf_layer;
  } else {
    run["network"] = nullptr;
  }

  run["results"] = recorded;
  if (trained && summary) detail::add_results(run, *trained, *summary, rf_layer, o);
  return run;
}

}  // namespace fovea::report
