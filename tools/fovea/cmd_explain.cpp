// `fovea explain`: saliency, guided backprop, deconvnet, Grad-CAM, guided Grad-CAM, SmoothGrad
// and occlusion maps of images, as PNG files, the article's figure and raw safetensors.
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/draw.h"
#include "fovea/explain/render.h"
#include "fovea/io/image.h"
#include "fovea/ops/ops.h"
#include "tools/fovea/cli_inputs.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

constexpr const char* kOp = "explain";
constexpr std::int64_t kMapSide = 224;  // single maps are enlarged until their short side reaches it

// --class: an index or a class name
std::int64_t parse_class(const std::string& s, const std::vector<std::string>& classes) {
  for (std::size_t i = 0; i < classes.size(); ++i)
    if (classes[i] == s) return static_cast<std::int64_t>(i);
  try {
    std::size_t used = 0;
    const std::int64_t k = std::stoll(s, &used);
    if (used == s.size() && k >= 0 && k < static_cast<std::int64_t>(classes.size())) return k;
  } catch (const std::exception&) {
  }
  fail(kOp, "--class '{}' is neither a class name nor an index in [0, {})", s, classes.size());
}

}  // namespace

void add_explain(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("explain", "what the network looks at: saliency, guided backprop, deconvnet, Grad-CAM, ...");
  struct Args {
    ModelArgs model;
    InputArgs in;
    std::string cls, methods = "vanilla,guided,deconv,gradcam,guided-gradcam", layer, reduce = "max", score = "logit",
                     colormap = "jet", out, sanity;
    std::int64_t top = 1;
    double alpha = 0.5;
    int samples = 25;
    double sigma = 0.15;
    std::int64_t window = 0, stride = 0;
    int scale = 0;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  add_model_args(cmd, a->model);
  add_input_args(cmd, a->in);
  cmd->add_option("--class", a->cls, "explain this class (name or index) for every image (default: the prediction)");
  cmd->add_option("--top", a->top, "explain each image's K most likely classes")->capture_default_str();
  cmd->add_option("--methods", a->methods, "vanilla,guided,deconv,gradcam,guided-gradcam,smoothgrad,occlusion")
      ->capture_default_str();
  cmd->add_option("--layer", a->layer, "Grad-CAM's layer (default: the last layer with a spatial output)");
  cmd->add_option("--reduce", a->reduce, "gradient maps' channels: max | mean (of |g|) | none (signed)")
      ->capture_default_str();
  cmd->add_option("--score", a->score, "logit | sigmoid (one-vs-rest probability)")->capture_default_str();
  cmd->add_option("--colormap", a->colormap, "jet | viridis | grey")->capture_default_str();
  cmd->add_option("--alpha", a->alpha, "Grad-CAM overlay opacity")->capture_default_str();
  cmd->add_option("--samples", a->samples, "SmoothGrad: noisy copies")->capture_default_str();
  cmd->add_option("--sigma", a->sigma, "SmoothGrad: noise std as a fraction of the image's range")
      ->capture_default_str();
  cmd->add_option("--window", a->window, "occlusion: square side (default about 1/7 of the image)");
  cmd->add_option("--stride", a->stride, "occlusion: step (default half the window)");
  cmd->add_option("--sanity-check", a->sanity,
                  "comma-separated layers, top first: re-initialise them one after another and print the rank "
                  "correlation of each map with the trained model's (Adebayo et al. 2018)");
  cmd->add_option("--scale", a->scale,
                  "enlarge each map's PNG by this whole factor (default: until its short side is at least 224 px)");
  cmd->add_option("--out", a->out, "output directory")->required();
  cmd->add_flag("--force", a->force, "write into --out even when it already holds files");
  cmd->callback([a] {
    check_out_dir(a->out, a->force, kOp);
    if (a->scale < 0) fail(kOp, "--scale must be >= 1 (or 0: automatic), got {}", a->scale);
    explain::ExplainOptions o;
    o.methods = explain::parse_methods(a->methods);
    o.layer = a->layer;
    if (a->score != "logit" && a->score != "sigmoid") fail(kOp, "--score must be logit or sigmoid, got '{}'", a->score);
    o.score = a->score == "sigmoid" ? explain::Score::sigmoid : explain::Score::logit;
    o.smoothgrad_samples = a->samples;
    o.smoothgrad_sigma = a->sigma;
    o.occlusion_window = a->window;
    o.occlusion_stride = a->stride;
    explain::RenderOptions ro;
    ro.colormap = explain::parse_colormap(a->colormap);
    ro.alpha = a->alpha;
    ro.reduce = explain::parse_reduce(a->reduce);
    if (!(a->alpha >= 0 && a->alpha <= 1)) fail(kOp, "--alpha must be in [0, 1], got {}", a->alpha);
    if (a->top < 1) fail(kOp, "--top must be >= 1, got {}", a->top);
    if (!a->cls.empty() && a->top != 1) fail(kOp, "give --class or --top, not both");

    Inputs in = load_inputs(a->model, a->in, kOp);
    const std::int64_t n = in.x.size(0);
    Tensor logits;
    {
      NoGradGuard ng;
      in.model->eval();
      logits = (*in.model)(in.x);
    }
    if (logits.dim() != 2) fail(kOp, "the model must return logits (N,K), got {}", shape_str(logits.shape()));
    const std::int64_t k = logits.size(1);
    if (static_cast<std::int64_t>(in.classes.size()) != k) {
      in.classes.clear();
      for (std::int64_t c = 0; c < k; ++c) in.classes.push_back(std::to_string(c));
    }
    const std::int64_t top = std::min(a->top, k);
    const Tensor prob = softmax(logits, 1);
    // targets[r]: the class explained at rank r for every image
    std::vector<Tensor> targets;
    if (!a->cls.empty()) {
      targets.push_back(full({n}, static_cast<double>(parse_class(a->cls, in.classes)), {.dtype = DType::i64}));
    } else {
      const auto p = prob.to_vector<float>();
      std::vector<std::vector<std::int64_t>> ranked(static_cast<std::size_t>(top), std::vector<std::int64_t>(n));
      for (std::int64_t i = 0; i < n; ++i) {
        std::vector<std::int64_t> order(static_cast<std::size_t>(k));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](auto x, auto y) { return p[i * k + x] > p[i * k + y]; });
        for (std::int64_t r = 0; r < top; ++r) ranked[r][i] = order[r];
      }
      for (auto& t : ranked) targets.push_back(from_vector<std::int64_t>(t, {n}));
    }

    // everything is computed before anything is written: a refused run leaves no directory
    std::vector<explain::Explanation> es;
    es.reserve(targets.size());
    for (auto& t : targets) es.push_back(explain::explain(*in.model, in.x, t, o));
    std::vector<explain::SanityStep> steps;
    if (!a->sanity.empty())
      steps = explain::cascading_randomization(*in.model, in.x, targets.front(), split_list(a->sanity), o);

    std::filesystem::create_directories(a->out);
    const std::int64_t short_side = std::min(in.shown.front().size(1), in.shown.front().size(2));
    const int scale =
        a->scale > 0 ? a->scale : static_cast<int>(std::max<std::int64_t>(1, (kMapSide + short_side - 1) / short_side));
    const auto pv = prob.to_vector<float>();
    std::vector<explain::FigureRow> rows;
    const std::string layer = es.front().layer.empty() ? "-" : es.front().layer;
    fmt::print("{:<28} {:<16} {:<24} {:<24}\n", "image", "true", "explained (p)", "files");
    for (std::int64_t i = 0; i < n; ++i)
      for (std::size_t r = 0; r < es.size(); ++r) {
        const auto c = es[r].target.to_vector<std::int64_t>()[i];
        const std::string stem = es.size() > 1 ? fmt::format("{}_top{}", in.names[i], r + 1) : in.names[i];
        for (auto m : o.methods)
          io::write_png((std::filesystem::path(a->out) / (stem + "_" + explain::method_name(m) + ".png")).string(),
                        explain::enlarge(explain::render_map(es[r], m, i, in.shown[i], ro), scale));
        const std::string truth = in.truth[i] >= 0 ? in.classes[in.truth[i]] : "?";
        const std::string label = fmt::format("{}: {} ({:.1f}%){}", in.names[i], in.classes[c], 100 * pv[i * k + c],
                                              in.truth[i] >= 0 ? ", true " + truth : "");
        rows.push_back({in.shown[i], label, &es[r], i});
        fmt::print("{:<28} {:<16} {:<24} {}_*.png\n", in.names[i], truth,
                   fmt::format("{} ({:.1f}%)", in.classes[c], 100 * pv[i * k + c]), stem);
      }
    for (std::size_t r = 0; r < es.size(); ++r)
      explain::save_maps((std::filesystem::path(a->out) /
                          (es.size() > 1 ? fmt::format("maps_top{}.safetensors", r + 1) : "maps.safetensors"))
                             .string(),
                         es[r]);
    const auto fig = (std::filesystem::path(a->out) / "figure.png").string();
    io::write_png(fig, explain::figure(rows, o.methods, ro));
    fmt::print("Grad-CAM layer: {}\nfigure: {}\n", layer, fig);

    if (!steps.empty()) {
      nlohmann::ordered_json j = nlohmann::json::array();
      fmt::print("\nsanity check (Adebayo et al. 2018): Spearman rank correlation of |map| with the trained model's\n");
      fmt::print("{:<28}", "re-initialised down to");
      for (auto m : o.methods) fmt::print(" {:>15}", explain::method_name(m));
      fmt::print("\n");
      for (auto& s : steps) {
        fmt::print("{:<28}", s.layer);
        nlohmann::ordered_json row{{"layer", s.layer}};
        for (auto m : o.methods) {
          fmt::print(" {:>15.3f}", s.rank_corr.at(m));
          row[explain::method_name(m)] = s.rank_corr.at(m);
        }
        fmt::print("\n");
        j.push_back(row);
      }
      std::ofstream((std::filesystem::path(a->out) / "sanity.json").string()) << j.dump(2) << "\n";
    }
  });
}

}  // namespace fovea::cli
