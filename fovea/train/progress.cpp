// Progress display: a bar redrawn in place on a terminal, one plain line per epoch elsewhere.
#include "fovea/train/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "fovea/core/error.h"

namespace fovea::train {

namespace {

constexpr const char* kOp = "progress";
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
constexpr int kBarWidth = 20, kMinBarWidth = 5;
// Room for "  5,230 img/s  ETA 0:12  loss 0.4123  acc 85.2%" with a digit or two to spare.
constexpr int kFieldsWidth = 50;

// The terminal's width in columns, or 0 when f is not a terminal or does not say.
int terminal_columns(std::FILE* f) {
  winsize ws{};
  if (ioctl(fileno(f), TIOCGWINSZ, &ws) != 0) return 0;
  return ws.ws_col;
}

// 5230 -> "5,230"; below 100 one decimal, so slow models do not show "0 img/s".
std::string rate_str(double per_second) {
  if (per_second < 100) return fmt::format("{:.1f}", per_second);
  std::string digits = fmt::format("{:.0f}", per_second), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string seconds_str(double s) { return s < 60 ? fmt::format("{:.1f} s", s) : format_duration(s); }
std::string loss_str(double v) { return std::isnan(v) ? "-" : fmt::format("{:.4f}", v); }
std::string acc_str(double v) { return std::isnan(v) ? "-" : fmt::format("{:.1f}%", 100 * v); }

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-:--";
  const auto total = std::llround(seconds);
  const long long h = total / 3600, m = total / 60 % 60, s = total % 60;
  return h ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", m, s);
}

Progress::Progress(std::FILE* out, bool interactive) : out_(out), interactive_(interactive) {
  if (!out) fail(kOp, "no output stream");
}

// A terminal that cannot move the cursor (TERM=dumb, e.g. an editor's shell) gets the plain mode.
bool Progress::is_terminal(std::FILE* f) {
  const char* term = std::getenv("TERM");
  return f && isatty(fileno(f)) && !(term && std::strcmp(term, "dumb") == 0);
}

void Progress::start_epoch(std::int64_t epoch, std::int64_t epochs, std::int64_t batches) {
  if (epochs < 1 || batches < 0)
    fail(kOp, "start_epoch: need epochs >= 1 and batches >= 0, got {} and {}", epochs, batches);
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  done_ = images_ = correct_ = 0;
  loss_sum_ = 0;
  start_ = std::chrono::steady_clock::now();
  if (interactive_) draw(false);
}

void Progress::update(std::int64_t batch_size, double loss, std::int64_t correct) {
  if (epochs_ == 0) fail(kOp, "update() before start_epoch()");
  if (batch_size < 0 || correct < 0 || correct > batch_size)
    fail(kOp, "update: need 0 <= correct <= batch_size, got {} correct of {}", correct, batch_size);
  ++done_;
  images_ += batch_size;
  correct_ += correct;
  loss_sum_ += loss * static_cast<double>(batch_size);
  if (interactive_ && std::chrono::steady_clock::now() - last_draw_ >= kRedrawEvery) draw(false);
}

void Progress::end_epoch(const std::string& summary) {
  if (epochs_ == 0) fail(kOp, "end_epoch() before start_epoch()");
  if (interactive_) {
    // The summary gets its own line: beside the bar it would wrap on an 80-column terminal.
    draw(true);
    fmt::print(out_, "\n{}", summary.empty() ? "" : "  " + summary + "\n");
  } else {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    fmt::print(out_, "epoch {}/{}  {} batches  {}  {} img/s  loss {}  acc {}{}\n", epoch_, epochs_, done_,
               seconds_str(secs), rate_str(images_per_second()), loss_str(running_loss()), acc_str(running_accuracy()),
               summary.empty() ? "" : "  " + summary);
  }
  std::fflush(out_);
}

double Progress::images_per_second() const {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return secs > 0 ? static_cast<double>(images_) / secs : 0.0;
}

double Progress::running_loss() const { return images_ ? loss_sum_ / static_cast<double>(images_) : std::nan(""); }

double Progress::running_accuracy() const {
  return images_ ? static_cast<double>(correct_) / static_cast<double>(images_) : std::nan("");
}

// "epoch 3/10 [=========>          ] 412/938  5,230 img/s  ETA 0:12  loss 0.4123  acc 85.2%": the
// final draw shows the epoch's time instead of the ETA. The bar narrows or goes, then the line is
// cut, to stay within the terminal: a wrapped line cannot be redrawn with '\r'.
void Progress::draw(bool final_draw) {
  const auto now = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double eta = done_ ? secs / static_cast<double>(done_) * static_cast<double>(batches_ - done_) : std::nan("");
  const std::string head = fmt::format("epoch {}/{}", epoch_, epochs_);
  const std::string tail =
      fmt::format(" {}/{}  {} img/s  {}  loss {}  acc {}", done_, batches_, rate_str(images_per_second()),
                  final_draw ? seconds_str(secs) : "ETA " + format_duration(eta), loss_str(running_loss()),
                  acc_str(running_accuracy()));
  // The bar's width depends on the terminal and the epoch, not on the fields beside it, so it
  // stays put while they change.
  const int cols = terminal_columns(out_);
  const auto counts_width = static_cast<int>(fmt::formatted_size(" {}/{}", batches_, batches_));
  int width = kBarWidth;
  if (cols > 0) width = std::min(width, cols - 1 - static_cast<int>(head.size()) - counts_width - kFieldsWidth - 3);
  std::string bar;
  if (width >= kMinBarWidth) {
    const std::int64_t full = batches_ > 0 ? std::min(done_, batches_) * width / batches_ : width;
    bar = " [" + std::string(full, '=');
    if (full < width) bar += '>' + std::string(width - full - 1, ' ');
    bar += ']';
  }
  std::string line = head + bar + tail;
  if (cols > 0 && line.size() >= static_cast<std::size_t>(cols)) line.resize(cols - 1);
  // "\x1b[K" erases what a longer previous line left to the right.
  fmt::print(out_, "\r{}\x1b[K", line);
  std::fflush(out_);
  last_draw_ = now;
}

}  // namespace fovea::train
