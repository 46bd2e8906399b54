// `fovea models`: the networks of the model zoo with their parameter counts.
#include <fmt/core.h>

#include "fovea/models/registry.h"
#include "tools/fovea/commands.h"

namespace fovea::cli {

void add_models(CLI::App& app) {
  auto* cmd = app.add_subcommand("models", "list the networks of the model zoo");
  cmd->callback([] {
    fmt::print("{:<20} {:>12}  {:<12} {}\n", "name", "parameters", "input", "description");
    DefaultDeviceGuard meta(kMeta);  // count parameters without allocating them
    for (const auto& m : models::list()) {
      // ImageNet's 1000 classes for the colour networks, as their papers count
      auto net = models::create(m.name, {.num_classes = m.input[0] == 1 ? 10 : 1000, .in_channels = m.input[0]});
      std::string input = fmt::format("{}x{}x{}", m.input[0], m.input[1], m.input[2]);
      fmt::print("{:<20} {:>12}  {:<12} {}\n", m.name, net->num_parameters(), input, m.description);
    }
  });
}

}  // namespace fovea::cli
