// fovea.train: the CLI's trainer (train::train) with `fovea train`'s options as keyword
// arguments; returns the per-epoch metrics and calls a Python callback after every epoch.
#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fovea/core/threads.h"
#include "fovea/train/trainer.h"
#include "python/src/bindings.h"

namespace fovea::python {

namespace {

using nlohmann::json;

// keyword argument -> RunConfig's key, where they differ (the CLI's names: --classes, --new-head)
const std::map<std::string, std::string> kRenamed = {{"classes", "select_classes"}, {"new_head", "head"}};
// keys of RunConfig that are the run's own record, not options
const std::set<std::string> kInternal = {"model_spec",           "data_given",  "mean",       "std",
                                         "head_from_pretrained", "num_classes", "in_channels"};

// A Python value as JSON of the type the configuration's default has (TypeError naming the
// keyword otherwise).
json value_as(const std::string& key, const py::handle& v, const json& like) {
  auto wrong = [&](const char* expected) {
    return py::type_error(fmt::format("fovea.train: {}={} must be {}", key, py::repr(v).cast<std::string>(), expected));
  };
  if (like.is_boolean()) {
    if (!py::isinstance<py::bool_>(v)) throw wrong("True or False");
    return v.cast<bool>();
  }
  if (like.is_number_integer() || like.is_number_unsigned()) {
    if (py::isinstance<py::bool_>(v) || !py::isinstance<py::int_>(v)) throw wrong("an integer");
    return v.cast<std::int64_t>();
  }
  if (like.is_number()) {
    if (py::isinstance<py::bool_>(v) || !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)))
      throw wrong("a number");
    return v.cast<double>();
  }
  if (like.is_string()) {
    if (!py::isinstance<py::str>(v)) throw wrong("a string");
    return v.cast<std::string>();
  }
  if (like.is_array()) {  // freeze / unfreeze take one pattern too
    if (py::isinstance<py::str>(v)) return json::array({v.cast<std::string>()});
    if (!py::isinstance<py::sequence>(v)) throw wrong("a list");
    json out = json::array();
    for (const auto& item : v) {
      if (py::isinstance<py::int_>(item)) out.push_back(item.cast<std::int64_t>());
      else if (py::isinstance<py::str>(item)) out.push_back(item.cast<std::string>());
      else throw wrong("a list of integers or strings");
    }
    return out;
  }
  throw wrong("of another type");
}

py::object json_to_py(const json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

json read_metrics(const std::string& out_dir) {
  std::ifstream in(std::filesystem::path(out_dir) / "metrics.json");
  return in ? json::parse(in, nullptr, false) : json();
}

}  // namespace

void bind_train(py::module_& m) {
  m.def(
      "train",
      [](const py::kwargs& kw) {
        train::TrainOptions o;
        o.out_dir = "runs/run";
        o.quiet = true;
        json config = json::parse(o.config.to_json());
        py::object callback = py::none();
        int threads = 0;
        for (const auto& [k, v] : kw) {
          const auto key = k.cast<std::string>();
          if (key == "out") o.out_dir = v.cast<std::string>();
          else if (key == "resume") o.resume = v.cast<bool>();
          else if (key == "quiet") o.quiet = v.cast<bool>();
          else if (key == "callback") callback = py::reinterpret_borrow<py::object>(v);
          else if (key == "threads") threads = v.cast<int>();
          else {
            const std::string name = kRenamed.count(key) ? kRenamed.at(key) : key;
            if (!config.contains(name) || kInternal.count(name)) {
              std::string known = "out, resume, quiet, callback, threads";
              for (const auto& [ck, _] : config.items())
                if (!kInternal.count(ck) && ck != "select_classes" && ck != "head") known += ", " + ck;
              throw py::type_error(
                  fmt::format("fovea.train: unknown keyword '{}' (the keywords: {}, classes, new_head)", key, known));
            }
            config[name] = value_as(key, v, config[name]);
          }
        }
        checking_arguments([&] {
          o.config = train::RunConfig::from_json(config.dump());
          o.config.validate();
          if (threads > 0) set_num_threads(threads);
        });
        if (!callback.is_none()) {
          PyCallable call(callback.cast<py::function>());
          o.on_epoch = [call, out = o.out_dir](std::int64_t, std::int64_t) {
            const json metrics = read_metrics(out);
            py::gil_scoped_acquire gil;
            call(metrics.is_object() && metrics.contains("epochs") ? json_to_py(metrics["epochs"].back()) : py::none());
          };
        }
        train::TrainResult r;
        {
          py::gil_scoped_release nogil;
          r = train::train(o);
        }
        if (r.interrupted) {
          const std::string msg = fmt::format(
              "training interrupted after a step; {}/last.safetensors holds it: fovea.train(out='{}', resume=True) "
              "continues it",
              o.out_dir, o.out_dir);
          PyErr_SetString(PyExc_KeyboardInterrupt, msg.c_str());
          throw py::error_already_set();
        }
        py::dict result;
        result["out"] = o.out_dir;
        result["epochs_done"] = r.epochs_done;
        result["best_top1"] = r.best_top1;
        result["last_top1"] = r.last_top1;
        result["already_complete"] = r.already_complete;
        const json metrics = read_metrics(o.out_dir);
        result["epochs"] =
            metrics.is_object() && metrics.contains("epochs") ? json_to_py(metrics["epochs"]) : py::list();
        result["metrics"] = metrics.is_object() ? json_to_py(metrics) : py::none();
        return result;
      },
      "fovea train with its options as keywords (model='lenet5', data='fashion-mnist', epochs=10, batch_size=64, "
      "lr=0.05, out='runs/run', ...; callback(epoch_record) after every epoch); returns the run's figures");
}

}  // namespace fovea::python
