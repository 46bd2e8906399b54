#pragma once
// Where `fovea explain` and `fovea features` get their model and images: a checkpoint (with its
// classes and normalisation) or a zoo model / spec file with weights; image files, test images
// of the checkpoint's data (N per class, by index, or the whole test split), or a tensor file.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "fovea/nn/module.h"

namespace fovea::cli {

struct ModelArgs {
  std::string checkpoint, model, weights;
  std::int64_t num_classes = 1000;
  std::string device = "cpu";
};
void add_model_args(CLI::App* cmd, ModelArgs& a);

struct InputArgs {
  std::vector<std::string> images, more_images;  // files, or folders searched for PNG and JPEG files
  std::string data, test_index, tensor;
  std::int64_t per_class = 0;
  bool test_split = false;  // every test image
  std::int64_t limit = 0;   // at most this many images (0: all)
};
void add_input_args(CLI::App* cmd, InputArgs& a);

struct Inputs {
  nn::ModulePtr model;               // weights loaded
  std::vector<std::string> classes;  // class names ("0".. when unknown)
  Tensor x;                          // (N,C,H,W) as the model takes it (normalised)
  std::vector<Tensor> shown;         // u8 (C,H,W) per image, the size of x's images
  std::vector<std::string> names;    // file-name-safe, unique: the image file's stem, "fashion-mnist_test_17"
  std::vector<std::int64_t> truth;   // the true class (a test image's, or an image file's folder named
                                     // after a class), -1 when unknown
};
// Errors name the command `op` and the missing or bad argument.
Inputs load_inputs(const ModelArgs& m, const InputArgs& in, const char* op);

}  // namespace fovea::cli
