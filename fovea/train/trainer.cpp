#include "fovea/train/trainer.h"

#include <atomic>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <thread>

#include "fovea/analysis/summary.h"
#include "fovea/autograd/grad_mode.h"
#include "fovea/core/hash.h"
#include "fovea/core/threads.h"
#include "fovea/core/version.h"
#include "fovea/dist/data_parallel.h"
#include "fovea/dist/sync_batch_norm.h"
#include "fovea/io/safetensors.h"
#include "fovea/models/registry.h"
#include "fovea/models/spec.h"
#include "fovea/onnx/import.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/optim.h"
#include "fovea/train/deploy.h"
#include "fovea/train/pretrained.h"
#include "fovea/train/progress.h"
#include "fovea/train/step_graph.h"

namespace fovea::train {

namespace fs = std::filesystem;

namespace {

std::atomic<int> g_stop{0};
extern "C" void on_signal(int) { g_stop.store(1); }

// SIGINT/SIGTERM set a flag the loop checks after each step; the previous handlers come back
// when training ends, so a second Ctrl-C after that behaves as usual.
class SignalScope {
 public:
  SignalScope() {
    g_stop.store(0);
    prev_int_ = std::signal(SIGINT, on_signal);
    prev_term_ = std::signal(SIGTERM, on_signal);
  }
  ~SignalScope() {
    std::signal(SIGINT, prev_int_);
    std::signal(SIGTERM, prev_term_);
  }
  bool stop_requested() const { return g_stop.load() != 0; }

 private:
  void (*prev_int_)(int) = nullptr;
  void (*prev_term_)(int) = nullptr;
};

std::vector<double> parse_numbers(const std::string& s, const char* what) {
  std::vector<double> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      v.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail("train", "bad number '{}' in {} '{}'", item, what, s);
    }
  }
  return v;
}

// What ran the training, for metrics.json: the CPU's model name (Linux), its logical cores, the
// threads each rank used and the ranks.
nlohmann::json machine_json(int world) {
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      cpu = line.substr(line.find(':') + 1);
      cpu.erase(0, cpu.find_first_not_of(' '));
      break;
    }
  return {{"cpu", cpu},
          {"logical_cores", std::thread::hardware_concurrency()},
          {"threads_per_rank", num_threads()},
          {"ranks", world}};
}

// () i64: how many rows of logits have their largest value at the label
Tensor correct_count(const Tensor& logits, const Tensor& labels) { return sum(eq(argmax(logits, 1), labels)); }

// Schedules advance once per batch. 'step' divides the lr by 10 at 1/2 and 3/4 of training.
std::shared_ptr<optim::LRScheduler> make_schedule(const RunConfig& c, optim::Optimizer& opt, std::int64_t batches) {
  const std::int64_t total = c.epochs * batches, warm = c.warmup_epochs * batches;
  std::shared_ptr<optim::LRScheduler> main;
  if (c.schedule == "none")
    main = std::make_shared<optim::StepLR>(opt, optim::StepLROptions{.step_size = total + 1, .gamma = 1.0});
  else if (c.schedule == "cosine")
    main = std::make_shared<optim::CosineAnnealingLR>(opt, optim::CosineAnnealingLROptions{.t_max = total - warm});
  else if (c.schedule == "step")
    main = std::make_shared<optim::MultiStepLR>(
        opt, optim::MultiStepLROptions{.milestones = {(total - warm) / 2, (total - warm) * 3 / 4}});
  else return std::make_shared<optim::OneCycleLR>(opt, optim::OneCycleLROptions{.max_lr = c.lr, .total_steps = total});
  if (warm == 0) return main;
  auto warmup = std::make_shared<optim::LinearLR>(
      opt, optim::LinearLROptions{.start_factor = 0.01, .end_factor = 1.0, .total_iters = warm});
  return std::make_shared<optim::SequentialLR>(opt, std::vector<std::shared_ptr<optim::LRScheduler>>{warmup, main},
                                               std::vector<std::int64_t>{warm});
}

std::string pct(double x) { return fmt::format("{:.2f}%", 100 * x); }

