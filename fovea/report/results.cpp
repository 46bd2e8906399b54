// What a checkpoint does on its run's test data: accuracy, per class, confusion and the most
// confident mistakes, then what it looks at (explain/): the receptive-field image, saliency and
// CAM maps of a few test images per class, the first layer's filters and feature maps.
#include <fmt/core.h>

#include <algorithm>
#include <map>

#include "fovea/autograd/grad_mode.h"
#include "fovea/core/error.h"
#include "fovea/data/dataloader.h"
#include "fovea/explain/faithfulness.h"
#include "fovea/explain/render.h"
#include "fovea/io/image.h"
#include "fovea/report/detail.h"

namespace fovea::report::detail {

using nlohmann::json;

namespace {

constexpr std::int64_t kMaxTiles = 64;  // filters and feature maps shown of a wide first layer

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<std::uint8_t>(bytes[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

struct Scored {
  double confidence;  // the predicted class's probability
  std::int64_t index, predicted, truth;
  double truth_prob;
};

// The image as the page shows it: the stored one when the model takes that size, else the
// model's input scaled to [0, 255].
Tensor shown_image(const Tensor& stored, const Tensor& x) {
  return stored.size(1) == x.size(1) && stored.size(2) == x.size(2) ? stored
                                                                    : explain::display_image(x.unsqueeze(0), 0);
}

// A filter (C,kh,kw) as an image: RGB for colour inputs, else the mean over its input channels;
// scaled from its minimum to its maximum.
Tensor filter_image(const Tensor& w) {
  const Tensor f = w.size(0) == 3 || w.size(0) == 1 ? w : mean(w, {0}, true);
  return explain::normalize01(f.to(DType::f32));
}

}  // namespace

std::string data_uri(const Tensor& img) { return "data:image/png;base64," + base64(io::png_bytes(img)); }

void add_results(json& run, train::Trained& t, const analysis::Summary& s, const std::string& rf_layer,
                 const ReportOptions& o) {
  auto note = [&](std::string text) { run["notes"].push_back(std::move(text)); };
  train::RunConfig c = t.config;
  data::DatasetPtr test;
  try {
    train::check_checkpoint_data(c, "report");
    test = train::open_data(c).test;
  } catch (const Error& e) {
    note(
        fmt::format("the test data could not be opened ({}): the results are metrics.json's last epoch, and the "
                    "mistakes and explanations are left out",
                    e.what()));
    return;
  }
  if (test->size() == 0) {
    note("the test split holds no image: the results and explanations are left out");
    return;
  }
  if (o.max_test_images > 0 && test->size() > o.max_test_images)
    test = data::stratified_subset(test, o.max_test_images, c.seed);
  nn::Module& model = *t.model;
  model.eval();
  const auto k = static_cast<std::int64_t>(c.classes.size());
  const auto transform = train::eval_transform(c);

  // score every test image once: the metrics and the confident mistakes
  train::Metrics m(k);
  std::vector<Scored> wrong;
  {
    NoGradGuard ng;
    data::DataLoader loader(test, transform, {.batch_size = 256, .shuffle = false, .workers = c.workers});
    loader.start_epoch(0);
    while (auto b = loader.next()) {
      const Tensor logits = model(b->images);
      m.update(logits, b->labels, cross_entropy(logits, b->labels).item());
      const auto probs = softmax(logits, 1).to(DType::f64).contiguous().to_vector<double>();
      const auto labels = b->labels.to_vector<std::int64_t>();
      for (std::size_t i = 0; i < labels.size(); ++i) {
        const double* p = probs.data() + i * static_cast<std::size_t>(k);
        const auto pred = static_cast<std::int64_t>(std::max_element(p, p + k) - p);
        if (pred != labels[i]) wrong.push_back({p[pred], b->indices[i], pred, labels[i], p[labels[i]]});
      }
    }
  }
  const auto take =
      std::min<std::size_t>(wrong.size(), static_cast<std::size_t>(std::max<std::int64_t>(0, o.mistakes)));
  std::partial_sort(wrong.begin(), wrong.begin() + static_cast<std::ptrdiff_t>(take), wrong.end(),
                    [](const Scored& a, const Scored& b) { return a.confidence > b.confidence; });
  Generator g(0);
  json mistakes = json::array();
  for (std::size_t i = 0; i < take; ++i) {
    const auto& w = wrong[i];
    const auto ex = test->get(w.index);
    mistakes.push_back({{"image", data_uri(shown_image(ex.image, transform(ex.image, g)))},
                        {"source", test->source(w.index)},
                        {"truth", w.truth},
                        {"predicted", w.predicted},
                        {"confidence", w.confidence},
                        {"truth_probability", w.truth_prob}});
  }
  const auto& ck = run["checkpoint"];
  const json classes = json::parse(train::class_results_json(m, c.classes, ck["epoch"].get<std::int64_t>()));
  run["results"] = {
      {"source", fmt::format("{} (after epoch {})", ck["file"].get<std::string>(), ck["epoch"].get<std::int64_t>())},
      {"images", m.count()},
      {"errors", wrong.size()},
      {"top1", m.top1()},
      {"loss", m.loss()},
      {"classes", c.classes},
      {"per_class", classes["test_per_class_accuracy"]["accuracy"]},
      {"mistakes", mistakes}};
  if (train::has_top5(k)) run["results"]["top5"] = m.top5();
  if (classes.contains("test_confusion")) run["results"]["confusion"] = classes["test_confusion"]["matrix"];

  // the first test images of the first classes: explained, and the first one drawn under the
  // receptive field and fed to the first layer
  std::map<std::int64_t, std::int64_t> per;
  std::vector<std::int64_t> picked;
  for (std::int64_t i = 0; i < test->size(); ++i) {
    const auto label = test->label(i);
    if (label < o.max_explained_classes && per[label]++ < o.examples_per_class) picked.push_back(i);
  }
  std::stable_sort(picked.begin(), picked.end(),
                   [&](std::int64_t a, std::int64_t b) { return test->label(a) < test->label(b); });
  if (picked.empty()) return;
  std::vector<Tensor> xs, shown;
  for (auto i : picked) {
    const auto ex = test->get(i);
    xs.push_back(transform(ex.image, g));
    shown.push_back(shown_image(ex.image, xs.back()));
  }
  const Tensor x = stack(xs, 0);
  json looks{{"rf_image",
              {{"image", data_uri(shown.front())},
               {"source", test->source(picked.front())},
               {"truth", test->label(picked.front())},
               {"layer", rf_layer}}}};

  Tensor predicted;
  {
    NoGradGuard ng;
    predicted = argmax(model(x), 1);
  }
  try {
    explain::ExplainOptions eo{.methods = o.methods};
    const auto e = explain::explain(model, x, predicted, eo);
    const auto probs = softmax(e.logits, 1).to(DType::f64).contiguous().to_vector<double>();
    const auto pred = predicted.to_vector<std::int64_t>();
    json methods = json::array(), rows = json::array();
    for (auto meth : o.methods) methods.push_back(explain::method_name(meth));
    for (std::size_t i = 0; i < picked.size(); ++i) {
      json maps = json::array();
      for (auto meth : o.methods)
        maps.push_back(data_uri(explain::render_map(e, meth, static_cast<std::int64_t>(i), shown[i])));
      rows.push_back({{"image", data_uri(shown[i])},
                      {"source", test->source(picked[i])},
                      {"truth", test->label(picked[i])},
                      {"predicted", pred[i]},
                      {"confidence", probs[i * static_cast<std::size_t>(k) + static_cast<std::size_t>(pred[i])]},
                      {"maps", maps}});
    }
    looks["explanations"] = {{"methods", methods}, {"layer", e.layer}, {"rows", rows}};
    if (o.faithfulness_steps > 0) {
      const explain::FaithfulnessOptions fo{.steps = o.faithfulness_steps};
      looks["faithfulness"] = explain::faithfulness_json(explain::evaluate(model, x, e, o.methods, fo), e.target, fo);
    }
  } catch (const Error& err) {
    note(fmt::format("the explanations could not be computed: {}", err.what()));
  }

  // the first convolution: its filters, and its feature maps of the first picked image
  const auto first_conv = std::find_if(s.rows.begin(), s.rows.end(),
                                       [](const analysis::LayerRow& r) { return r.leaf && r.type == "Conv2d"; });
  if (first_conv != s.rows.end()) {
    const auto params = model.named_parameters();
    const auto w = std::find_if(params.begin(), params.end(),
                                [&](const auto& p) { return p.first == first_conv->name + ".weight"; });
    if (w != params.end()) {
      const Tensor weight = w->second.detach().to(kCPU);  // (O,C,kh,kw)
      json tiles = json::array();
      for (std::int64_t f = 0; f < std::min(weight.size(0), kMaxTiles); ++f)
        tiles.push_back(data_uri(filter_image(weight.select(0, f))));
      looks["filters"] = {{"layer", first_conv->name}, {"shape", weight.shape()}, {"tiles", tiles}};
      const Tensor maps = explain::feature_maps(model, x.slice(0, 0, 1), {first_conv->name}).at(first_conv->name);
      json fm = json::array();
      for (std::int64_t ch = 0; ch < std::min(maps.size(1), kMaxTiles); ++ch)
        fm.push_back(data_uri(explain::apply_colormap(explain::normalize01(maps.select(0, 0).select(0, ch)),
                                                      explain::Colormap::viridis)));
      looks["features"] = {{"layer", first_conv->name},
                           {"shape", maps.shape()},
                           {"image", data_uri(shown.front())},
                           {"source", test->source(picked.front())},
                           {"tiles", fm}};
    }
  }
  run["looks"] = looks;
}

}  // namespace fovea::report::detail
