// select_classes: a dataset of chosen classes, relabelled (dataset.h).
#include <algorithm>

#include "fovea/core/hash.h"
#include "fovea/data/dataset.h"

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
    if (index < 0 || index >= size()) fail("select_classes", "index {} out of range for {} images", index, size());
    Example e = parent_->get(indices_[static_cast<std::size_t>(index)]);
    e.label = relabel_[static_cast<std::size_t>(e.label)];
    return e;
  }
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
    const std::int64_t to = relabel[static_cast<std::size_t>(ds->get(i).label)];
    if (to < 0 || (per_class > 0 && taken[static_cast<std::size_t>(to)] >= per_class)) continue;
    ++taken[static_cast<std::size_t>(to)];
    indices.push_back(i);
  }
  return std::make_shared<ClassSubset>(ds, std::move(indices), std::move(relabel), std::move(names));
}

}  // namespace fovea::data