void write_text_atomic(const std::string& path, const std::string& text) {
  io::write_file_atomic(path, std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
}

// Where ranks other than 0 write: nowhere (rank 0 speaks for the run).
class NullSink {
 public:
  NullSink() : f_(std::fopen("/dev/null", "w")) {
    if (!f_) fail("train", "cannot open /dev/null");
  }
  ~NullSink() { std::fclose(f_); }
  NullSink(const NullSink&) = delete;
  NullSink& operator=(const NullSink&) = delete;
  std::FILE* get() const { return f_; }

 private:
  std::FILE* f_;
};

// A run directory this run created is removed again when training stops with an error before
// anything was written into it (a corrupt image in the first epoch, a NaN loss in the first
// steps): no empty run directory is left behind.
class RemoveIfEmpty {
 public:
  RemoveIfEmpty() = default;
  RemoveIfEmpty(const RemoveIfEmpty&) = delete;
  RemoveIfEmpty& operator=(const RemoveIfEmpty&) = delete;
  void watch(const std::string& dir) { dir_ = dir; }
  ~RemoveIfEmpty() {
    std::error_code ec;
    if (!dir_.empty() && fs::is_directory(dir_, ec) && fs::is_empty(dir_, ec)) fs::remove(dir_, ec);
  }

 private:
  std::string dir_;
};

// An error every rank reaches together (dist::AgreedError): rank 0 alone reports it.
template <typename... Args>
[[noreturn]] void fail_together(fmt::format_string<Args...> f, Args&&... args) {
  throw dist::AgreedError(fmt::format("[train] {}", fmt::format(f, std::forward<Args>(args)...)));
}

// The first rank whose `mine` differs from rank 0's, or 0 when all agree (a collective).
int first_differing_rank(std::uint64_t mine) {
  const auto all = dist::all_gather(mine);
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) return static_cast<int>(r);
  return 0;
}

// Ranks that would train different things stop here, together, before any gradient is
// exchanged: another fovea build or another configuration ...
void check_ranks_agree(const RunConfig& c) {
  if (int r = first_differing_rank(Fnv1a().text(version()).text(build_commit()).value()))
    fail_together(
        "rank {} runs another fovea build than rank 0 (rank 0: {} at {}); every rank must run the same "
        "binary",
        r, version(), build_commit());
  if (int r = first_differing_rank(Fnv1a().text(c.to_json()).value()))
    fail_together("rank {} was given another configuration than rank 0; start every rank with the same command", r);
}

// ... or other data.
void check_ranks_agree(const RunConfig& c, const DataSplits& ds) {
  if (int r = first_differing_rank(Fnv1a()
                                       .number(static_cast<std::int64_t>(ds.train->fingerprint()))
                                       .number(static_cast<std::int64_t>(ds.test->fingerprint()))
                                       .value()))
    fail_together(
        "rank {} sees other data than rank 0 for '{}' (a different file list, file sizes or contents); "
        "every rank must read the same dataset",
        r, c.data);
}

// Every rank's generator state, for the checkpoint (a collective: every rank calls it).
std::vector<GeneratorState> gather_generators() {
  std::vector<GeneratorState> all(static_cast<std::size_t>(dist::world_size()));
  const GeneratorState mine = default_generator().state();
  for (std::size_t k = 0; k < 4; ++k) {
    const auto v = dist::all_gather(mine[k]);
    for (std::size_t r = 0; r < all.size(); ++r) all[r][k] = v[r];
  }
  return all;
}

// A resumed run that has all its epochs: nothing is trained; its figures, and how to go on.
TrainResult finished_run(const Checkpoint& ck, const std::string& metrics_path, const std::string& out_dir,
                         std::FILE* log) {
  TrainResult res;
  res.already_complete = true;
  res.epochs_done = ck.state.epoch;
  res.best_top1 = std::max(0.0, ck.state.best_top1);
  std::ifstream in(metrics_path);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_discarded() && j.contains("epochs") && !j["epochs"].empty())
    res.last_top1 = j["epochs"].back().value("test_accuracy", 0.0);
  fmt::print(log,
             "{} is already complete: all {} epochs are trained (best test top-1 {:.2f}%); nothing to resume.\n"
             "To train on, start a new run from its weights: fovea train --init-from {} --epochs N --out NEW_DIR\n",
             out_dir, ck.config.epochs, 100 * res.best_top1, (fs::path(out_dir) / "best.safetensors").string());
  return res;
}

}  // namespace

Tensor training_loss(const nn::Module& model, const Tensor& logits, const Tensor& labels) {
  Tensor loss = cross_entropy(logits, labels);
  for (const auto& aux : model.auxiliary_outputs()) loss = loss + cross_entropy(aux.logits, labels) * aux.weight;
  return loss;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const RunConfig& c, const std::vector<Tensor>& params) {
  if (c.optimizer == "sgd")
    return std::make_unique<optim::SGD>(
        params, optim::SGDOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay});
  if (c.optimizer == "adam")
    return std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = c.lr, .weight_decay = c.weight_decay});
  return std::make_unique<optim::AdamW>(params, optim::AdamWOptions{.lr = c.lr, .weight_decay = c.weight_decay});
}

