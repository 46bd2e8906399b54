#pragma once
// Training progress as users know it from Keras and tqdm: on a terminal, one bar per epoch
// redrawn in place with images/s, ETA, running loss and accuracy; otherwise (a pipe, a log
// file, or quiet) one plain line per epoch.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fovea::train {

class Progress {
 public:
  // out: where to draw; interactive: false forces the plain mode (--quiet, not a terminal)
  Progress(std::FILE* out, bool interactive);
  static bool is_terminal(std::FILE* f);

  void start_epoch(std::int64_t epoch, std::int64_t epochs, std::int64_t batches);
  // after each batch: its size, mean loss and number correct
  void update(std::int64_t batch_size, double loss, std::int64_t correct);
  // closes the epoch's bar and prints `summary` (e.g. "test loss 0.31 top-1 88.9%")
  void end_epoch(const std::string& summary);

  double images_per_second() const;
  double running_loss() const;
  double running_accuracy() const;

 private:
  void draw(bool final_draw);

  std::FILE* out_;
  bool interactive_;
  std::int64_t epoch_ = 0, epochs_ = 0, batches_ = 0, done_ = 0, images_ = 0, correct_ = 0;
  double loss_sum_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:05" / "1:02:03"
std::string format_duration(double seconds);

}  // namespace fovea::train
