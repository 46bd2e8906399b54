#pragma once
// Classification metrics accumulated over batches: loss, top-1, top-5, per-class accuracy and
// the confusion matrix (rows: true class, columns: predicted).
#include <cstdint>
#include <string>
#include <vector>

#include "fovea/core/tensor.h"

namespace fovea::train {

class Metrics {
 public:
  explicit Metrics(std::int64_t num_classes);
  // logits: (B,K), labels: (B) i64, loss: the batch's mean loss
  void update(const Tensor& logits, const Tensor& labels, double loss);
  std::int64_t count() const { return count_; }
  double loss() const;                                                       // mean over samples
  double top1() const;                                                       // in [0, 1]
  double top5() const;                                                       // top-min(5, K)
  std::vector<double> per_class_accuracy() const;                            // NaN for classes with no sample
  const std::vector<std::int64_t>& confusion() const { return confusion_; }  // K*K row-major
  std::int64_t num_classes() const { return k_; }
  // Distributed evaluation: every rank's counts summed into every rank's (dist::all_reduce), so
  // that ranks that each scored a different part of the test set hold the totals of all of it.
  void sum_over_ranks();

 private:
  std::int64_t k_, count_ = 0, correct1_ = 0, correct5_ = 0;
  double loss_sum_ = 0;
  std::vector<std::int64_t> confusion_;
};

// metrics.json's record of the classes as JSON text: {"test_per_class_accuracy": {"epoch",
// "classes", "accuracy" (null for a class with no sample)}, "test_confusion": {"epoch", "classes",
// "matrix" (rows: the true class)}}; the confusion only up to 256 classes. The HTML report
// reads the same fields.
std::string class_results_json(const Metrics& m, const std::vector<std::string>& class_names, std::int64_t epoch);

// Text tables for a terminal.
std::string per_class_table(const Metrics& m, const std::vector<std::string>& class_names);
std::string confusion_table(const Metrics& m, const std::vector<std::string>& class_names);
// A PNG figure of the confusion matrix: row-normalised cells coloured (white to dark blue) with
// the counts written in, class names on both axes, written atomically.
void write_confusion_png(const Metrics& m, const std::vector<std::string>& class_names, const std::string& path);

}  // namespace fovea::train
