// Model and image loading shared by `fovea explain` and `fovea features` (cli_inputs.h).
#include "tools/fovea/cli_inputs.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "fovea/autograd/grad_mode.h"
#include "fovea/explain/render.h"
#include "fovea/io/image.h"
#include "fovea/io/safetensors.h"
#include "fovea/models/registry.h"
#include "fovea/nn/serialize.h"
#include "fovea/ops/ops.h"
#include "fovea/train/trainer.h"
#include "tools/fovea/cli_util.h"

namespace fovea::cli {

namespace {

// letters, digits, '-' and '_' only; the rest becomes '_'
std::string safe_name(std::string s) {
  for (auto& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '_';
  return s;
}

// An image file in a folder named after a class (as in the image folders fovea trains on) has
// that class as its truth; -1 otherwise.
std::int64_t class_of_folder(const std::string& file, const std::vector<std::string>& classes) {
  const std::string folder = std::filesystem::absolute(file).parent_path().filename().string();
  for (std::size_t i = 0; i < classes.size(); ++i)
    if (classes[i] == folder) return static_cast<std::int64_t>(i);
  return -1;
}

// A test image's name in output files: an image folder's file stem ("circle_003"), else the
// dataset's description ("fashion-mnist test #17" -> "fashion-mnist_test_17").
std::string source_name(const std::string& source) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(source, ec)) return std::filesystem::path(source).stem().string();
  std::string s;
  for (char ch : source)
    if (ch != '#') s += ch == ' ' ? '_' : ch;
  return s;
}

std::vector<std::int64_t> parse_indices(const std::string& list, std::int64_t n, const char* op) {
  std::vector<std::int64_t> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::int64_t i = -1;
    try {
      std::size_t used = 0;
      i = std::stoll(item, &used);
      if (used != item.size()) i = -1;
    } catch (const std::exception&) {
    }
    if (i < 0 || i >= n) fail(op, "test index '{}' out of range [0, {})", item, n);
    out.push_back(i);
  }
  return out;
}

bool is_image_name(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// Image arguments: files as given; a folder becomes its PNG and JPEG files (and its
// sub-folders'), sorted by path.
std::vector<std::string> image_files(const std::vector<std::string>& args, const char* op) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (!std::filesystem::is_directory(a, ec)) {
      out.push_back(a);
      continue;
    }
    std::vector<std::string> found;
    for (auto it = std::filesystem::recursive_directory_iterator(a, ec); !ec && it != decltype(it)(); it.increment(ec))
      if (it->is_regular_file(ec) && is_image_name(it->path())) found.push_back(it->path().string());
    if (ec) fail(op, "cannot read folder {}: {}", a, ec.message());
    if (found.empty()) fail(op, "folder {} holds no PNG or JPEG files", a);
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

}  // namespace

void add_model_args(CLI::App* cmd, ModelArgs& a) {
  cmd->add_option("--checkpoint", a.checkpoint, "a checkpoint written by fovea train");
  cmd->add_option("--model", a.model, "or: a zoo model or network spec file (.json), with --weights");
  cmd->add_option("--weights", a.weights,
                  "weights for --model (torchvision's key names): .safetensors or a torch.save .pth / .pt");
  cmd->add_option("--num-classes", a.num_classes, "--model: the classifier's outputs")->capture_default_str();
  cmd->add_option("--device", a.device, "cpu | cuda | cuda:N")->capture_default_str();
}

void add_input_args(CLI::App* cmd, InputArgs& a) {
  cmd->add_option("images", a.images, "PNG or JPEG files, or folders of them");
  cmd->add_option("--images", a.more_images, "the same: a file or a folder (searched with its sub-folders)");
  cmd->add_option("--data", a.data, "test images of this data set (default: the checkpoint's), with --per-class");
  cmd->add_option("--per-class", a.per_class, "the first N test images of every class");
  cmd->add_option("--test-index", a.test_index, "comma-separated indices into the test data");
  cmd->add_flag("--test-split", a.test_split, "every image of the test data (with --limit: the first N)");
  cmd->add_option("--limit", a.limit, "at most this many images");
  cmd->add_option("--tensor", a.tensor, "a safetensors file holding a tensor named 'input' (N,C,H,W)");
}