DataSplits open_data(RunConfig& c) {
  DataSplits s = data::open(c.data, {.val_fraction = c.val_fraction, .seed = c.seed});
  const std::string& d = c.data;
  if (!c.select_classes.empty() || c.per_class > 0) {
    std::vector<std::int64_t> all(s.train->classes().size());
    std::iota(all.begin(), all.end(), 0);
    const auto& keep = c.select_classes.empty() ? all : c.select_classes;
    s.train = data::select_classes(s.train, keep, c.per_class);
    s.test = data::select_classes(s.test, keep);
  }
  s.train = data::stratified_subset(s.train, c.limit_train, c.seed);
  s.test = data::stratified_subset(s.test, c.limit_test, c.seed);
  if (c.classes.empty()) c.classes = s.train->classes();
  if (c.classes != s.train->classes()) {
    const auto list = [](const std::vector<std::string>& names) {
      constexpr std::size_t kShown = 10;
      std::string out;
      for (std::size_t i = 0; i < std::min(names.size(), kShown); ++i) out += (i ? ", " : "") + names[i];
      return names.size() > kShown ? fmt::format("{}, ... ({} classes)", out, names.size()) : out;
    };
    fail("data", "{} has other class names than the checkpoint: the data's are {}; the checkpoint's are {}", d,
         list(s.train->classes()), list(c.classes));
  }
  if (c.num_classes == 0) c.num_classes = static_cast<std::int64_t>(c.classes.size());
  Shape shape = s.train->image_shape();
  if (c.input.empty()) {
    if (shape.empty()) fail("data", "{}: images differ in size; give the input size (--input CxHxW)", d);
    c.input = shape;
  }
  if (c.in_channels == 0) c.in_channels = c.input[0];
  return s;
}

void check_checkpoint_data(const RunConfig& c, const char* op) {
  const std::string dir = data::data_dir(c.data);
  std::error_code ec;
  if (dir.empty() || fs::exists(dir, ec)) return;
  fail(op, "the data path in the checkpoint is {}{}, which is not here; pass --data (e.g. --data {})", c.data,
       c.data_given.empty() || c.data_given == c.data ? "" : fmt::format(" (given as {})", c.data_given),
       c.data_given.empty() ? c.data : c.data_given);
}

std::vector<std::pair<std::string, std::int64_t>> named_class_counts(const data::Dataset& split) {
  const auto n = data::class_counts(split);
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (std::size_t i = 0; i < n.size(); ++i) out.emplace_back(split.classes()[i], n[i]);
  return out;
}

std::string empty_classes_warning(const std::vector<std::pair<std::string, std::int64_t>>& counts,
                                  const std::string& what, const std::string& cause) {
  std::vector<std::string> empty;
  for (const auto& [name, n] : counts)
    if (n == 0) empty.push_back(name);
  if (empty.empty()) return "";
  constexpr std::size_t kShown = 8;
  std::string names;
  for (std::size_t i = 0; i < std::min(empty.size(), kShown); ++i) names += (i ? ", " : "") + empty[i];
  if (empty.size() > kShown) names += fmt::format(" and {} more", empty.size() - kShown);
  return fmt::format("warning: {} of {} classes have no {} images{}: {}; {}", empty.size(), counts.size(), what,
                     cause.empty() ? "" : " (" + cause + ")", names,
                     what == "test" ? "the test figures leave them out" : "the model never sees them in training");
}

data::Transform eval_transform(const RunConfig& c) { return transform_of(preprocess_of(c)); }

data::Transform train_transform(const RunConfig& c) {
  std::vector<data::Transform> ts{data::to_tensor()};
  if (c.input.size() == 3) ts.push_back(data::resize(c.input[1], c.input[2]));
  if (c.augment != "none" && !c.augment.empty())
    for (auto& t : data::parse_augment(c.augment, c.input[1], c.input[2])) ts.push_back(t);
  if (!c.mean.empty()) ts.push_back(data::normalize(c.mean, c.std));
  return data::compose(ts);
}

nn::ModulePtr build_model(const RunConfig& c) {
  if (c.model_spec.empty() && !models::is_spec_path(c.model)) {
    // images of 64x64 and less (Fashion-MNIST, CIFAR) get the zoo's small-input stems
    auto m = models::create(c.model, {.num_classes = c.num_classes,
                                      .in_channels = c.in_channels,
                                      .small_input = c.input.size() == 3 && c.input[1] <= 64 && c.input[2] <= 64});
    if (!c.head.empty()) new_head(*m, c.head, c.num_classes);
    return m;
  }
  auto spec = c.model_spec.empty() ? models::load_spec(c.model) : models::parse_spec(c.model_spec, c.model);
  if (!c.input.empty() && spec.input != c.input)
    fail("train", "{} takes input {} but the data gives {}; change the spec's \"input\" or pass --input", c.model,
         shape_str(spec.input), shape_str(c.input));
  if (!c.head.empty()) {
    new_head(*spec.net, c.head, c.num_classes);
    return spec.net;
  }
  if (spec.output != Shape{c.num_classes})
    fail("train", "{} ends with output {} but the data has {} classes", c.model, shape_str(spec.output), c.num_classes);
  return spec.net;
}

