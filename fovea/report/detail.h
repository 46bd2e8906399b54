#pragma once
// Shared by the report's files: the JSON of a run is gathered in parts (run.cpp: the files;
// results.cpp: what the checkpoint does on the test data).
#include <nlohmann/json.hpp>

#include <string>

#include "fovea/analysis/summary.h"
#include "fovea/report/report.h"
#include "fovea/train/trainer.h"

namespace fovea::report::detail {

// run_json's document, for the page to embed without a round trip through text
nlohmann::json run_data(const std::string& run_dir, const ReportOptions& o);

// u8 or f32 image (C,H,W) -> "data:image/png;base64,..."
std::string data_uri(const Tensor& img);

// The checkpoint's results on the run's test data (run["results"]: accuracy, per class,
// confusion, the most confident mistakes) and what it looks at (run["looks"]: the receptive-field
// image, explanations, first-layer filters and feature maps). What cannot be done is a note in
// run["notes"]; the caller keeps metrics.json's last epoch as the results then.
void add_results(nlohmann::json& run, train::Trained& t, const analysis::Summary& s, const std::string& rf_layer,
                 const ReportOptions& o);

}  // namespace fovea::report::detail