Inputs load_inputs(const ModelArgs& m, const InputArgs& in, const char* op) {
  Inputs r;
  const bool from_checkpoint = !m.checkpoint.empty();
  if (from_checkpoint == !m.model.empty()) fail(op, "give either --checkpoint or --model with --weights");
  if (!from_checkpoint && m.weights.empty()) fail(op, "--model needs --weights");
  const bool from_test = in.per_class > 0 || !in.test_index.empty() || in.test_split;
  std::vector<std::string> paths = in.images;
  paths.insert(paths.end(), in.more_images.begin(), in.more_images.end());
  const int sources = !paths.empty() + !in.tensor.empty() + from_test;
  if (sources != 1)
    fail(op,
         "give exactly one input: image files or folders, --per-class N / --test-index / --test-split, or --tensor");
  if (in.per_class < 0) fail(op, "--per-class must be >= 1, got {}", in.per_class);
  if (in.limit < 0) fail(op, "--limit must be >= 1 (or 0: all), got {}", in.limit);
  const auto limited = [&](std::size_t n) { return in.limit > 0 ? std::min<std::size_t>(n, in.limit) : n; };
  std::vector<std::string> files = image_files(paths, op);
  files.resize(limited(files.size()));

  std::vector<Tensor> xs;
  std::set<std::string> used;
  auto add = [&](std::string name, Tensor x, Tensor shown, std::int64_t truth) {
    name = safe_name(name);
    std::string unique = name;
    for (int k = 2; used.count(unique); ++k) unique = fmt::format("{}_{}", name, k);
    used.insert(unique);
    r.names.push_back(unique);
    xs.push_back(x);
    r.shown.push_back(shown);
    r.truth.push_back(truth);
  };

  if (from_checkpoint) {
    auto t = train::load_trained(m.checkpoint);
    train::RunConfig c = t.config;
    r.model = t.model;
    r.classes = c.classes;
    auto transform = train::eval_transform(c);
    Generator g(0);
    auto show = [&](const Tensor& x, const Tensor& img) {
      return img.size(1) == x.size(1) && img.size(2) == x.size(2) ? img : explain::display_image(x.unsqueeze(0), 0);
    };
    for (auto& f : files) {
      const Tensor img = io::read_image(f, static_cast<int>(c.in_channels));
      const Tensor x = transform(img, g);
      add(std::filesystem::path(f).stem().string(), x, show(x, img), class_of_folder(f, c.classes));
    }
    if (from_test) {
      if (in.data.empty()) train::check_checkpoint_data(c, op);
      else c.data = in.data;
      auto test = train::open_data(c).test;
      std::vector<std::int64_t> picked;
      if (!in.test_index.empty()) picked = parse_indices(in.test_index, test->size(), op);
      std::map<std::int64_t, std::int64_t> count;
      for (std::int64_t i = 0; in.per_class > 0 && i < test->size(); ++i) {
        const auto label = test->label(i);
        if (count[label]++ < in.per_class) picked.push_back(i);
      }
      for (std::int64_t i = 0; in.test_split && i < test->size(); ++i) picked.push_back(i);
      picked.resize(limited(picked.size()));
      for (auto i : picked) {
        const auto ex = test->get(i);
        const Tensor x = transform(ex.image, g);
        add(source_name(test->source(i)), x, show(x, ex.image), ex.label);
      }
    }
  } else {
    if (!in.tensor.empty()) {
      const auto t = io::load_safetensors(in.tensor);
      if (!t.contains("input")) fail(op, "{} holds no tensor named 'input'", in.tensor);
      Tensor x = t.at("input");
      if (x.dim() != 4) fail(op, "the input must be (N,C,H,W), got {}", shape_str(x.shape()));
      x = x.to(DType::f32);
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(limited(static_cast<std::size_t>(x.size(0)))); ++i)
        add(fmt::format("input_{}", i), x.select(0, i), explain::display_image(x, i), -1);
    }
    for (auto& f : files) {
      const Tensor img = io::read_image(f);
      add(std::filesystem::path(f).stem().string(), img.to(DType::f32) / 255.0, img, -1);
    }
    if (from_test) fail(op, "--per-class, --test-index and --test-split need --checkpoint");
    r.model = models::create(m.model, {.num_classes = m.num_classes, .in_channels = xs.front().size(0)});
    cli::load_weights(*r.model, m.weights);
    for (std::int64_t k = 0; k < m.num_classes; ++k) r.classes.push_back(std::to_string(k));
  }
  if (xs.empty()) fail(op, "no images selected");
  for (auto& x : xs)
    if (x.shape() != xs.front().shape())
      fail(op, "all images must have the same size as the first, {}; got {}", shape_str(xs.front().shape()),
           shape_str(x.shape()));
  const Device dev = Device::parse(m.device);
  r.model->to(dev);
  r.x = stack(xs, 0).to(dev);
  return r;
}

}  // namespace fovea::cli
