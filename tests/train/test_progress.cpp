// The progress display: plain lines for logs, '\r' redraws for a terminal, and durations.
#include "fovea/train/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "fovea/core/error.h"

namespace {

using fovea::train::format_duration;
using fovea::train::Progress;

// Everything written to f so far.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  for (int c; (c = std::fgetc(f)) != EOF;) s += static_cast<char>(c);
  return s;
}

// Whether s matches pattern, where '#' stands for one or more of "0123456789.,": times and rates
// vary from run to run.
bool matches(std::string_view s, std::string_view pattern) {
  std::size_t i = 0;
  for (char p : pattern) {
    if (p != '#') {
      if (i >= s.size() || s[i] != p) return false;
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < s.size() && s[i] != '\0' && std::strchr("0123456789.,", s[i])) ++i;
    if (i == start) return false;
  }
  return i == s.size();
}

class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(f_ = std::tmpfile(), nullptr); }
  void TearDown() override { std::fclose(f_); }
  std::FILE* f_ = nullptr;
};

TEST(Progress, FormatDuration) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(12.4), "0:12");
  EXPECT_EQ(format_duration(59.6), "1:00");
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(36000), "10:00:00");
  EXPECT_EQ(format_duration(std::nan("")), "-:--");
  EXPECT_EQ(format_duration(-1), "-:--");
}

TEST(Progress, TmpfileIsNotATerminal) {
  std::FILE* f = std::tmpfile();
  EXPECT_FALSE(Progress::is_terminal(f));
  std::fclose(f);
}

using ProgressPlain = ProgressTest;

TEST_F(ProgressPlain, OneLineAtTheEnd) {
  Progress p(f_, false);
  p.start_epoch(3, 10, 2);
  p.update(4, 0.5, 3);
  p.update(4, 0.5, 3);
  EXPECT_EQ(contents(f_), "");  // nothing during the epoch
  p.end_epoch("test loss 0.3100  top-1 88.9%");
  const std::string out = contents(f_);
  EXPECT_TRUE(matches(out,
                      "epoch 3/10  2 batches  # s  # img/s  loss 0.5000  acc 75.0%  "
                      "test loss 0.3100  top-1 88.9%\n"))
      << out;
}

TEST_F(ProgressPlain, NoSummaryNoTrailingSpaces) {
  Progress p(f_, false);
  p.start_epoch(1, 1, 1);
  p.update(2, 1.0, 0);
  p.end_epoch("");
  const std::string out = contents(f_);
  EXPECT_NE(out.find("  loss 1.0000  acc 0.0%\n"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos);
}

TEST_F(ProgressPlain, RunningValuesAreWeightedBySamples) {
  Progress p(f_, false);
  p.start_epoch(1, 1, 2);
  EXPECT_TRUE(std::isnan(p.running_loss()));
  p.update(3, 1.0, 3);
  p.update(1, 3.0, 0);
  EXPECT_DOUBLE_EQ(p.running_loss(), 1.5);
  EXPECT_DOUBLE_EQ(p.running_accuracy(), 0.75);
  EXPECT_GT(p.images_per_second(), 0.0);
  p.start_epoch(2, 2, 2);  // a new epoch starts from zero
  EXPECT_TRUE(std::isnan(p.running_accuracy()));
}

TEST_F(ProgressPlain, BadCalls) {
  Progress p(f_, false);
  EXPECT_THROW(p.update(1, 0.0, 0), fovea::Error);
  EXPECT_THROW(p.start_epoch(1, 0, 10), fovea::Error);
  p.start_epoch(1, 1, 10);
  EXPECT_THROW(p.update(2, 0.0, 3), fovea::Error);
  EXPECT_THROW(p.update(-1, 0.0, 0), fovea::Error);
  EXPECT_THROW(Progress(nullptr, false), fovea::Error);
}

using ProgressTerminal = ProgressTest;

// A tmpfile has no width, so the bar keeps its full 20 columns.
TEST_F(ProgressTerminal, RedrawsInPlaceAndEndsTheLine) {
  const auto t0 = std::chrono::steady_clock::now();
  Progress p(f_, true);
  p.start_epoch(1, 2, 3);
  for (int i = 0; i < 3; ++i) p.update(10, 0.25, 5);
  p.end_epoch("test loss 0.2000");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  const std::string out = contents(f_);

  // The first draw at start_epoch, the last at end_epoch, and in between at most one per 100 ms.
  const auto redraws = std::count(out.begin(), out.end(), '\r');
  EXPECT_GE(redraws, 2);
  EXPECT_LE(redraws, 2 + ms / 100 + 1) << out;
  EXPECT_EQ(out.rfind("\r", 0), 0u);
  EXPECT_NE(out.find("epoch 1/2 [>                   ] 0/3  0.0 img/s  ETA -:--  loss -  acc -\x1b[K"),
            std::string::npos)
      << out;
  const std::string last = out.substr(out.rfind('\r'));
  EXPECT_TRUE(matches(last,
                      "\repoch 1/2 [====================] 3/3  # img/s  # s  loss 0.2500  acc 50.0%\x1b[K\n"
                      "  test loss 0.2000\n"))
      << last;
}

TEST_F(ProgressTerminal, RedrawsAfterATenthOfASecond) {
  Progress p(f_, true);
  p.start_epoch(1, 1, 4);
  p.update(1, 1.0, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  p.update(1, 1.0, 1);
  const std::string out = contents(f_);
  EXPECT_GE(std::count(out.begin(), out.end(), '\r'), 2);
  EXPECT_NE(out.find(" 2/4 "), std::string::npos) << out;
  EXPECT_NE(out.find("[==========>         ]"), std::string::npos) << out;
  EXPECT_NE(out.find("  ETA "), std::string::npos) << out;
  EXPECT_EQ(out.find('\n'), std::string::npos);  // the line stays open until end_epoch
}

}  // namespace
