// The page: the template with its three slots filled (the title, Chart.js, the runs' JSON),
// written atomically.
#include <fmt/chrono.h>
#include <fmt/core.h>

#include <chrono>
#include <ctime>
#include <map>

#include "fovea/core/error.h"
#include "fovea/core/version.h"
#include "fovea/io/safetensors.h"
#include "fovea/report/assets.h"
#include "fovea/report/detail.h"

namespace fovea::report {

using nlohmann::json;

namespace {

std::string html_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

// Text placed inside a <script> element must not hold "</script" (nor "<!--"): JSON escapes
// '<' as \u003c (JSON's '<' only occurs inside strings), JavaScript as "<\/".
std::string json_for_script(const json& j) {
  std::string out;
  for (char ch : j.dump()) {
    if (ch == '<') out += "\\u003c";
    else out += ch;
  }
  return out;
}

std::string js_for_script(std::string_view js) {
  std::string out(js);
  for (std::size_t at = 0; (at = out.find("</", at)) != std::string::npos; at += 3) out.replace(at, 2, "<\\/");
  return out;
}

// The template with each slot "{{NAME}}" replaced by its text. The slots are found in the
// template alone, so text put in one slot is never searched for another.
std::string fill(std::string_view page, const std::map<std::string, std::string>& slots) {
  std::vector<std::pair<std::size_t, const std::string*>> at;  // (offset, name)
  for (const auto& [name, text] : slots) {
    const std::string key = "{{" + name + "}}";
    const auto pos = page.find(key);
    if (pos == std::string_view::npos || page.find(key, pos + 1) != std::string_view::npos)
      fail("report", "the page template must hold the slot {} exactly once (fovea/report/report.html)", key);
    at.emplace_back(pos, &name);
  }
  std::sort(at.begin(), at.end());
  std::string out;
  std::size_t from = 0;
  for (const auto& [pos, name] : at) {
    out.append(page.substr(from, pos - from)).append(slots.at(*name));
    from = pos + name->size() + 4;
  }
  return out.append(page.substr(from));
}

}  // namespace

bool has_charts() { return !detail::chart_js().empty(); }

Page render_page(const std::vector<std::string>& run_dirs, const ReportOptions& o) {
  if (run_dirs.empty()) fail("report", "no run directory given");
  json runs = json::array();
  std::string title;
  Page page;
  for (const auto& dir : run_dirs) {
    runs.push_back(detail::run_data(dir, o));
    title += (title.empty() ? "" : " vs ") + runs.back()["name"].get<std::string>();
    for (const auto& n : runs.back()["notes"]) page.notes.push_back(dir + ": " + n.get<std::string>());
  }
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  const json doc{{"runs", runs},
                 {"generated", fmt::format("{:%Y-%m-%d %H:%M} UTC", utc)},
                 {"fovea_version", fmt::format("{} ({})", version(), build_commit())},
                 {"charts", has_charts()}};
  page.html = fill(detail::page_template(), {{"TITLE", html_escape("fovea report: " + title)},
                                             {"CHART_JS", js_for_script(detail::chart_js())},
                                             {"DATA", json_for_script(doc)}});
  return page;
}

std::vector<std::string> write_report(const std::vector<std::string>& run_dirs, const std::string& path,
                                      const ReportOptions& o) {
  const Page page = render_page(run_dirs, o);
  io::write_file_atomic(path, std::as_bytes(std::span(page.html.data(), page.html.size())));
  return page.notes;
}

}  // namespace fovea::report
