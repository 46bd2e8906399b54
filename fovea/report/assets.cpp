// The template and Chart.js are assembled into the library with .incbin (CMake passes their
// paths and rebuilds this file when they change): the page needs no file at run time.
#include "fovea/report/assets.h"

#define FOVEA_EMBED(sym, path)                                                                          \
  __asm__(".section .rodata\n.balign 16\n.globl " #sym "\n.hidden " #sym "\n" #sym ":\n.incbin \"" path \
          "\"\n.globl " #sym "_end\n.hidden " #sym "_end\n" #sym "_end:\n.previous\n")

FOVEA_EMBED(fovea_report_template, FOVEA_REPORT_TEMPLATE);
extern "C" const char fovea_report_template[], fovea_report_template_end[];
#ifdef FOVEA_CHART_JS
FOVEA_EMBED(fovea_report_chart_js, FOVEA_CHART_JS);
extern "C" const char fovea_report_chart_js[], fovea_report_chart_js_end[];
#endif

namespace fovea::report::detail {

std::string_view page_template() {
  return {fovea_report_template, static_cast<std::size_t>(fovea_report_template_end - fovea_report_template)};
}

std::string_view chart_js() {
#ifdef FOVEA_CHART_JS
  return {fovea_report_chart_js, static_cast<std::size_t>(fovea_report_chart_js_end - fovea_report_chart_js)};
#else
  return {};
#endif
}

}  // namespace fovea::report::detail
