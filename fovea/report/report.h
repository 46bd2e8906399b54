#pragma once
// The HTML report of training runs (docs/report.md): one self-contained page (its scripts and
// images inlined, no network needed) with the run's provenance, its curves, the network, its
// results and what it looks at. Several runs give a comparison page. The page is the template
// fovea/report/report.html filled with the runs' figures as JSON; Chart.js draws the charts.
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/explain/explain.h"

namespace fovea::report {

struct ReportOptions {
  std::string checkpoint = "best";      // the weights the results look at: best | last
  std::int64_t examples_per_class = 2;  // test images explained per class
  std::int64_t max_explained_classes = 10;
  std::int64_t mistakes = 12;            // the most confident mistakes shown
  std::int64_t max_test_images = 10000;  // the test images the checkpoint is scored on (0: all)
  std::string rf_layer{};                // the layer whose receptive field is drawn first; "": chosen
  std::vector<explain::Method> methods{explain::Method::vanilla, explain::Method::guided, explain::Method::gradcam,
                                       explain::Method::guided_gradcam};
  // the explained images' faithfulness (deletion / insertion curves of this many steps,
  // average drop and increase) per method, beside a random map; 0: not measured
  std::int64_t faithfulness_steps = 20;
  bool in_progress = false;  // written by `fovea train --report` while the run goes on
};

// What a run directory holds, as the page's JSON: every part the files allow, and for each
// part that is missing or unreadable a note saying what and why. A directory that holds no run
// at all (no metrics.json and no checkpoint) is an error naming it.
std::string run_json(const std::string& run_dir, const ReportOptions& o = {});

// The page for one run, or the comparison of several (their curves overlaid, a table of final
// figures and the settings that differ, then each run's own sections), and its notes: what
// was missing, each prefixed by its run directory ("runs/a: metrics.json is missing ...").
struct Page {
  std::string html;
  std::vector<std::string> notes;
};
Page render_page(const std::vector<std::string>& run_dirs, const ReportOptions& o = {});

// The page written atomically to path (a temp file renamed over it): a browser showing the
// page, or a crash while writing, never sees half of it. Returns the page's notes.
std::vector<std::string> write_report(const std::vector<std::string>& run_dirs, const std::string& path,
                                      const ReportOptions& o = {});

// Whether Chart.js was found when fovea was built (else the page shows its curves as tables).
bool has_charts();

}  // namespace fovea::report