std::vector<std::string> check_input_fits(const RunConfig& c) {
  if (onnx::is_onnx_path(c.model)) return {};  // the file fixes its own input
  const bool zoo = c.model_spec.empty() && !models::is_spec_path(c.model);
  DefaultDeviceGuard meta(kMeta);
  auto probe = build_model(c);  // a spec file's input was checked by build_model
  try {
    return analysis::summarize(*probe, c.input).warnings;
  } catch (const Error& e) {
    if (!zoo) throw;
    Shape usual;
    for (const auto& m : models::list())
      if (m.name == c.model) usual = m.input;
    if (usual.size() != 3) throw;
    fail("train",
         "{} cannot take the data's {}x{}x{} images: {}\n{} usually takes {}x{}x{} images (fovea models); pass --input "
         "{}x{}x{} to resize them to that",
         c.model, c.input[0], c.input[1], c.input[2], e.what(), c.model, c.input[0], usual[1], usual[2], c.input[0],
         usual[1], usual[2]);
  }
}

Trained load_trained(const std::string& checkpoint) {
  Checkpoint ck = load_checkpoint(checkpoint);
  Trained t{build_model(ck.config), std::move(ck.config)};
  t.model->load_state_dict(ck.model);
  return t;
}

Device device_of(const nn::Module& model) {
  const auto params = model.parameters();
  return params.empty() ? kCPU : params.front().device();
}

Metrics evaluate(nn::Module& model, data::DataLoader& loader) {
  NoGradGuard ng;
  model.eval();
  const Device dev = device_of(model);
  Metrics m(static_cast<std::int64_t>(loader.dataset().classes().size()));
  loader.start_epoch(0);
  while (auto b = loader.next()) {
    const Tensor labels = b->labels.to(dev);
    Tensor logits = model(b->images.to(dev));
    m.update(logits, labels, cross_entropy(logits, labels).item());
  }
  return m;
}

void prepare_transfer(nn::Module& model, const RunConfig& c, bool fresh, std::FILE* log) {
  // a resumed run's weights come from its checkpoint; only the freezing is set up again
  if (fresh && !c.init_from.empty()) {
    const std::string head = c.head.empty() || c.head_from_pretrained ? ""
                             : c.head == "auto"                       ? find_head(model)
                                                                      : c.head;
    const auto r = load_pretrained(model, c.init_from, head);
    if (log) fmt::print(log, "pretrained weights from {}: {}\n", c.init_from, r.str());
  }
  for (const auto& g : c.freeze) model.freeze(g, c.bn_update);
  for (const auto& g : c.unfreeze) model.unfreeze(g);
  const auto trainable = model.num_parameters(true), total = model.num_parameters();
  if (trainable == 0) fail("train", "every parameter is frozen; unfreeze some (--unfreeze PATTERN)");
  if (log && trainable != total)
    fmt::print(log, "trainable: {} of {} parameters ({} frozen)\n", trainable, total, total - trainable);
}

