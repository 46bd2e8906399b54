// Classification metrics, their text tables and the confusion-matrix figure.
#include "fovea/train/metrics.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <string_view>

#include "fovea/dist/dist.h"
#include "fovea/explain/draw.h"
#include "fovea/io/image.h"

namespace fovea::train {

namespace {

constexpr const char* kOp = "metrics";

// The names to print: the caller's, or "0".."K-1" when none are given.
std::vector<std::string> class_labels(const Metrics& m, const std::vector<std::string>& names) {
  const auto k = static_cast<std::size_t>(m.num_classes());
  if (names.empty()) {
    std::vector<std::string> out;
    for (std::size_t c = 0; c < k; ++c) out.push_back(std::to_string(c));
    return out;
  }
  if (names.size() != k) fail(kOp, "{} class names for {} classes", names.size(), k);
  return names;
}

using explain::Canvas;
using explain::is_utf8_continuation;
using explain::kAdvance;
using explain::kCapH;
using explain::kGlyphRows;
using explain::Rgb;
using explain::text_px;
using explain::text_width;

// At most n characters, the cut marked with '~' and never inside a UTF-8 sequence.
std::string shorten(const std::string& s, std::size_t n) {
  if (text_width(s) <= n) return s;
  std::size_t cut = 0;
  for (std::size_t chars = 0; chars + 1 < n; ++chars) {
    ++cut;
    while (cut < s.size() && is_utf8_continuation(s[cut])) ++cut;
  }
  return s.substr(0, cut) + '~';
}

// a / b, NaN when there is nothing to divide.
double fraction(std::int64_t a, std::int64_t b) {
  return b ? static_cast<double>(a) / static_cast<double>(b) : std::nan("");
}

std::string percent(double v) { return std::isnan(v) ? "-" : fmt::format("{:.1f}%", 100 * v); }

std::int64_t row_sum(const Metrics& m, std::int64_t row) {
  const auto begin = m.confusion().begin() + row * m.num_classes();
  std::int64_t n = 0;
  for (auto it = begin; it != begin + m.num_classes(); ++it) n += *it;
  return n;
}

std::size_t max_width(const std::vector<std::string>& v, std::size_t at_least) {
  for (const auto& s : v) at_least = std::max(at_least, text_width(s));
  return at_least;
}

}  // namespace

Metrics::Metrics(std::int64_t num_classes) : k_(num_classes) {
  if (num_classes < 1) fail(kOp, "need at least 1 class, got {}", num_classes);
  confusion_.assign(static_cast<std::size_t>(k_ * k_), 0);
}

void Metrics::sum_over_ranks() {
  if (dist::world_size() == 1) return;
  std::vector<std::int64_t> counts{count_, correct1_, correct5_};
  counts.insert(counts.end(), confusion_.begin(), confusion_.end());
  Tensor c = from_vector(counts, {static_cast<std::int64_t>(counts.size())});
  Tensor l = from_vector(std::vector<double>{loss_sum_}, {1});
  dist::all_reduce(c);
  dist::all_reduce(l);
  const auto v = c.to_vector<std::int64_t>();
  count_ = v[0];
  correct1_ = v[1];
  correct5_ = v[2];
  std::copy(v.begin() + 3, v.end(), confusion_.begin());
  loss_sum_ = l.item();
}

void Metrics::update(const Tensor& logits, const Tensor& labels, double loss) {
  if (logits.dim() != 2 || logits.size(1) != k_)
    fail(kOp, "expected logits (B,{}), got {}", k_, shape_str(logits.shape()));
  if (!is_floating(logits.dtype())) fail(kOp, "logits must be floating point, got {}", dtype_name(logits.dtype()));
  const std::int64_t b = logits.size(0);
  if (labels.dim() != 1 || labels.size(0) != b)
    fail(kOp, "expected labels ({}) for logits {}, got {}", b, shape_str(logits.shape()), shape_str(labels.shape()));
  if (labels.dtype() != DType::i64) fail(kOp, "labels must be i64, got {}", dtype_name(labels.dtype()));
  if (b == 0) return;  // the mean loss of an empty batch is NaN and weighs nothing
  const std::vector<float> x = logits.to_vector<float>();
  const std::vector<std::int64_t> y = labels.to_vector<std::int64_t>();
  // Check every label before counting any, so a bad batch leaves the totals as they were.
  for (std::int64_t i = 0; i < b; ++i)
    if (y[i] < 0 || y[i] >= k_) fail(kOp, "label {} of sample {} is outside [0, {})", y[i], i, k_);
  const std::int64_t top_k = std::min<std::int64_t>(5, k_);
  for (std::int64_t i = 0; i < b; ++i) {
    const float* row = x.data() + i * k_;
    const float target = row[y[i]];
    // Prediction: the first maximum, as torch.argmax. Top-k: fewer than k logits strictly above
    // the label's, so ties count in the label's favour and top-k never depends on class order.
    std::int64_t pred = 0, above = 0;
    for (std::int64_t j = 0; j < k_; ++j) {
      if (row[j] > row[pred]) pred = j;
      if (row[j] > target) ++above;
    }
    ++confusion_[static_cast<std::size_t>(y[i] * k_ + pred)];
    correct1_ += pred == y[i];
    correct5_ += above < top_k;
  }
  count_ += b;
  loss_sum_ += loss * static_cast<double>(b);
}

double Metrics::loss() const { return count_ ? loss_sum_ / static_cast<double>(count_) : std::nan(""); }
double Metrics::top1() const { return fraction(correct1_, count_); }
double Metrics::top5() const { return fraction(correct5_, count_); }

std::vector<double> Metrics::per_class_accuracy() const {
  std::vector<double> acc(static_cast<std::size_t>(k_));
  for (std::int64_t c = 0; c < k_; ++c) acc[c] = fraction(confusion_[c * k_ + c], row_sum(*this, c));
  return acc;
}

// ---- text tables

std::string per_class_table(const Metrics& m, const std::vector<std::string>& class_names) {
  std::vector<std::string> names = class_labels(m, class_names);
  for (auto& n : names) n = shorten(n, 32);
  const std::size_t w = max_width(names, 5);
  const std::vector<double> acc = m.per_class_accuracy();
  std::string out = fmt::format("{:<{}}  {:>8}  {:>8}  {:>8}\n", "class", w, "samples", "correct", "accuracy");
  std::int64_t correct = 0;
  for (std::int64_t c = 0; c < m.num_classes(); ++c) {
    const std::int64_t hit = m.confusion()[c * m.num_classes() + c];
    correct += hit;
    out += fmt::format("{:<{}}  {:>8}  {:>8}  {:>8}\n", names[c], w, row_sum(m, c), hit, percent(acc[c]));
  }
  out += fmt::format("{:<{}}  {:>8}  {:>8}  {:>8}\n", "total", w, m.count(), correct, percent(m.top1()));
  return out;
}

// Columns are headed by class index; the row labels "index name" are the legend, which keeps
// ten classes within 80 columns whatever their names.
std::string class_results_json(const Metrics& m, const std::vector<std::string>& class_names, std::int64_t epoch) {
  const std::int64_t k = m.num_classes();
  nlohmann::json names = nlohmann::json::array(), acc = nlohmann::json::array();
  const auto per_class = m.per_class_accuracy();
  for (std::int64_t i = 0; i < k; ++i) {
    const double a = per_class[static_cast<std::size_t>(i)];
    const auto at = static_cast<std::size_t>(i);
    names.push_back(at < class_names.size() ? class_names[at] : std::to_string(i));
    acc.push_back(std::isnan(a) ? nlohmann::json(nullptr) : nlohmann::json(a));  // null: no test image
  }
  nlohmann::json doc{{"test_per_class_accuracy", {{"epoch", epoch}, {"classes", names}, {"accuracy", acc}}}};
  if (k <= 256) {
    nlohmann::json rows = nlohmann::json::array();
    for (std::int64_t i = 0; i < k; ++i)
      rows.push_back(std::vector<std::int64_t>(m.confusion().begin() + i * k, m.confusion().begin() + (i + 1) * k));
    doc["test_confusion"] = {{"epoch", epoch}, {"classes", names}, {"matrix", rows}};
  }
  return doc.dump();
}

std::string confusion_table(const Metrics& m, const std::vector<std::string>& class_names) {
  const std::vector<std::string> names = class_labels(m, class_names);
  const std::int64_t k = m.num_classes();
  std::vector<std::string> rows;
  for (std::int64_t c = 0; c < k; ++c) rows.push_back(fmt::format("{} {}", c, shorten(names[c], 20)));
  const std::string corner = "true \\ predicted";
  const std::size_t w = max_width(rows, corner.size());
  const std::int64_t most = *std::max_element(m.confusion().begin(), m.confusion().end());
  const std::size_t cw = fmt::formatted_size("{}", std::max(k - 1, most)) + 2;
  std::string out = fmt::format("{:<{}}", corner, w);
  for (std::int64_t c = 0; c < k; ++c) out += fmt::format("{:>{}}", c, cw);
  out += '\n';
  for (std::int64_t r = 0; r < k; ++r) {
    out += fmt::format("{:<{}}", rows[r], w);
    for (std::int64_t c = 0; c < k; ++c) out += fmt::format("{:>{}}", m.confusion()[r * k + c], cw);
    out += '\n';
  }
  return out;
}

// ---- the figure

namespace {

// Row-normalised value v in [0, 1] from white to dark blue (the end of matplotlib's "Blues").
Rgb cell_colour(double v) {
  const auto mix = [v](int to) { return static_cast<std::uint8_t>(std::lround(255 + (to - 255) * v)); };
  return {mix(8), mix(48), mix(107)};
}

constexpr std::int64_t kMaxFigureClasses = 1000;  // 4 px cells: a 4000 px square

}  // namespace

void write_confusion_png(const Metrics& m, const std::vector<std::string>& class_names, const std::string& path) {
  std::vector<std::string> names = class_labels(m, class_names);
  const std::int64_t k = m.num_classes();
  if (k > kMaxFigureClasses)
    fail(kOp, "{} classes are too many for a confusion figure (at most {}); use the text table", k, kMaxFigureClasses);
  const auto& cm = m.confusion();
  for (auto& n : names) n = shorten(n, 16);

  // Up to 20 classes: large type and cells sized for the counts; beyond, cells shrink to keep
  // the figure near 1200 px, and counts and names appear only where they fit.
  const bool small = k <= 20;
  const int s = small ? 2 : 1;
  const int digits = static_cast<int>(fmt::formatted_size("{}", *std::max_element(cm.begin(), cm.end())));
  const int cell = small ? std::max({40, (digits * kAdvance) * s + 12, static_cast<int>(140 / k) + 1})
                         : std::clamp(static_cast<int>(1200 / k), 4, 40);
  const bool show_counts = (digits * kAdvance - 1) * s + 4 <= cell;
  const bool show_names = kGlyphRows * s + 1 <= cell;
  int names_px = 0;
  if (show_names)
    for (const auto& n : names) names_px = std::max(names_px, text_px(n, s));

  const int pad = 16, gap = 8, ts = 2, line = kGlyphRows * ts, msize = static_cast<int>(k) * cell;
  const std::string title = m.count() ? fmt::format("confusion matrix: {} sample{}, top-1 {}", m.count(),
                                                    m.count() == 1 ? "" : "s", percent(m.top1()))
                                      : std::string("confusion matrix: no samples");
  const int mx = pad + line + gap + names_px + gap, my = pad + line + 2 * gap;
  const int width = std::max(mx + msize + pad, 2 * pad + text_px(title, ts));
  const int height = my + msize + gap + names_px + gap + line + pad;
  Canvas img(width, height);
  const Rgb ink{30, 30, 30}, white{255, 255, 255}, grid{200, 200, 200};

  img.text((width - text_px(title, ts)) / 2, pad, title, ts, ink);
  for (std::int64_t r = 0; r < k; ++r) {
    const std::int64_t n = row_sum(m, r);
    for (std::int64_t c = 0; c < k; ++c) {
      const std::int64_t v = cm[r * k + c];
      const double frac = n ? static_cast<double>(v) / static_cast<double>(n) : 0.0;
      const int x = mx + static_cast<int>(c) * cell, y = my + static_cast<int>(r) * cell;
      img.fill(x, y, cell, cell, cell_colour(frac));
      if (!show_counts) continue;
      const std::string txt = std::to_string(v);
      img.text(x + (cell - text_px(txt, s)) / 2, y + (cell - kCapH * s) / 2, txt, s, frac > 0.5 ? white : ink);
    }
  }
  if (cell >= 10)
    for (int i = 1; i < k; ++i) {
      img.fill(mx + i * cell, my, 1, msize, grid);
      img.fill(mx, my + i * cell, msize, 1, grid);
    }
  img.fill(mx - 1, my - 1, msize + 2, 1, ink);
  img.fill(mx - 1, my + msize, msize + 2, 1, ink);
  img.fill(mx - 1, my - 1, 1, msize + 2, ink);
  img.fill(mx + msize, my - 1, 1, msize + 2, ink);

  if (show_names)
    for (std::int64_t c = 0; c < k; ++c) {
      const int off = static_cast<int>(c) * cell + (cell - kCapH * s) / 2;
      img.text(mx - gap - text_px(names[c], s), my + off, names[c], s, ink);
      img.text(mx + off, my + msize + gap + text_px(names[c], s), names[c], s, ink, true);
    }
  const std::string rows = "true class", cols = "predicted class";
  img.text(pad, my + (msize + text_px(rows, ts)) / 2, rows, ts, ink, true);
  img.text(mx + (msize - text_px(cols, ts)) / 2, my + msize + gap + names_px + gap, cols, ts, ink);
  io::write_png(path, img.tensor());
}

}  // namespace fovea::train
