// `fovea explain`: saliency, guided backprop, deconvnet, Grad-CAM, guided Grad-CAM, Grad-CAM++,
// Score-CAM, LayerCAM, SmoothGrad, integrated gradients and occlusion maps of images (files,
// folders or a test split), for the predicted, true or named classes: PNG files, the figure,
// raw safetensors, and with --evaluate the faithfulness table.
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/draw.h"
#include "fovea/explain/faithfulness.h"
#include "fovea/explain/render.h"
#include "fovea/io/image.h"
#include "fovea/io/safetensors.h"
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
  fail(kOp, "class '{}' is neither a class name nor an index in [0, {})", s, classes.size());
}

// The target sets: columns of (N,T). --targets predicted (with --top K, ranked from the run's
// logits), true, or a list of classes explained for every image; --class K is --targets K.
Tensor choose_targets(const std::string& spec, std::int64_t top, const Inputs& in, const Tensor& logits) {
  const std::int64_t n = in.x.size(0);
  if (spec == "predicted") return explain::top_classes(logits, top);
  if (top != 1) fail(kOp, "--top goes with --targets predicted, not '{}'", spec);
  std::vector<std::int64_t> t;
  if (spec == "true") {
    for (std::int64_t i = 0; i < n; ++i) {
      if (in.truth[i] < 0)
        fail(kOp,
             "--targets true: the true class of image '{}' is unknown (give test images, or image files in "
             "folders named after the classes)",
             in.names[i]);
      t.push_back(in.truth[i]);
    }
    return from_vector<std::int64_t>(t, {n, 1});
  }
  const auto list = split_list(spec);
  if (list.empty()) fail(kOp, "--targets is empty (predicted, true, or classes such as 3,5)");
  std::vector<std::int64_t> classes;
  for (const auto& c : list) classes.push_back(parse_class(c, in.classes));
  for (std::int64_t i = 0; i < n; ++i) t.insert(t.end(), classes.begin(), classes.end());
  return from_vector<std::int64_t>(t, {n, static_cast<std::int64_t>(classes.size())});
}

// One explanation of all target sets together: x repeated and the maps concatenated (for
// scoring every (image, target) pair at once).
explain::Explanation concatenated(const std::vector<explain::Explanation>& es) {
  if (es.size() == 1) return es.front();
  explain::Explanation out;
  std::vector<Tensor> targets;
  for (const auto& e : es) targets.push_back(e.target);
  out.target = cat(targets, 0);
  for (const auto& [m, _] : es.front().maps) {
    std::vector<Tensor> parts;
    for (const auto& e : es) parts.push_back(e.maps.at(m));
    out.maps[m] = cat(parts, 0);
  }
  return out;
}

void print_faithfulness(const std::vector<explain::MethodFaithfulness>& scores, std::int64_t pairs,
                        std::int64_t steps) {
  fmt::print("\nfaithfulness over {} image-target pairs ({} steps; the class's softmax probability):\n", pairs, steps);
  fmt::print("{:<22} {:>14} {:>15} {:>16} {:>14}\n", "method", "deletion AUC", "insertion AUC", "average drop %",
             "increase %");
  double best_del = 1e9, best_ins = -1, best_drop = 1e9, best_inc = -1;
  for (const auto& s : scores) {
    if (s.method == "random") continue;
    best_del = std::min(best_del, s.f.mean_deletion_auc);
    best_ins = std::max(best_ins, s.f.mean_insertion_auc);
    best_drop = std::min(best_drop, s.f.average_drop);
    best_inc = std::max(best_inc, s.f.increase);
  }
  auto cell = [](double v, bool best, int width, int prec) {
    return fmt::format("{:>{}.{}f}{}", v, width - 1, prec, best ? "*" : " ");
  };
  for (const auto& s : scores)
    fmt::print("{:<22} {} {} {} {}\n", s.method == "random" ? "random (chance)" : s.method,
               cell(s.f.mean_deletion_auc, s.f.mean_deletion_auc == best_del, 14, 4),
               cell(s.f.mean_insertion_auc, s.f.mean_insertion_auc == best_ins, 15, 4),
               cell(s.f.average_drop, s.f.average_drop == best_drop, 16, 1),
               cell(s.f.increase, s.f.increase == best_inc, 14, 1));
  fmt::print(
      "deletion AUC and average drop: lower is better; insertion AUC and increase: higher is better; * the best\n"
      "method. These measure agreement with the model, not with people, and reward maps that make the model\n"
      "change its mind, including by out-of-distribution masks (docs/explain.md).\n");
}

