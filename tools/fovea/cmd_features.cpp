// `fovea features`: the activations of chosen layers as tile grids (one tile per channel).
#include <fmt/core.h>

#include <filesystem>

#include "fovea/explain/draw.h"
#include "fovea/explain/explain.h"
#include "fovea/io/image.h"
#include "fovea/io/safetensors.h"
#include "tools/fovea/cli_inputs.h"
#include "tools/fovea/cli_util.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

namespace {

constexpr const char* kOp = "features";
constexpr std::size_t kDefaultLayers = 8;

// Every convolution's output, at most kDefaultLayers of them spread over the depth.
std::vector<std::string> default_layers(nn::Module& model) {
  std::vector<std::string> convs;
  for (auto& [name, m] : model.named_modules())
    if (m->type() == "Conv2d") convs.push_back(name);
  if (convs.size() <= kDefaultLayers) return convs;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < kDefaultLayers; ++i) out.push_back(convs[i * (convs.size() - 1) / (kDefaultLayers - 1)]);
  return out;
}

}  // namespace

void add_features(CLI::App& app) {
  auto* cmd = app.add_subcommand("features", "feature maps: the activations of chosen layers as tile grids");
  struct Args {
    ModelArgs model;
    InputArgs in;
    std::string layers, out;
    int tile = 32;
    bool force = false;
  };
  auto a = std::make_shared<Args>();
  add_model_args(cmd, a->model);
  add_input_args(cmd, a->in);
  cmd->add_option("--layers", a->layers, "comma-separated module paths (default: up to 8 convolutions over the depth)");
  cmd->add_option("--tile", a->tile, "smallest tile side in pixels (small maps are enlarged)")->capture_default_str();
  cmd->add_option("--out", a->out, "output directory")->required();
  cmd->add_flag("--force", a->force, "write into --out even when it already holds files");
  cmd->callback([a] {
    check_out_dir(a->out, a->force, kOp);
    if (a->tile < 1) fail(kOp, "--tile must be >= 1, got {}", a->tile);
    Inputs in = load_inputs(a->model, a->in, kOp);
    std::vector<std::string> layers = split_list(a->layers);
    if (layers.empty()) layers = default_layers(*in.model);
    if (layers.empty()) fail(kOp, "the model has no Conv2d layer; name layers with --layers");
    const auto maps = explain::feature_maps(*in.model, in.x, layers);
    std::filesystem::create_directories(a->out);
    NamedTensors raw;
    for (const auto& layer : layers) {
      const Tensor& f = maps.at(layer);
      raw.emplace_back(layer, f.contiguous());
      if (f.dim() != 4) {
        fmt::print("{:<24} {} (not spatial: no picture)\n", layer, shape_str(f.shape()));
        continue;
      }
      const int factor = std::max<int>(1, static_cast<int>((a->tile + f.size(2) - 1) / f.size(2)));
      for (std::int64_t i = 0; i < f.size(0); ++i) {
        const auto path = std::filesystem::path(a->out) / fmt::format("{}_{}.png", in.names[i], layer);
        const std::string title =
            fmt::format("{}: {} channels of {}x{} ({})", layer, f.size(1), f.size(2), f.size(3), in.names[i]);
        io::write_png(path.string(), explain::labelled_tile_grid(f.select(0, i), title, factor));
        if (i == 0) fmt::print("{:<24} {:<20} {}\n", layer, shape_str(f.shape()), path.string());
      }
    }
    io::save_safetensors((std::filesystem::path(a->out) / "features.safetensors").string(), raw);
  });
}

}  // namespace fovea::cli
