#pragma once
// The files a report is made from, embedded in the library when it is built: the page template
// (fovea/report/report.html) and Chart.js (Debian's libjs-chart.js; empty when the build
// machine had none).
#include <string_view>

namespace fovea::report::detail {

std::string_view page_template();
std::string_view chart_js();

}  // namespace fovea::report::detail
