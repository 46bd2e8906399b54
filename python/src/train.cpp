// fovea.train: the CLI's trainer (train::train) with `fovea train`'s options as keyword
// arguments; returns the per-epoch metrics and calls a Python callback after every epoch.
#include <fmt/core.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fovea/core/threads.h"
#include "fovea/train/finetune.h"
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
// keyword otherwise). fn: "fovea.train" or "fovea.finetune".
json value_as(const char* fn, const std::string& key, const py::handle& v, const json& like) {
  auto wrong = [&](const char* expected) {
    return py::type_error(fmt::format("{}: {}={} must be {}", fn, key, py::repr(v).cast<std::string>(), expected));
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

// The keywords both calls share, as `fovea train` takes them, into o; `own` takes the call's
// own keywords (returns false for one it does not know). Unknown keywords are a TypeError
// listing the known ones; values the trainer refuses a ValueError.
void parse_options(const char* fn, const py::kwargs& kw, train::TrainOptions& o, py::object& callback,
                   const std::function<bool(const std::string&, const py::handle&)>& own,
                   const std::string& own_names) {
  o.quiet = true;
  json config = json::parse(o.config.to_json());
  int threads = 0;
  for (const auto& [k, v] : kw) {
    const auto key = k.cast<std::string>();
    if (own(key, v)) continue;
    if (key == "out") o.out_dir = v.cast<std::string>();
    else if (key == "quiet") o.quiet = v.cast<bool>();
    else if (key == "callback") callback = py::reinterpret_borrow<py::object>(v);
    else if (key == "threads") threads = v.cast<int>();
    else {
      const std::string name = kRenamed.count(key) ? kRenamed.at(key) : key;
      if (!config.contains(name) || kInternal.count(name)) {
        std::string known = own_names + ", out, quiet, callback, threads, classes, new_head";
        for (const auto& [ck, _] : config.items())
          if (!kInternal.count(ck) && ck != "select_classes" && ck != "head") known += ", " + ck;
        throw py::type_error(fmt::format("{}: unknown keyword '{}' (the keywords: {})", fn, key, known));
      }
      config[name] = value_as(fn, key, v, config[name]);
    }
  }
  checking_arguments([&] {
    o.config = train::RunConfig::from_json(config.dump());
    if (threads > 0) set_num_threads(threads);
  });
}

// callback(record) after every epoch, with the GIL; the record is the last of the metrics.json
// in *out_dir (a shared folder name: fovea.finetune moves it from one stage to the next).
std::function<void(std::int64_t, std::int64_t)> epoch_callback(const py::object& callback,
                                                               std::shared_ptr<const std::string> out_dir) {
  if (callback.is_none()) return nullptr;
  PyCallable call(callback.cast<py::function>());
  return [call, out_dir](std::int64_t, std::int64_t) {
    const json metrics = read_metrics(*out_dir);
    py::gil_scoped_acquire gil;
    call(metrics.is_object() && metrics.contains("epochs") ? json_to_py(metrics["epochs"].back()) : py::none());
  };
}

[[noreturn]] void interrupted(const std::string& what) {
  PyErr_SetString(PyExc_KeyboardInterrupt, what.c_str());
  throw py::error_already_set();
}

// A run's figures as fovea.train returns them.
py::dict run_dict(const std::string& out_dir, const train::TrainResult& r) {
  py::dict result;
  result["out"] = out_dir;
  result["epochs_done"] = r.epochs_done;
  result["best_top1"] = r.best_top1;
  result["last_top1"] = r.last_top1;
  result["already_complete"] = r.already_complete;
  const json metrics = read_metrics(out_dir);
  result["epochs"] = metrics.is_object() && metrics.contains("epochs") ? json_to_py(metrics["epochs"]) : py::list();
  result["metrics"] = metrics.is_object() ? json_to_py(metrics) : py::none();
  return result;
}

}  // namespace

void bind_train(py::module_& m) {
  m.def(
      "train",
      [](const py::kwargs& kw) {
        train::TrainOptions o;
        o.out_dir = "runs/run";
        py::object callback = py::none();
        parse_options(
            "fovea.train", kw, o, callback,
            [&](const std::string& key, const py::handle& v) {
              if (key != "resume") return false;
              o.resume = v.cast<bool>();
              return true;
            },
            "resume");
        checking_arguments([&] { o.config.validate(); });
        o.on_epoch = epoch_callback(callback, std::make_shared<const std::string>(o.out_dir));
        train::TrainResult r;
        {
          py::gil_scoped_release nogil;
          r = train::train(o);
        }
        if (r.interrupted)
          interrupted(
              fmt::format("training interrupted after a step; {}/last.safetensors holds it: "
                          "fovea.train(out='{}', resume=True) continues it",
                          o.out_dir, o.out_dir));
        return run_dict(o.out_dir, r);
      },
      "fovea train with its options as keywords (model='lenet5', data='fashion-mnist', epochs=10, batch_size=64, "
      "lr=0.05, out='runs/run', ...; callback(epoch_record) after every epoch); returns the run's figures");

  m.def(
      "finetune",
      [](const py::kwargs& kw) {
        train::FinetuneOptions f;
        f.base.out_dir = "runs/finetune";
        f.base.config.schedule = "cosine";
        py::object callback = py::none();
        parse_options(
            "fovea.finetune", kw, f.base, callback,
            [&](const std::string& key, const py::handle& v) {
              if (key == "pretrained") f.from = v.cast<std::string>();
              else if (key == "num_classes") f.num_classes = v.cast<std::int64_t>();
              else if (key == "head") f.base.config.head = v.cast<std::string>();
              else if (key == "head_epochs") f.head_epochs = v.cast<std::int64_t>();
              else if (key == "head_lr") f.head_lr = v.cast<double>();
              else if (key == "unfreeze")
                f.unfreeze = py::isinstance<py::str>(v) ? std::vector<std::string>{v.cast<std::string>()}
                                                        : v.cast<std::vector<std::string>>();
              else if (key == "finetune_epochs") f.finetune_epochs = v.cast<std::int64_t>();
              else if (key == "finetune_lr") f.finetune_lr = v.cast<double>();
              else return false;
              return true;
            },
            "pretrained, num_classes, head, head_epochs, head_lr, unfreeze, finetune_epochs, finetune_lr");
        // both stages' records reach the callback, each from its own run directory
        const std::string out = f.base.out_dir;
        auto stage_dir = std::make_shared<std::string>(out + "/head");
        f.base.on_epoch = epoch_callback(callback, stage_dir);
        f.on_stage = [stage_dir, out](int stage, const train::RunConfig&, const std::string&) {
          *stage_dir = out + (stage == 2 ? "/head" : "/finetune");
        };
        const train::FinetunePlan plan = checking_arguments([&] { return train::plan_finetune(f); });
        train::FinetuneResult r;
        {
          py::gil_scoped_release nogil;
          r = train::finetune(f, plan);
        }
        if (r.interrupted) interrupted("fine-tuning interrupted after a step; its last.safetensors holds it");
        py::dict result;
        result["head"] = run_dict(r.head_dir, r.head);
        result["finetune"] = run_dict(r.finetune_dir, r.finetune);
        return result;
      },
      "fovea finetune with its options as keywords (pretrained='runs/a/best.safetensors', unfreeze=['layer4.*'], "
      "head_epochs=5, head_lr=0.01, finetune_epochs=10, finetune_lr=1e-4, out=..., and fovea train's data options); "
      "returns both stages' figures");
}

}  // namespace fovea::python
