// fovea.Module and what makes or reads one: the zoo (fovea.models), spec files, weights files
// (fovea.load, fovea.save), ONNX (fovea.onnx), summaries and receptive fields, optimizers and
// schedules (fovea.optim).
#include <fmt/core.h>
#include <pybind11/functional.h>

#include "fovea/analysis/summary.h"
#include "fovea/io/safetensors.h"
#include "fovea/io/torch_file.h"
#include "fovea/models/registry.h"
#include "fovea/models/spec.h"
#include "fovea/nn/serialize.h"
#include "fovea/onnx/export.h"
#include "fovea/onnx/import.h"
#include "fovea/optim/optim.h"
#include "python/src/bindings.h"

namespace fovea::python {

namespace {

py::dict named(const NamedTensors& ts) {
  py::dict d;
  for (const auto& [name, t] : ts) d[py::str(name)] = t;
  return d;
}

NamedTensors named_from(const py::dict& d) {
  NamedTensors out;
  for (const auto& [k, v] : d) out.emplace_back(k.cast<std::string>(), to_tensor(v));
  return out;
}

py::dict report_dict(const nn::LoadReport& r) {
  py::dict d;
  d["missing"] = r.missing;
  d["unexpected"] = r.unexpected;
  d["mismatched"] = r.mismatched;
  return d;
}

// The input of a module's call: a Tensor, or anything fovea.tensor takes.
Tensor input_of(const py::object& x) { return to_tensor(x); }

Shape chw(const std::vector<std::int64_t>& input) {
  if (input.size() != 3) throw py::value_error(fmt::format("input must be (C, H, W), got {} values", input.size()));
  return Shape(input.begin(), input.end());
}

py::object json_loads(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

}  // namespace

void bind_nn(py::module_& m) {
  py::class_<nn::Module, nn::ModulePtr>(m, "Module", "A network or layer (fovea::nn::Module)")
      .def(
          "__call__",
          [](nn::Module& self, const py::object& x) {
            const Tensor in = input_of(x);
            return checking_arguments([&] {
              py::gil_scoped_release nogil;  // forward hooks written in Python take it back
              return self(in);
            });
          },
          py::arg("x"))
      .def_property_readonly("type", &nn::Module::type)
      .def_property_readonly("training", &nn::Module::is_training)
      .def("parameters", [](const nn::Module& s) { return s.parameters(); })
      .def("named_parameters", [](const nn::Module& s) { return s.named_parameters(); })
      .def("named_buffers", [](const nn::Module& s) { return s.named_buffers(); })
      .def("named_children", &nn::Module::named_children)
      .def("named_modules",
           [](nn::Module& s) {
             std::vector<std::pair<std::string, nn::ModulePtr>> out;
             for (auto& [name, mod] : s.named_modules()) out.emplace_back(name, mod->shared_from_this());
             return out;
           })
      .def("submodule",
           [](nn::Module& s, const std::string& path) {
             return checking_arguments([&] { return s.submodule(path).shared_from_this(); });
           })
      .def("state_dict", [](const nn::Module& s) { return named(s.state_dict()); })
      .def(
          "load_state_dict",
          [](nn::Module& s, const py::dict& state, bool strict) {
            return report_dict(checking_arguments([&] { return s.load_state_dict(named_from(state), strict); }));
          },
          py::arg("state_dict"), py::arg("strict") = true)
      .def(
          "train",
          [](nn::Module& s, bool on) {
            s.train(on);
            return s.shared_from_this();
          },
          py::arg("mode") = true)
      .def("eval",
           [](nn::Module& s) {
             s.eval();
             return s.shared_from_this();
           })
      .def(
          "freeze",
          [](nn::Module& s, const std::string& glob, bool bn_update) {
            return checking_arguments([&] { return s.freeze(glob, bn_update); });
          },
          py::arg("pattern"), py::arg("bn_update") = false,
          "turn off requires_grad of the parameters whose names match (fnmatch); returns their names")
      .def(
          "unfreeze",
          [](nn::Module& s, const std::string& glob) { return checking_arguments([&] { return s.unfreeze(glob); }); },
          py::arg("pattern"))
      .def(
          "num_parameters", [](const nn::Module& s, bool trainable) { return s.num_parameters(trainable); },
          py::arg("trainable_only") = false)
      .def("zero_grad", &nn::Module::zero_grad)
      .def(
          "to",
          [](nn::Module& s, const std::string& what) {
            checking_arguments([&] {
              if (what == "float32" || what == "f32") s.to(DType::f32);
              else if (what == "float64" || what == "f64") s.to(DType::f64);
              else s.to(Device::parse(what));
            });
            return s.shared_from_this();
          },
          py::arg("device_or_dtype"))
      .def(
          "register_forward_hook",
          [](nn::Module& s, py::function fn) {
            PyCallable call(std::move(fn));
            return s.register_forward_hook([call](nn::Module& mod, const Tensor& in, const Tensor& out) {
              py::gil_scoped_acquire gil;
              py::object r = call(mod.shared_from_this(), in, out);
              return r.is_none() ? Tensor() : to_tensor(r);
            });
          },
          py::arg("hook"),
          "hook(module, input, output) runs after the module's forward; returning a tensor replaces the output. "
          "Returns a handle for remove_hook")
      .def("remove_hook", &nn::Module::remove_hook, py::arg("handle"))
      .def(
          "load_weights",
          [](nn::Module& s, const std::string& path, bool strict) {
            return report_dict(checking_arguments([&] { return nn::load(s, path, strict); }));
          },
          py::arg("path"), py::arg("strict") = true,
          "weights from a .safetensors file, a torch.save .pth / .pt or a fovea checkpoint")
      .def("__repr__", &nn::Module::repr);

  auto models = m.def_submodule("models", "the model zoo and network spec files");
  models.def(
      "create",
      [](const std::string& name, std::int64_t num_classes, std::int64_t in_channels, bool small_input) {
        return checking_arguments([&] {
          return models::create(name,
                                {.num_classes = num_classes, .in_channels = in_channels, .small_input = small_input});
        });
      },
      py::arg("name"), py::kw_only(), py::arg("num_classes") = 10, py::arg("in_channels") = 1,
      py::arg("small_input") = false, "a zoo model (fovea.models.names()) with fresh weights");
  models.def("names", [] {
    std::vector<std::string> out;
    for (const auto& i : models::list()) out.push_back(i.name);
    return out;
  });
  models.def("list", [] {
    py::list out;
    for (const auto& i : models::list()) {
      py::dict d;
      d["name"] = i.name;
      d["description"] = i.description;
      d["reference"] = i.reference;
      d["input"] = py::tuple(py::cast(i.input));
      out.append(d);
    }
    return out;
  });
  models.def(
      "load_spec",
      [](const std::string& path) -> nn::ModulePtr {
        return checking_arguments([&] { return models::load_spec(path).net; });
      },
      py::arg("path"), "a network spec file (.json, docs/analysis.md)");

  py::class_<analysis::Summary>(m, "Summary", "fovea summary's table: str() prints it, layers holds its rows")
      .def("__str__", [](const analysis::Summary& s) { return analysis::format_summary(s, analysis::Format::table); })
      .def(
          "table",
          [](const analysis::Summary& s, const std::string& format, int depth) {
            const auto f = format == "markdown" ? analysis::Format::markdown
                           : format == "json"   ? analysis::Format::json
                                                : analysis::Format::table;
            return analysis::format_summary(s, f, depth);
          },
          py::arg("format") = "table", py::arg("depth") = -1)
      .def("to_dict",
           [](const analysis::Summary& s) { return json_loads(analysis::format_summary(s, analysis::Format::json)); })
      .def_property_readonly("layers",
                             [](const analysis::Summary& s) {
                               const py::object d = json_loads(analysis::format_summary(s, analysis::Format::json));
                               return py::object(d["layers"]);
                             })
      .def_readonly("total_params", &analysis::Summary::params)
      .def_readonly("trainable_params", &analysis::Summary::trainable)
      .def_readonly("macs", &analysis::Summary::macs)
      .def_readonly("warnings", &analysis::Summary::warnings)
      .def("receptive_fields",
           [](const analysis::Summary& s) { return analysis::format_receptive_fields(s, analysis::Format::table); });
  m.def(
      "summary",
      [](nn::Module& net, const std::vector<std::int64_t>& input) {
        const Shape in = chw(input);
        return checking_arguments([&] { return analysis::summarize(net, in); });
      },
      py::arg("net"), py::kw_only(), py::arg("input"),
      "per layer: output shape, parameters, mult-adds, receptive field (a shape-only pass, nothing computed)");
  m.def(
      "rf",
      [](nn::Module& net, const std::vector<std::int64_t>& input) {
        const Shape in = chw(input);
        return checking_arguments(
            [&] { return analysis::format_receptive_fields(analysis::summarize(net, in), analysis::Format::table); });
      },
      py::arg("net"), py::kw_only(), py::arg("input"), "the receptive field, jump and start of every layer");

  m.def(
      "load", [](const std::string& path) { return named(io::read_state_dict(path).tensors); }, py::arg("path"),
      "the tensors of a .safetensors file, a torch.save .pth / .pt (its state dict) or a fovea checkpoint's model, "
      "as a dict");
  m.def(
      "save",
      [](const py::object& what, const std::string& path) {
        if (py::isinstance<nn::Module>(what)) nn::save(*what.cast<nn::ModulePtr>(), path);
        else if (py::isinstance<py::dict>(what)) io::save_safetensors(path, named_from(what.cast<py::dict>()));
        else throw py::type_error("fovea.save takes a Module or a dict of tensors");
      },
      py::arg("obj"), py::arg("path"), "a module's state dict, or a dict of tensors, as safetensors (atomically)");

  auto onnx = m.def_submodule("onnx", "ONNX files in and out");
  onnx.def(
      "load", [](const std::string& path) -> nn::ModulePtr { return onnx::load_model(path); }, py::arg("path"),
      "an ONNX model as a Module (in eval mode)");
  onnx.def(
      "save",
      [](nn::Module& net, const std::string& path, const std::vector<std::int64_t>& input, std::int64_t opset) {
        const Shape in = chw(input);
        onnx::save_model(net, in, path, {.opset = opset});
      },
      py::arg("net"), py::arg("path"), py::kw_only(), py::arg("input"), py::arg("opset") = 17);

  auto optim = m.def_submodule("optim", "optimizers and learning-rate schedules");
  py::class_<optim::Optimizer, std::shared_ptr<optim::Optimizer>>(optim, "Optimizer")
      .def("step", [](optim::Optimizer& o) { checking_arguments([&] { o.step(); }); })
      .def("zero_grad", [](optim::Optimizer& o) { o.zero_grad(); })
      .def_property(
          "lr", [](const optim::Optimizer& o) { return o.param_groups().front().lr; },
          [](optim::Optimizer& o, double lr) {
            for (auto& g : o.param_groups()) g.lr = lr;
          });
  auto params = [](const py::object& ps) {
    std::vector<Tensor> out;
    for (const auto& p : ps) out.push_back(p.cast<Tensor>());
    return out;
  };
  optim.def(
      "SGD",
      [params](const py::object& ps, double lr, double momentum, double weight_decay, bool nesterov) {
        return checking_arguments([&]() -> std::shared_ptr<optim::Optimizer> {
          return std::make_shared<optim::SGD>(
              params(ps),
              optim::SGDOptions{.lr = lr, .momentum = momentum, .weight_decay = weight_decay, .nesterov = nesterov});
        });
      },
      py::arg("params"), py::kw_only(), py::arg("lr"), py::arg("momentum") = 0.0, py::arg("weight_decay") = 0.0,
      py::arg("nesterov") = false);
  optim.def(
      "Adam",
      [params](const py::object& ps, double lr, double weight_decay) {
        return checking_arguments([&]() -> std::shared_ptr<optim::Optimizer> {
          return std::make_shared<optim::Adam>(params(ps), optim::AdamOptions{.lr = lr, .weight_decay = weight_decay});
        });
      },
      py::arg("params"), py::kw_only(), py::arg("lr") = 1e-3, py::arg("weight_decay") = 0.0);
  optim.def(
      "AdamW",
      [params](const py::object& ps, double lr, double weight_decay) {
        return checking_arguments([&]() -> std::shared_ptr<optim::Optimizer> {
          return std::make_shared<optim::AdamW>(params(ps),
                                                optim::AdamWOptions{.lr = lr, .weight_decay = weight_decay});
        });
      },
      py::arg("params"), py::kw_only(), py::arg("lr") = 1e-3, py::arg("weight_decay") = 1e-2);
  py::class_<optim::LRScheduler, std::shared_ptr<optim::LRScheduler>>(optim, "LRScheduler")
      .def("step", &optim::LRScheduler::step)
      .def("get_last_lr", &optim::LRScheduler::get_last_lr)
      .def_property_readonly("last_epoch", &optim::LRScheduler::last_epoch);
  optim.def(
      "StepLR",
      [](const std::shared_ptr<optim::Optimizer>& o, std::int64_t step_size, double gamma) {
        return checking_arguments([&]() -> std::shared_ptr<optim::LRScheduler> {
          return std::make_shared<optim::StepLR>(*o, optim::StepLROptions{.step_size = step_size, .gamma = gamma});
        });
      },
      py::arg("optimizer"), py::kw_only(), py::arg("step_size"), py::arg("gamma") = 0.1, py::keep_alive<0, 1>());
  optim.def(
      "CosineAnnealingLR",
      [](const std::shared_ptr<optim::Optimizer>& o, std::int64_t t_max, double eta_min) {
        return checking_arguments([&]() -> std::shared_ptr<optim::LRScheduler> {
          return std::make_shared<optim::CosineAnnealingLR>(
              *o, optim::CosineAnnealingLROptions{.t_max = t_max, .eta_min = eta_min});
        });
      },
      py::arg("optimizer"), py::kw_only(), py::arg("T_max"), py::arg("eta_min") = 0.0, py::keep_alive<0, 1>());
  optim.def(
      "MultiStepLR",
      [](const std::shared_ptr<optim::Optimizer>& o, const std::vector<std::int64_t>& milestones, double gamma) {
        return checking_arguments([&]() -> std::shared_ptr<optim::LRScheduler> {
          return std::make_shared<optim::MultiStepLR>(
              *o, optim::MultiStepLROptions{.milestones = milestones, .gamma = gamma});
        });
      },
      py::arg("optimizer"), py::kw_only(), py::arg("milestones"), py::arg("gamma") = 0.1, py::keep_alive<0, 1>());
  optim.def(
      "LinearLR",
      [](const std::shared_ptr<optim::Optimizer>& o, double start, double end, std::int64_t total) {
        return checking_arguments([&]() -> std::shared_ptr<optim::LRScheduler> {
          return std::make_shared<optim::LinearLR>(
              *o, optim::LinearLROptions{.start_factor = start, .end_factor = end, .total_iters = total});
        });
      },
      py::arg("optimizer"), py::kw_only(), py::arg("start_factor") = 1.0 / 3, py::arg("end_factor") = 1.0,
      py::arg("total_iters") = 5, py::keep_alive<0, 1>());
  optim.def(
      "OneCycleLR",
      [](const std::shared_ptr<optim::Optimizer>& o, double max_lr, std::int64_t total_steps, double pct_start,
         const std::string& anneal, bool cycle_momentum, double div_factor, double final_div_factor, bool three_phase) {
        if (anneal != "cos" && anneal != "linear")
          throw py::value_error(fmt::format("anneal_strategy must be 'cos' or 'linear', got '{}'", anneal));
        return checking_arguments([&]() -> std::shared_ptr<optim::LRScheduler> {
          return std::make_shared<optim::OneCycleLR>(
              *o, optim::OneCycleLROptions{.max_lr = max_lr,
                                           .total_steps = total_steps,
                                           .pct_start = pct_start,
                                           .anneal = anneal == "cos" ? optim::Anneal::cos : optim::Anneal::linear,
                                           .cycle_momentum = cycle_momentum,
                                           .div_factor = div_factor,
                                           .final_div_factor = final_div_factor,
                                           .three_phase = three_phase});
        });
      },
      py::arg("optimizer"), py::kw_only(), py::arg("max_lr"), py::arg("total_steps"), py::arg("pct_start") = 0.3,
      py::arg("anneal_strategy") = "cos", py::arg("cycle_momentum") = true, py::arg("div_factor") = 25.0,
      py::arg("final_div_factor") = 1e4, py::arg("three_phase") = false, py::keep_alive<0, 1>(),
      "the 1cycle policy (Smith and Topin), stepped after every batch");
  optim.def(
      "SequentialLR",
      [](const std::shared_ptr<optim::Optimizer>& o, const std::vector<std::shared_ptr<optim::LRScheduler>>& schedulers,
         const std::vector<std::int64_t>& milestones) {
        return checking_arguments([&]() -> std::shared_ptr<optim::LRScheduler> {
          return std::make_shared<optim::SequentialLR>(*o, schedulers, milestones);
        });
      },
      py::arg("optimizer"), py::kw_only(), py::arg("schedulers"), py::arg("milestones"), py::keep_alive<0, 1>(),
      py::keep_alive<0, 2>());
}

}  // namespace fovea::python
