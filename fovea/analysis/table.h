#pragma once
// Text tables shared by the analysis reports (summary, rf, memory): aligned columns for the
// terminal, or Markdown.
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/analysis/summary.h"

namespace fovea::analysis::detail {

struct Column {
  std::string head;
  bool right;  // right-aligned (numbers)
};

// rows of cells, one per column; Format::json is not a table (callers write their own)
std::string render(const std::vector<Column>& cols, const std::vector<std::vector<std::string>>& rows, Format f);
std::string with_commas(std::int64_t v);  // 1234567 -> "1,234,567"
std::string shape_text(const Shape& s);   // "[1, 64, 56, 56]"
std::string mb(std::int64_t bytes);       // "12.35 MB" (10^6 bytes)

}  // namespace fovea::analysis::detail
