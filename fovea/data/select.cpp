// select_classes: a dataset of chosen classes, relabelled; class counts and stratified subsets
// (dataset.h).
#include <algorithm>
#include <numeric>

#include "fovea/core/generator.h"
#include "fovea/core/hash.h"
#include "fovea/data/dataset.h"
#include "fovea/data/detail.h"

namespace fovea::data {

namespace {

class ClassSubset final : public Dataset {
 public:
  ClassSubset(DatasetPtr parent, std::vector<std::int64_t> indices, std::vector<std::int64_t> relabel,
              std::vector<std::string> names)
      : parent_(std::move(parent)),
        indices_(std::move(indices)),
        relabel_(std::move(relabel)),
        names_(std::move(names)) {}

  std::int64_t size() const override { return static_cast<std::int64_t>(indices_.size()); }
  Example get(std::int64_t index) const override {
    Example e = parent_->get(at(index));
    e.label = relabel_[static_cast<std::size_t>(e.label)];
    return e;
  }
  std::int64_t label(std::int64_t index) const override {
    return relabel_[static_cast<std::size_t>(parent_->label(at(index)))];
  }
  std::string source(std::int64_t index) const override { return parent_->source(at(index)); }
  const std::vector<std::string>& classes() const override { return names_; }
  Shape image_shape() const override { return parent_->image_shape(); }
  std::string name() const override { return parent_->name(); }
  std::uint64_t fingerprint() const override {
    Fnv1a h;
    h.number(static_cast<std::int64_t>(parent_->fingerprint()));
    h.bytes(indices_.data(), indices_.size() * sizeof(std::int64_t))
        .bytes(relabel_.data(), relabel_.size() * sizeof(std::int64_t));
    return h.value();
  }

 private:
  std::int64_t at(std::int64_t index) const {
    if (index < 0 || index >= size()) fail("select_classes", "index {} out of range for {} images", index, size());
    return indices_[static_cast<std::size_t>(index)];
  }

  DatasetPtr parent_;
  std::vector<std::int64_t> indices_, relabel_;  // relabel_: parent label -> new label (-1: dropped)
  std::vector<std::string> names_;
};

}  // namespace

DatasetPtr select_classes(const DatasetPtr& ds, const std::vector<std::int64_t>& classes, std::int64_t per_class) {
  if (!ds) fail("select_classes", "dataset is null");
  if (classes.empty()) fail("select_classes", "no classes given");
  if (per_class < 0) fail("select_classes", "images per class must be >= 0, got {}", per_class);
  const auto k = static_cast<std::int64_t>(ds->classes().size());
  std::vector<std::int64_t> relabel(static_cast<std::size_t>(k), -1);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const std::int64_t c = classes[i];
    if (c < 0 || c >= k) fail("select_classes", "class {} out of range: {} has {} classes", c, ds->name(), k);
    if (relabel[static_cast<std::size_t>(c)] >= 0) fail("select_classes", "class {} given twice", c);
    relabel[static_cast<std::size_t>(c)] = static_cast<std::int64_t>(i);
    names.push_back(ds->classes()[static_cast<std::size_t>(c)]);
  }
  std::vector<std::int64_t> indices, taken(classes.size(), 0);
  for (std::int64_t i = 0; i < ds->size(); ++i) {
    const std::int64_t to = relabel[static_cast<std::size_t>(ds->label(i))];
    if (to < 0 || (per_class > 0 && taken[static_cast<std::size_t>(to)] >= per_class)) continue;
    ++taken[static_cast<std::size_t>(to)];
    indices.push_back(i);
  }
  return std::make_shared<ClassSubset>(ds, std::move(indices), std::move(relabel), std::move(names));
}

// The indices of each class's images, in dataset order.
std::vector<std::vector<std::int64_t>> indices_by_class(const Dataset& ds) {
  std::vector<std::vector<std::int64_t>> by_class(ds.classes().size());
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    const std::int64_t l = ds.label(i);
    if (l < 0 || l >= static_cast<std::int64_t>(by_class.size()))
      fail("data", "{}: label {} of image {} is not one of its {} classes", ds.name(), l, i, by_class.size());
    by_class[static_cast<std::size_t>(l)].push_back(i);
  }
  return by_class;
}

std::vector<std::int64_t> class_counts(const Dataset& ds) {
  std::vector<std::int64_t> counts;
  for (const auto& c : indices_by_class(ds)) counts.push_back(static_cast<std::int64_t>(c.size()));
  return counts;
}

DatasetPtr stratified_subset(const DatasetPtr& ds, std::int64_t n, std::uint64_t seed) {
  if (!ds) fail("stratified_subset", "dataset is null");
  if (n <= 0 || n >= ds->size()) return ds;
  const auto by_class = indices_by_class(*ds);
  const std::size_t k = by_class.size();
  // take[c]: one image for every class that has one while n allows (the largest classes first
  // when n is short), then the rest in proportion to what each class has left
  std::vector<std::int64_t> take(k, 0), left(k);
  std::vector<std::size_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return by_class[a].size() > by_class[b].size(); });
  std::int64_t budget = n;
  for (auto c : order)
    if (budget > 0 && !by_class[c].empty()) {
      take[c] = 1;
      --budget;
    }
  std::int64_t pool = 0;
  for (std::size_t c = 0; c < k; ++c) pool += left[c] = static_cast<std::int64_t>(by_class[c].size()) - take[c];
  if (budget > 0) {
    std::vector<double> rest(k);
    std::int64_t given = 0;
    for (std::size_t c = 0; c < k; ++c) {
      const double share = static_cast<double>(budget) * static_cast<double>(left[c]) / static_cast<double>(pool);
      const auto whole = static_cast<std::int64_t>(share);
      take[c] += whole;
      given += whole;
      rest[c] = share - static_cast<double>(whole);
    }
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return rest[a] > rest[b]; });
    for (std::size_t i = 0; given < budget; i = (i + 1) % k) {
      const auto c = order[i];
      if (take[c] < static_cast<std::int64_t>(by_class[c].size())) {
        ++take[c];
        ++given;
      }
    }
  }
  Generator g(seed);
  std::vector<std::int64_t> indices;
  for (std::size_t c = 0; c < k; ++c) {
    const auto perm = detail::permutation(static_cast<std::int64_t>(by_class[c].size()), g);
    for (std::int64_t j = 0; j < take[c]; ++j) indices.push_back(by_class[c][static_cast<std::size_t>(perm[j])]);
  }
  std::sort(indices.begin(), indices.end());
  return subset(ds, std::move(indices));
}

}  // namespace fovea::data