TrainResult train(const TrainOptions& opts) {
  // a distributed run (mpirun, docs/distributed.md): every rank trains on its share of every
  // global batch; rank 0 alone prints and writes the run directory
  const int world = dist::world_size(), rank = dist::rank();
  const bool lead = rank == 0;
  NullSink null_sink;
  std::FILE* const log = lead ? opts.log : null_sink.get();
  const std::string last_path = (fs::path(opts.out_dir) / "last.safetensors").string();
  const std::string best_path = (fs::path(opts.out_dir) / "best.safetensors").string();
  const std::string metrics_path = (fs::path(opts.out_dir) / "metrics.json").string();
  std::optional<Checkpoint> ck;
  RunConfig c = opts.config;
  // the temporary files of a run killed in the middle of a checkpoint write
  if (lead && fs::is_directory(opts.out_dir)) io::remove_stale_temporaries(opts.out_dir);
  if (opts.resume) {
    if (!fs::exists(last_path)) fail("train", "cannot resume: {} does not exist", last_path);
    ck = load_checkpoint(last_path);
    c = ck->config;
    if (opts.on_resume) opts.on_resume(c);
    if (ck->state.epoch >= c.epochs) return finished_run(*ck, metrics_path, opts.out_dir, log);
  } else if (fs::exists(last_path)) {
    fail("train", "{} already holds a run (last.safetensors); use --resume to continue it or choose another --out",
         opts.out_dir);
  }
  c.validate();
  if (world > 1) {
    check_ranks_agree(c);
    if (c.batch_size % world != 0)
      fail_together(
          "--batch-size {} is the global batch, shared by the {} ranks: it must be a multiple of {} (for "
          "example {})",
          c.batch_size, world, world, (c.batch_size / world + 1) * world);
    if (c.cuda_graph) fail_together("--cuda-graph runs one process; it does not work across {} ranks yet", world);
  }
  if (!ck && c.data_given.empty()) {  // the folder as an absolute path: eval and predict work from anywhere
    c.data_given = c.data;
    c.data = data::absolute_uri(c.data);
  }
  if (models::is_spec_path(c.model) && c.model_spec.empty()) {
    std::ifstream in(c.model);
    if (!in) fail("train", "cannot read the network spec {}", c.model);
    c.model_spec.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  DataSplits ds = open_data(c);
  const auto train_counts = named_class_counts(*ds.train), test_counts = named_class_counts(*ds.test);
  if (lead) {
    const auto why = [](std::int64_t limit, const char* option) {
      return limit > 0 ? fmt::format("{} {}", option, limit) : std::string();
    };
    for (const auto& w : {empty_classes_warning(
                              train_counts, "training",
                              c.per_class > 0 ? why(c.per_class, "--per-class") : why(c.limit_train, "--limit-train")),
                          empty_classes_warning(test_counts, "test", why(c.limit_test, "--limit-test"))})
      if (!w.empty()) fmt::print(log, "{}\n", w);
  }
  if (c.mean.empty() && c.normalize != "none") {
    if (c.normalize == "auto") {
      std::tie(c.mean, c.std) = data::channel_stats(*ds.train);
    } else {
      auto v = parse_numbers(c.normalize, "--normalize");
      if (v.size() != 2 * static_cast<size_t>(c.in_channels))
        fail("train", "--normalize needs {} numbers (means then standard deviations), got {}", 2 * c.in_channels,
             v.size());
      c.mean.assign(v.begin(), v.begin() + c.in_channels);
      c.std.assign(v.begin() + c.in_channels, v.end());
    }
    c.validate();  // the numbers just measured or parsed
  }
  for (const auto& w : check_input_fits(c))
    if (lead) fmt::print(log, "warning: {}\n", w);
  if (world > 1) {
    check_ranks_agree(c, ds);
    fmt::print(log, "distributed: {} ranks ({} on this node, {} thread{} each), global batch {} ({} per rank){}\n",
               world, dist::local_size(), num_threads(), num_threads() == 1 ? "" : "s", c.batch_size,
               c.batch_size / world, c.sync_bn ? ", synchronised batch norm" : "");
  }
  // the sampler gives each rank its share of the global batch; evaluation splits the test set
  // without padding, so that the summed metrics count every image once
  data::DataLoader train_loader(ds.train, train_transform(c),
                                {.batch_size = c.batch_size / world,
                                 .shuffle = true,
                                 .workers = c.workers,
                                 .seed = c.seed,
                                 .rank = rank,
                                 .world_size = world});
  data::DataLoader test_loader(ds.test, eval_transform(c),
                               {.batch_size = std::max<std::int64_t>(c.batch_size, 256),
                                .shuffle = false,
                                .workers = c.workers,
                                .seed = c.seed,
                                .rank = rank,
                                .world_size = world,
                                .pad_shards = false});
  manual_seed(c.seed);
  auto model = build_model(c);
  prepare_transfer(*model, c, !ck, opts.quiet || !lead ? nullptr : log);
  // "cuda" under mpirun: each rank its own GPU, cuda:<rank on this node>
  const Device dev = c.device == "cuda" && world > 1 ? Device::parse(fmt::format("cuda:{}", dist::local_rank()))
                                                     : Device::parse(c.device);
  model->to(dev);  // "[device] cuda is not available ..." before anything is written
  auto opt = make_optimizer(c, model->trainable_parameters());
  const std::int64_t batches = train_loader.num_batches();
  if (batches == 0) fail("train", "the training data ({} images) makes no batch of {}", ds.train->size(), c.batch_size);
  auto sched = make_schedule(c, *opt, batches);
  RunState st;
  RemoveIfEmpty created_dir;
  nlohmann::json records = nlohmann::json::array(), train_counts_json = nlohmann::json::object(),
                 test_counts_json = nlohmann::json::object();
  for (const auto& [name, n] : train_counts) train_counts_json[name] = n;
  for (const auto& [name, n] : test_counts) test_counts_json[name] = n;
  nlohmann::json commands = nlohmann::json::array();  // this invocation's, after a resumed run's earlier ones
  if (ck) {
    model->load_state_dict(ck->model);
    opt->load_state_dict(ck->optimizer);
    sched->load_state_dict(ck->scheduler);
    st = ck->state;
    if (st.world_size == world && (world == 1 || ck->rank_rngs.size() == static_cast<std::size_t>(world))) {
      if (world > 1) default_generator().set_state(ck->rank_rngs[static_cast<std::size_t>(rank)]);
      else if (ck->rng) default_generator().set_state(*ck->rng);
    } else {
      fmt::print(log,
                 "warning: {} was trained by {} rank(s), this run has {}: training goes on from its weights and "
                 "step, but is no longer bit-identical to an uninterrupted run\n",
                 last_path, st.world_size, world);
      if (ck->rng) default_generator().set_state(*ck->rng);
    }
    // the epochs' records: the checkpoint's own (metrics.json is written after it, so a crash
    // between the two leaves metrics.json an epoch behind); metrics.json's for older checkpoints
    const auto kept = nlohmann::json::parse(st.records, nullptr, false);
    if (kept.is_array() && !kept.empty())
      for (auto& r : kept)
        if (r.value("epoch", 0) <= st.epoch) records.push_back(r);
    if (fs::exists(metrics_path)) {
      std::ifstream in(metrics_path);
      auto j = nlohmann::json::parse(in, nullptr, false);
      if (records.empty() && !j.is_discarded() && j.contains("epochs"))
        for (auto& r : j["epochs"])
          if (r.value("epoch", 0) <= st.epoch) records.push_back(r);
      if (!j.is_discarded() && j.contains("commands") && j["commands"].is_array()) commands = j["commands"];
    }
  } else {
    std::error_code ec;
    if (lead && !fs::exists(opts.out_dir, ec)) created_dir.watch(opts.out_dir);
    if (lead) fs::create_directories(opts.out_dir);
    // the same initial weights everywhere (DataParallel also broadcasts rank 0's), then a
    // stream of dropout masks of each rank's own
    if (rank > 0) manual_seed(c.seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(rank)));
  }
  if (!opts.command.empty()) commands.push_back(opts.command);
  st.world_size = world;
  std::optional<dist::DataParallel> ddp;
  if (world > 1) {
    if (c.sync_bn && dist::sync_batch_norm(*model) == 0)
      fmt::print(log, "note: --sync-bn: {} has no batch norm to synchronise\n", c.model);
    ddp.emplace(model);
  }
  auto forward = [&](const Tensor& x) { return ddp ? (*ddp)(x) : (*model)(x); };
  // a checkpoint of the run so far; a collective when distributed (every rank's generator)
  // A checkpoint that cannot be written (a full disk, a lost mount) stops the run; the file it
  // would have replaced is intact (io::write_file_atomic), and the message says how to go on.
  auto checkpoint = [&](const std::string& path) {
    const std::vector<GeneratorState> rngs = world > 1 ? gather_generators() : std::vector<GeneratorState>{};
    if (!lead) return;
    try {
      save_checkpoint(path, *model, opt.get(), sched.get(), c, st, rngs);
    } catch (const Error& e) {
      fail("train", "{}; training stopped after epoch {} step {}: {} is left as it was{}", e.what(), st.epoch,
           st.step_in_epoch, fs::path(path).filename().string(),
           fs::exists(last_path)
               ? fmt::format(", and `fovea train --resume --out {}` goes on once the cause is fixed", opts.out_dir)
               : "");
    }
  };

  const nlohmann::json machine = machine_json(world);  // for metrics.json, read once
  const bool interactive = !opts.quiet && Progress::is_terminal(log);
  Progress progress(log, interactive);
  SignalScope signals;
  // SIGINT/SIGTERM reach the ranks at different steps: they stop together, at the first step
  // after which any of them has seen one
  auto stop_agreed = [&] {
    if (world == 1) return signals.stop_requested();
    Tensor flag = scalar_tensor(signals.stop_requested() ? 1.0 : 0.0, DType::i64);
    dist::all_reduce(flag, dist::ReduceOp::max);
    return flag.item() != 0;
  };
  TrainResult res;
  res.best_top1 = std::max(0.0, st.best_top1);
  std::optional<Metrics> last_metrics;
  // One training step, run as it is or recorded as a CUDA graph: forward, loss, backward
  // (distributed: the gradients come back averaged over the ranks), optimizer step.
  // The last step's gradients go before the forward pass, not after: they are not held beside
  // the activations at the end of the forward pass, often the step's peak (docs/backend.md).
  auto training_step = [&](const Tensor& x, const Tensor& y) {
    opt->zero_grad();
    Tensor logits = forward(x);
    Tensor loss = training_loss(*model, logits, y);
    loss.backward();
    Tensor grad_sq;  // read with the loss: a gradient that blew up is named before it spreads further
    {
      NoGradGuard ng;
      for (const auto& group : opt->param_groups())
        for (const auto& p : group.params)
          if (p.grad().defined()) {
            const Tensor s = sum(square(p.grad().to(DType::f32)));
            grad_sq = grad_sq.defined() ? add(grad_sq, s) : s;
          }
    }
    opt->step();
    NoGradGuard ng;
    return StepGraph::Out{loss.detach(), correct_count(logits, y),
                          grad_sq.defined() ? grad_sq : zeros({}, {.device = loss.device()})};
  };
  std::optional<StepGraph> graphed;
  if (c.cuda_graph) graphed.emplace(dev, *opt, training_step);
  for (std::int64_t epoch = st.epoch; epoch < c.epochs; ++epoch) {
    const std::int64_t skip = epoch == st.epoch ? st.step_in_epoch : 0;
    train_loader.start_epoch(epoch, skip);
    progress.start_epoch(epoch + 1, c.epochs, batches - skip);
    model->train();
    auto t0 = std::chrono::steady_clock::now();
    // a resumed epoch starts from the sums saved at the interruption (the whole run's, over
    // every rank); this rank's own from here on are summed over the ranks at the epoch's end
    double loss_sum = 0;
    std::int64_t seen = 0, correct = 0, step = skip;
    // bf16 autocast for the forward pass; backward follows the recorded casts
    std::optional<AutocastGuard> autocast;
    if (c.precision == "bf16") autocast.emplace(Precision::bf16);
    // A non-finite loss or gradient stops the run at the step that produced it, naming the
    // likely cause: the batch's images when they hold NaN or Inf, else the loss, else the
    // gradients (an explosion: the loss was still finite).
    auto check_step = [&](double lv, double grad_sq, const Tensor& images) {
      if (std::isfinite(lv) && std::isfinite(grad_sq)) return;
      std::string where = fs::exists(last_path) ? fmt::format("the last good checkpoint is {}", last_path)
                                                : std::string("no checkpoint was written yet");
      const std::string at = fmt::format("at epoch {} step {} (global step {}{})", epoch + 1, step + 1,
                                         st.global_step + 1, world > 1 ? fmt::format(", rank {}", rank) : "");
      std::int64_t bad_inputs = 0;  // NaN or infinite: the values whose |v| is not <= the largest double
      if (is_floating(images.dtype())) {
        NoGradGuard ng;
        const Tensor v = abs(images.to(DType::f64));
        bad_inputs =
            images.numel() - static_cast<std::int64_t>(
                                 sum(le(v, scalar_like(std::numeric_limits<double>::max(), v)).to(DType::f64)).item());
      }
      if (bad_inputs > 0)
        fail("train",
             "the input batch {} holds {} NaN or infinite values of {} (the data or its normalisation, mean {} std {}, "
             "not the model); the loss became {}; training stopped, {}",
             at, bad_inputs, images.numel(), fmt::join(c.mean, ","), fmt::join(c.std, ","), lv, where);
      if (!std::isfinite(lv)) fail("train", "the loss became {} {}; training stopped, {}", lv, at, where);
      fail("train",
           "the gradients blew up {}: their squared norm is {} while the loss was {:.4g} (a gradient explosion: "
           "lower --lr, now {}); training stopped, {}",
           at, grad_sq, lv, opt->param_groups()[0].lr, where);
    };
    // the run's totals of this epoch: the sums before this start, plus every rank's since
    auto epoch_totals = [&] {
      Tensor t =
          from_vector(std::vector<double>{loss_sum, static_cast<double>(seen), static_cast<double>(correct)}, {3});
      dist::all_reduce(t);
      const auto v = t.to_vector<double>();
      const double base_loss = skip ? st.epoch_loss_sum : 0;
      const std::int64_t base_seen = skip ? st.epoch_seen : 0, base_correct = skip ? st.epoch_correct : 0;
      return std::tuple{base_loss + v[0], base_seen + static_cast<std::int64_t>(v[1]),
                        base_correct + static_cast<std::int64_t>(v[2])};
    };
    while (auto b = train_loader.next()) {
      const StepGraph::Out out =
          graphed ? graphed->run(b->images, b->labels) : training_step(b->images.to(dev), b->labels.to(dev));
      // the loss and the count in one read: one wait for the device per step. A bad loss stops
      // training here; the checkpoints on disk are untouched.
      const Tensor both =
          stack({out.loss.to(DType::f64), out.correct.to(DType::f64), out.grad_sq.to(DType::f64)}, 0).to(kCPU);
      const double lv = both.data<double>()[0];
      const auto ok = static_cast<std::int64_t>(both.data<double>()[1]);
      check_step(lv, both.data<double>()[2], b->images);
      sched->step();
      ++step;
      ++st.global_step;
      const std::int64_t n = b->labels.numel();
      loss_sum += lv * static_cast<double>(n);
      seen += n;
      correct += ok;
      progress.update(n, lv, ok);
      if (opts.on_step) opts.on_step(st.global_step);
      if (stop_agreed()) {
        st.epoch = epoch;
        st.step_in_epoch = step;
        std::tie(st.epoch_loss_sum, st.epoch_seen, st.epoch_correct) = epoch_totals();
        if (ddp) ddp->broadcast_buffers();
        checkpoint(last_path);
        progress.end_epoch(fmt::format("interrupted: saved {}", last_path));
        res.interrupted = true;
        res.epochs_done = epoch;
        return res;
      }
    }
    const double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rank_rate = train_secs > 0 ? static_cast<double>(seen) / train_secs : 0.0;
    const auto [epoch_loss, epoch_seen, epoch_correct] = epoch_totals();
    // every rank evaluates rank 0's weights (the ones saved) on its share of the test set
    if (ddp) ddp->broadcast_buffers();
    Metrics m = evaluate(*model, test_loader);
    m.sum_over_ranks();
    Tensor rates = zeros({world}, {.dtype = DType::f64});
    rates.data<double>()[rank] = rank_rate;
    dist::all_reduce(rates);
    const std::vector<double> rank_rates = rates.to_vector<double>();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.epoch = epoch + 1;
    st.step_in_epoch = 0;
    st.epoch_loss_sum = 0;
    st.epoch_seen = st.epoch_correct = 0;
    const bool best = m.top1() > st.best_top1;
    if (best) st.best_top1 = m.top1();
    nlohmann::json record{
        {"epoch", epoch + 1},
        {"train_loss", epoch_seen ? epoch_loss / static_cast<double>(epoch_seen) : 0.0},
        {"train_accuracy", epoch_seen ? static_cast<double>(epoch_correct) / static_cast<double>(epoch_seen) : 0.0},
        {"test_loss", m.loss()},
        {"test_accuracy", m.top1()},
        {"train_images_per_sec", std::accumulate(rank_rates.begin(), rank_rates.end(), 0.0)},
        {"lr", opt->param_groups()[0].lr},
        {"seconds", secs}};
    if (has_top5(c.num_classes)) record["test_top5"] = m.top5();
    if (world > 1) {
      record["world_size"] = world;
      record["rank_images_per_sec"] = rank_rates;
    }
    records.push_back(record);
    nlohmann::json doc{{"config", nlohmann::json::parse(c.to_json())},
                       {"commands", commands},
                       {"fovea_version", fmt::format("{} ({})", version(), build_commit())},
                       {"machine", machine},
                       {"world_size", world},
                       {"train_class_counts", train_counts_json},
                       {"test_class_counts", test_counts_json},
                       {"epochs", records}};
    doc.update(nlohmann::json::parse(class_results_json(m, c.classes, epoch + 1)));
    // The order keeps the directory consistent if the process dies between two writes: best
    // first (a resume redoes the epoch bit for bit and writes it again), then last (which holds
    // the records: a resume restores the one metrics.json may lack), then metrics.json.
    st.records = records.dump();
    if (best) checkpoint(best_path);
    checkpoint(last_path);
    if (lead) write_text_atomic(metrics_path, doc.dump(2) + "\n");
    std::string graph_note;  // the run's totals so far
    if (graphed)
      graph_note = graphed->note().empty() ? fmt::format("  (CUDA graph: {} replays, {} recordings)",
                                                         graphed->replays(), graphed->recordings())
                                           : fmt::format("  (CUDA graph off, steps run eagerly: {})", graphed->note());
    progress.end_epoch(fmt::format("test loss {:.4f}  top-1 {}{}{}{}", m.loss(), pct(m.top1()),
                                   has_top5(c.num_classes) ? "  top-5 " + pct(m.top5()) : "", best ? "  (best)" : "",
                                   graph_note));
    res.epochs_done = epoch + 1;
    res.last_top1 = m.top1();
    if (lead && opts.on_epoch) opts.on_epoch(epoch + 1, c.epochs);
    last_metrics = std::move(m);
  }
  res.best_top1 = st.best_top1;
  if (last_metrics && lead) {
    fmt::print(log, "\n{}\n{}\n", per_class_table(*last_metrics, c.classes), confusion_table(*last_metrics, c.classes));
    const std::string png = (fs::path(opts.out_dir) / "confusion.png").string();
    write_confusion_png(*last_metrics, c.classes, png);
    fmt::print(log, "wrote {}, {}, {}, {}\n", metrics_path, last_path, best_path, png);
  }
  std::fflush(log);
  return res;
}

}  // namespace fovea::train
