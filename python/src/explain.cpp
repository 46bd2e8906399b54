// fovea.explain: every method of `fovea explain`, on a batch, returning NumPy arrays.
#include <fmt/core.h>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/explain.h"
#include "fovea/explain/faithfulness.h"
#include "fovea/ops/ops.h"
#include "python/src/bindings.h"

namespace fovea::python {

namespace {

// target: None (each image's predicted class), a class index for all, or one per image -> (N) i64
Tensor targets(nn::Module& net, const Tensor& x, const py::object& target) {
  if (x.dim() != 4) throw py::value_error(fmt::format("x must be (N, C, H, W), got {} dims", x.dim()));
  const std::int64_t n = x.size(0);
  if (target.is_none()) {
    NoGradGuard ng;
    nn::EvalGuard eval(net);
    return argmax(net(x), 1);
  }
  std::vector<std::int64_t> t;
  if (py::isinstance<py::int_>(target)) t.assign(static_cast<std::size_t>(n), target.cast<std::int64_t>());
  else t = target.cast<std::vector<std::int64_t>>();
  if (static_cast<std::int64_t>(t.size()) != n)
    throw py::value_error(fmt::format("target: {} classes given for {} images", t.size(), n));
  return from_vector(t, {n});
}

explain::Method method_named(const std::string& name) {
  return checking_arguments([&] { return explain::parse_method(name); });
}

// Runs an explanation with the GIL released; the result as a NumPy array.
template <typename F>
py::object run(F&& f) {
  Tensor out;
  {
    py::gil_scoped_release nogil;
    out = checking_arguments(std::forward<F>(f));
  }
  return to_numpy(out);
}

}  // namespace

void bind_explain(py::module_& m) {
  auto e = m.def_submodule("explain", "what a network looks at (fovea explain): every map as a NumPy array");
  auto gradient = [&e](const char* name, ReluGradRule rule, const char* doc) {
    e.def(
        name,
        [rule](nn::Module& net, const py::object& x, const py::object& target, const std::string& reduce) {
          const Tensor in = to_tensor(x), t = targets(net, in, target);
          const auto r = checking_arguments([&] { return explain::parse_reduce(reduce); });
          return run([&] { return explain::reduce_channels(explain::gradient_map(net, in, t, rule), r); });
        },
        py::arg("net"), py::arg("x"), py::arg("target") = py::none(), py::arg("reduce") = "max", doc);
  };
  gradient("saliency", ReluGradRule::standard,
           "vanilla gradient (Simonyan et al. 2014): (N,1,H,W) for reduce 'max' or 'mean', (N,C,H,W) for 'none'");
  gradient("guided_backprop", ReluGradRule::guided, "guided backpropagation (Springenberg et al. 2015)");
  gradient("deconvnet", ReluGradRule::deconvnet, "the deconvnet rule (Zeiler and Fergus 2014)");
  e.def(
      "grad_cam",
      [](nn::Module& net, const py::object& x, const py::object& target, const std::string& layer) {
        const Tensor in = to_tensor(x), t = targets(net, in, target);
        return run([&] { return explain::grad_cam(net, in, t, layer); });
      },
      py::arg("net"), py::arg("x"), py::arg("target") = py::none(), py::arg("layer") = "",
      "Grad-CAM (Selvaraju et al. 2017): (N,1,H,W) in [0, 1]; layer: a module path, default the last spatial one");
  e.def(
      "smoothgrad",
      [](nn::Module& net, const py::object& x, const py::object& target, int samples, double sigma,
         std::uint64_t seed) {
        const Tensor in = to_tensor(x), t = targets(net, in, target);
        explain::ExplainOptions o{.smoothgrad_samples = samples, .smoothgrad_sigma = sigma, .seed = seed};
        return run([&] { return explain::smooth_grad(net, in, t, o); });
      },
      py::arg("net"), py::arg("x"), py::arg("target") = py::none(), py::arg("samples") = 25, py::arg("sigma") = 0.15,
      py::arg("seed") = 0);
  e.def(
      "occlusion",
      [](nn::Module& net, const py::object& x, const py::object& target, std::int64_t window, std::int64_t stride) {
        const Tensor in = to_tensor(x), t = targets(net, in, target);
        explain::ExplainOptions o{.occlusion_window = window, .occlusion_stride = stride};
        return run([&] { return explain::occlusion(net, in, t, o); });
      },
      py::arg("net"), py::arg("x"), py::arg("target") = py::none(), py::arg("window") = 0, py::arg("stride") = 0);
  auto cam = [&e](const char* name, explain::Method m, const char* doc) {
    e.def(
        name,
        [m](nn::Module& net, const py::object& x, const py::object& target, const std::string& layer,
            const std::vector<std::string>& layers, std::int64_t batch) {
          const Tensor in = to_tensor(x), t = targets(net, in, target);
          explain::ExplainOptions o{.methods = {m}, .layer = layer, .layercam_layers = layers, .forward_batch = batch};
          return run([&] { return explain::explain(net, in, t, o).maps.at(m); });
        },
        py::arg("net"), py::arg("x"), py::arg("target") = py::none(), py::arg("layer") = "",
        py::arg("layers") = std::vector<std::string>{}, py::arg("batch") = 64, doc);
  };
  cam("grad_cam_pp", explain::Method::gradcam_pp, "Grad-CAM++ (Chattopadhay et al. 2018): (N,1,H,W) in [0, 1]");
  cam("score_cam", explain::Method::scorecam,
      "Score-CAM (Wang et al. 2020): (N,1,H,W) in [0, 1]; batch: masked images per forward pass");
  cam("layer_cam", explain::Method::layercam,
      "LayerCAM (Jiang et al. 2021): (N,1,H,W) in [0, 1]; layers: fuse the maps of these layers");
  e.def(
      "integrated_gradients",
      [](nn::Module& net, const py::object& x, const py::object& target, std::int64_t steps, const py::object& baseline,
         std::int64_t batch) {
        const Tensor in = to_tensor(x), t = targets(net, in, target);
        explain::ExplainOptions o{.methods = {explain::Method::integrated_gradients}, .forward_batch = batch};
        o.ig_steps = steps;
        if (py::isinstance<py::str>(baseline))
          o.ig_baseline = checking_arguments([&] { return explain::parse_baseline(baseline.cast<std::string>()); });
        else if (!baseline.is_none()) o.ig_baseline_input = to_tensor(baseline);
        explain::Explanation ex;
        {
          py::gil_scoped_release nogil;
          ex = checking_arguments([&] { return explain::explain(net, in, t, o); });
        }
        return py::make_tuple(to_numpy(ex.maps.at(explain::Method::integrated_gradients)), to_numpy(ex.ig_sum),
                              to_numpy(ex.ig_score_gap));
      },
      py::arg("net"), py::arg("x"), py::arg("target") = py::none(), py::arg("steps") = 50, py::arg("baseline") = "zero",
      py::arg("batch") = 64,
      "integrated gradients (Sundararajan et al. 2017) -> (attributions (N,C,H,W), their sum (N), "
      "score(x) - score(baseline) (N)): completeness holds when the last two agree. baseline: 'zero', 'blur', "
      "'uniform' or an array (N or 1,C,H,W)");
  e.def(
      "faithfulness",
      [](nn::Module& net, const py::object& x, const py::object& map, const py::object& target, std::int64_t steps,
         const std::string& reduce) {
        const Tensor in = to_tensor(x), t = targets(net, in, target), mp = to_tensor(map);
        explain::FaithfulnessOptions o{.steps = steps};
        o.reduce = checking_arguments([&] { return explain::parse_reduce(reduce); });
        explain::Faithfulness f;
        {
          py::gil_scoped_release nogil;
          f = checking_arguments([&] { return explain::faithfulness(net, in, t, mp, o); });
        }
        py::dict out;
        out["deletion"] = to_numpy(f.deletion);
        out["insertion"] = to_numpy(f.insertion);
        out["deletion_auc"] = to_numpy(f.deletion_auc);
        out["insertion_auc"] = to_numpy(f.insertion_auc);
        out["probability"] = to_numpy(f.probability);
        out["masked_probability"] = to_numpy(f.masked);
        out["average_drop"] = f.average_drop;
        out["increase"] = f.increase;
        return out;
      },
      py::arg("net"), py::arg("x"), py::arg("map"), py::arg("target") = py::none(), py::arg("steps") = 50,
      py::arg("reduce") = "max",
      "how faithful a map is (fovea explain --evaluate): deletion and insertion curves (N, steps+1) and their "
      "areas (N), the average drop and the increase in confidence (percent)");
  e.def(
      "predicted_classes",
      [](nn::Module& net, const py::object& x, std::int64_t top) {
        const Tensor in = to_tensor(x);
        return run([&] { return explain::predicted_classes(net, in, top); });
      },
      py::arg("net"), py::arg("x"), py::arg("top") = 1, "each image's top classes, most likely first: (N, top)");
  e.def(
      "explain",
      [](nn::Module& net, const py::object& x, const py::object& target, const std::vector<std::string>& methods,
         const std::string& layer) {
        const Tensor in = to_tensor(x), t = targets(net, in, target);
        explain::ExplainOptions o{.layer = layer};
        o.methods.clear();
        for (const auto& name : methods) o.methods.push_back(method_named(name));
        explain::Explanation ex;
        {
          py::gil_scoped_release nogil;
          ex = checking_arguments([&] { return explain::explain(net, in, t, o); });
        }
        py::dict out;
        for (const auto& [meth, map] : ex.maps) out[py::str(explain::method_name(meth))] = to_numpy(map);
        out["logits"] = to_numpy(ex.logits);
        out["target"] = to_numpy(ex.target);
        if (ex.ig_sum.defined()) {
          out["ig_sum"] = to_numpy(ex.ig_sum);
          out["ig_score_gap"] = to_numpy(ex.ig_score_gap);
        }
        if (!ex.layer.empty()) out["layer"] = ex.layer;
        return out;
      },
      py::arg("net"), py::arg("x"), py::arg("target") = py::none(),
      py::arg("methods") = std::vector<std::string>{"vanilla", "guided", "deconv", "gradcam", "guided-gradcam"},
      py::arg("layer") = "", "several methods in as few passes as possible: a dict of maps by method name");
  e.def(
      "feature_maps",
      [](nn::Module& net, const py::object& x, const std::vector<std::string>& layers) {
        const Tensor in = to_tensor(x);
        std::map<std::string, Tensor> maps;
        {
          py::gil_scoped_release nogil;
          maps = checking_arguments([&] { return explain::feature_maps(net, in, layers); });
        }
        py::dict out;
        for (const auto& [name, t] : maps) out[py::str(name)] = to_numpy(t);
        return out;
      },
      py::arg("net"), py::arg("x"), py::arg("layers"));
  e.def(
      "sanity_check",
      [](nn::Module& net, const py::object& x, const std::vector<std::string>& layers, const py::object& target,
         const std::vector<std::string>& methods) {
        const Tensor in = to_tensor(x), t = targets(net, in, target);
        explain::ExplainOptions o;
        o.methods.clear();
        for (const auto& name : methods) o.methods.push_back(method_named(name));
        std::vector<explain::SanityStep> steps;
        {
          py::gil_scoped_release nogil;
          steps = checking_arguments([&] { return explain::cascading_randomization(net, in, t, layers, o); });
        }
        py::list out;
        for (const auto& s : steps) {
          py::dict corr;
          for (const auto& [meth, v] : s.rank_corr) corr[py::str(explain::method_name(meth))] = v;
          out.append(py::dict(py::arg("layer") = s.layer, py::arg("rank_correlation") = corr));
        }
        return out;
      },
      py::arg("net"), py::arg("x"), py::arg("layers"), py::arg("target") = py::none(),
      py::arg("methods") = std::vector<std::string>{"vanilla", "guided", "gradcam"},
      "the cascading randomisation of Adebayo et al. 2018 (fovea explain --sanity-check): re-initialise the "
      "layers one after another from the top, and after each the Spearman rank correlation of every method's "
      "|map| with the trained model's; the weights are restored afterwards");
  e.def("default_cam_layer", [](nn::Module& net, const py::object& x) {
    return checking_arguments([&] { return explain::default_cam_layer(net, to_tensor(x)); });
  });
}

}  // namespace fovea::python