// IG's completeness: the sum of attributions against score(x) - score(baseline)
void print_completeness(const std::vector<explain::Explanation>& es, std::int64_t steps) {
  std::vector<double> err;
  for (const auto& e : es)
    for (std::int64_t i = 0; e.ig_sum.defined() && i < e.ig_sum.size(0); ++i)
      err.push_back(explain::completeness_error(e, i));
  if (err.empty()) return;
  std::sort(err.begin(), err.end());
  fmt::print(
      "integrated gradients ({} steps): completeness error |sum - (score(x) - score(baseline))| / |...|: "
      "median {:.2g}, worst {:.2g}{}\n",
      steps, err[err.size() / 2], err.back(), err.back() > 0.05 ? " (raise --ig-steps)" : "");
}

}  // namespace

void add_explain(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("explain", "what the network looks at: saliency, guided backprop, deconvnet, Grad-CAM, ...");
  struct Args {
    ModelArgs model;
    InputArgs in;
    std::string cls, targets, methods = "vanilla,guided,deconv,gradcam,guided-gradcam", layer, layercam_layers,
                              reduce = "max", score = "logit", colormap = "jet", out, sanity, baseline = "zero";
    std::int64_t top = 1, batch = 16, forward_batch = 64, ig_steps = 50, eval_steps = 50, figure_rows = 32;
    bool evaluate = false;
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
  cmd->add_option("--targets", a->targets,
                  "the classes explained: predicted (default; --top K for the K most likely), true, or classes "
                  "(names or indices) explained for every image, such as 3,5");
  cmd->add_option("--class", a->cls, "explain this class (name or index) for every image: --targets K");
  cmd->add_option("--top", a->top, "explain each image's K most likely classes")->capture_default_str();
  cmd->add_option("--methods", a->methods,
                  "vanilla,guided,deconv,gradcam,guided-gradcam,gradcam++,scorecam,layercam,smoothgrad,"
                  "integrated-gradients,occlusion, or all")
      ->capture_default_str();
  cmd->add_option("--layer", a->layer,
                  "the CAM methods' layer, a module path (default: the last layer with a spatial output)");
  cmd->add_option("--layercam-layers", a->layercam_layers,
                  "LayerCAM fused over these layers (comma-separated, such as layer2,layer3,layer4)");
  cmd->add_option("--ig-steps", a->ig_steps, "integrated gradients: intervals of the path")->capture_default_str();
  cmd->add_option("--baseline", a->baseline, "integrated gradients' baseline: zero | blur | uniform")
      ->capture_default_str();
  cmd->add_option("--batch", a->batch, "images per pass (bounds memory)")->capture_default_str();
  cmd->add_option("--forward-batch", a->forward_batch,
                  "perturbed images per forward pass (Score-CAM, integrated gradients, occlusion, --evaluate)")
      ->capture_default_str();
  cmd->add_flag("--evaluate", a->evaluate,
                "score each method's maps: deletion and insertion AUC, average drop and increase in confidence "
                "(printed, and faithfulness.json)");
  cmd->add_option("--eval-steps", a->eval_steps, "--evaluate: points of the deletion and insertion curves")
      ->capture_default_str();
  cmd->add_option("--figure-rows", a->figure_rows, "rows of figure.png (the first image-target pairs)")
      ->capture_default_str();
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
    if (!a->layercam_layers.empty()) o.layercam_layers = split_list(a->layercam_layers);
    o.ig_steps = a->ig_steps;
    o.ig_baseline = explain::parse_baseline(a->baseline);
    o.batch = a->batch;
    o.forward_batch = a->forward_batch;
    explain::FaithfulnessOptions fo{.steps = a->eval_steps, .forward_batch = a->forward_batch};
    if (a->eval_steps < 1) fail(kOp, "--eval-steps must be >= 1, got {}", a->eval_steps);
    if (a->batch < 1) fail(kOp, "--batch must be >= 1, got {}", a->batch);
    if (a->forward_batch < 1) fail(kOp, "--forward-batch must be >= 1, got {}", a->forward_batch);
    if (a->ig_steps < 1) fail(kOp, "--ig-steps must be >= 1, got {}", a->ig_steps);
    if (a->figure_rows < 1) fail(kOp, "--figure-rows must be >= 1, got {}", a->figure_rows);
    explain::RenderOptions ro;
    ro.colormap = explain::parse_colormap(a->colormap);
    ro.alpha = a->alpha;
    ro.reduce = explain::parse_reduce(a->reduce);
    if (!(a->alpha >= 0 && a->alpha <= 1)) fail(kOp, "--alpha must be in [0, 1], got {}", a->alpha);
    if (a->top < 1) fail(kOp, "--top must be >= 1, got {}", a->top);
    if (!a->cls.empty() && !a->targets.empty()) fail(kOp, "give --class or --targets, not both");
    const std::string target_spec = !a->cls.empty() ? a->cls : a->targets.empty() ? "predicted" : a->targets;

    Inputs in = load_inputs(a->model, a->in, kOp);
    const std::int64_t n = in.x.size(0);
    Tensor logits;
    {
      NoGradGuard ng;
      nn::EvalGuard eval(*in.model);
      std::vector<Tensor> parts;
      for (std::int64_t b = 0; b < n; b += o.batch)
        parts.push_back((*in.model)(in.x.slice(0, b, std::min(n, b + o.batch))));
      logits = cat(parts, 0);
    }
    if (logits.dim() != 2) fail(kOp, "the model must return logits (N,K), got {}", shape_str(logits.shape()));
    const std::int64_t k = logits.size(1);
    if (static_cast<std::int64_t>(in.classes.size()) != k) {
      in.classes.clear();
      for (std::int64_t c = 0; c < k; ++c) in.classes.push_back(std::to_string(c));
    }
    const Tensor prob = softmax(logits, 1);
    const Tensor target_sets = choose_targets(target_spec, std::min(a->top, k), in, logits);  // (N,T)

    // everything is computed before anything is written: a refused run leaves no directory
    const std::vector<explain::Explanation> es = explain::explain_each(*in.model, in.x, target_sets, o);
    // file-name suffixes of the target sets: _topR for the ranks of the prediction, _classK for
    // named classes, none for a single set
    std::vector<std::string> suffix(es.size());
    for (std::size_t r = 0; es.size() > 1 && r < es.size(); ++r)
      suffix[r] = target_spec == "predicted" ? fmt::format("_top{}", r + 1)
                                             : fmt::format("_class{}", es[r].target.to_vector<std::int64_t>()[0]);
    std::vector<explain::SanityStep> steps;
    if (!a->sanity.empty())
      steps = explain::cascading_randomization(*in.model, in.x, es.front().target, split_list(a->sanity), o);
    std::vector<explain::MethodFaithfulness> scores;
    std::vector<std::string> pair_names;  // one per (target set, image), as concatenated
    Tensor pair_targets;
    if (a->evaluate) {
      std::vector<Tensor> xs(es.size(), in.x);
      for (std::size_t r = 0; r < es.size(); ++r)
        for (std::int64_t i = 0; i < n; ++i) pair_names.push_back(in.names[i] + suffix[r]);
      fo.reduce = ro.reduce;
      const explain::Explanation all = concatenated(es);
      pair_targets = all.target;
      scores = explain::evaluate(*in.model, cat(xs, 0), all, o.methods, fo);
    }

    std::filesystem::create_directories(a->out);
    const std::int64_t short_side = std::min(in.shown.front().size(1), in.shown.front().size(2));
    const int scale =
        a->scale > 0 ? a->scale : static_cast<int>(std::max<std::int64_t>(1, (kMapSide + short_side - 1) / short_side));
    const auto pv = prob.to_vector<float>();
    std::vector<explain::FigureRow> rows;
    const std::string layer = es.front().layer.empty() ? "-" : es.front().layer;
    const std::string source = !a->model.checkpoint.empty() ? a->model.checkpoint : a->model.model;
    fmt::print("{:<28} {:<16} {:<24} {:<24}\n", "image", "true", "explained (p)", "files");
    for (std::int64_t i = 0; i < n; ++i)
      for (std::size_t r = 0; r < es.size(); ++r) {
        const auto c = es[r].target.to_vector<std::int64_t>()[i];
        const std::string stem = in.names[i] + suffix[r];
        for (auto m : o.methods) {
          const auto base = std::filesystem::path(a->out) / (stem + "_" + explain::method_name(m));
          io::write_png(base.string() + ".png",
                        explain::enlarge(explain::render_map(es[r], m, i, in.shown[i], ro), scale));
          io::save_safetensors(
              base.string() + ".safetensors", {{"map", es[r].maps.at(m).select(0, i).detach().to(kCPU).contiguous()}},
              {{"image", in.names[i]},
               {"method", explain::method_name(m)},
               {"target", std::to_string(c)},
               {"target_class", in.classes[c]},
               {"probability", fmt::format("{:.6g}", pv[i * k + c])},
               {"true_class", in.truth[i] >= 0 ? in.classes[in.truth[i]] : ""},
               {"layer", explain::is_gradient_map(m) && m != explain::Method::guided_gradcam ? "" : es[r].layer},
               {"model", source}});
        }
        const std::string truth = in.truth[i] >= 0 ? in.classes[in.truth[i]] : "?";
        const std::string label = fmt::format("{}: {} ({:.1f}%){}", in.names[i], in.classes[c], 100 * pv[i * k + c],
                                              in.truth[i] >= 0 ? ", true " + truth : "");
        if (static_cast<std::int64_t>(rows.size()) < a->figure_rows) rows.push_back({in.shown[i], label, &es[r], i});
        fmt::print("{:<28} {:<16} {:<24} {}_*.png\n", in.names[i], truth,
                   fmt::format("{} ({:.1f}%)", in.classes[c], 100 * pv[i * k + c]), stem);
      }
    for (std::size_t r = 0; r < es.size(); ++r)
      explain::save_maps((std::filesystem::path(a->out) / ("maps" + suffix[r] + ".safetensors")).string(), es[r]);
    const auto fig = (std::filesystem::path(a->out) / "figure.png").string();
    io::write_png(fig, explain::figure(rows, o.methods, ro));
    fmt::print("CAM layer: {}\nfigure: {}{}\n", layer, fig,
               n * static_cast<std::int64_t>(es.size()) > a->figure_rows
                   ? fmt::format(" (the first {} rows; --figure-rows)", a->figure_rows)
                   : "");
    print_completeness(es, o.ig_steps);
    if (!scores.empty()) {
      print_faithfulness(scores, static_cast<std::int64_t>(pair_names.size()), fo.steps);
      auto j = explain::faithfulness_json(scores, pair_targets, fo, pair_names);
      const auto path = (std::filesystem::path(a->out) / "faithfulness.json").string();
      std::ofstream(path) << j.dump(2) << "\n";
      fmt::print("faithfulness.json: {}\n", path);
    }

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
