#include "fovea/analysis/table.h"

#include <fmt/core.h>

#include <algorithm>

namespace fovea::analysis::detail {

std::string with_commas(std::int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v), r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) r += ',';
    r += s[i];
  }
  return v < 0 ? "-" + r : r;
}

std::string shape_text(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string render(const std::vector<Column>& cols, const std::vector<std::vector<std::string>>& rows, Format f) {
  if (f == Format::markdown) {
    std::string r = "|";
    for (auto& c : cols) r += " " + c.head + " |";
    r += "\n|";
    for (auto& c : cols) r += c.right ? "---:|" : "---|";
    r += "\n";
    for (auto& row : rows) {
      r += "|";
      for (auto& v : row) r += " " + v + " |";
      r += "\n";
    }
    return r;
  }
  std::vector<size_t> w(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) w[i] = cols[i].head.size();
  for (auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  auto line = [&](const std::vector<std::string>& v) {
    std::string r;
    for (size_t i = 0; i < v.size(); ++i) {
      std::string pad(w[i] - v[i].size(), ' ');
      r += (i ? "  " : "") + (cols[i].right ? pad + v[i] : v[i] + (i + 1 < v.size() ? pad : ""));
    }
    return r + "\n";
  };
  std::vector<std::string> heads;
  for (auto& c : cols) heads.push_back(c.head);
  size_t total = 0;
  for (auto x : w) total += x + 2;
  std::string rule(total - 2, '-');
  std::string r = line(heads) + rule + "\n";
  for (auto& row : rows) r += line(row);
  return r + rule + "\n";
}

std::string mb(std::int64_t bytes) { return fmt::format("{:.2f} MB", static_cast<double>(bytes) / 1e6); }

}  // namespace fovea::analysis::detail
