#pragma once
// How faithful a map is to the model: does removing what the map calls important change the
// model's answer? Deletion and insertion curves with their area (Petsiuk et al. 2018, RISE,
// section 4.1) and the average drop / increase in confidence (Chattopadhay et al. 2018, section
// 5.1), on the class's softmax probability.
//
// Shapes: x (N,C,H,W) the model's input, target (N) i64, map (N,1,H,W) or (N,C,H,W) (a map of
// explain.h; channels are reduced as they are drawn: max of |g| by default).
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fovea/explain/explain.h"

namespace fovea::explain {

struct FaithfulnessOptions {
  // Deletion: the pixels (all channels), most important first, are set to 0 (for a normalised
  // input, the data set's mean colour) in `steps` equal steps; insertion: starting from the
  // input blurred (Gaussian, 11 px, sigma 5, RISE's substrate), the pixels are put back in the
  // same order. Each curve has steps + 1 points, from none to all pixels.
  std::int64_t steps = 50;
  Reduce reduce = Reduce::max;      // a map with channels -> one importance per pixel
  std::int64_t forward_batch = 64;  // perturbed images per forward pass
};

struct Faithfulness {
  Tensor deletion;       // (N, steps+1) the class's probability as pixels are removed
  Tensor insertion;      // (N, steps+1) ... as pixels are put back
  Tensor deletion_auc;   // (N) area under the deletion curve, x in [0, 1]: lower is better
  Tensor insertion_auc;  // (N) area under the insertion curve: higher is better
  Tensor probability;    // (N) the class's probability on the input
  Tensor masked;         // (N) ... on the input times the map scaled to [0, 1]
  // averages over the images: deletion / insertion AUC; average drop in percent,
  // 100 mean(max(0, p - masked) / p) (lower is better); increase in confidence in percent,
  // 100 mean(masked > p) (higher is better)
  double mean_deletion_auc = 0, mean_insertion_auc = 0, average_drop = 0, increase = 0;
};

// The four measures of one map for every image.
Faithfulness faithfulness(nn::Module& model, const Tensor& x, const Tensor& target, const Tensor& map,
                          const FaithfulnessOptions& o = {});
// Every method's map in e scored on the same images, in the order given, then (when
// random_control) a uniform random map named "random": the chance level of each measure.
struct MethodFaithfulness {
  std::string method;
  Faithfulness f;
};
std::vector<MethodFaithfulness> evaluate(nn::Module& model, const Tensor& x, const Explanation& e,
                                         const std::vector<Method>& methods, const FaithfulnessOptions& o = {},
                                         bool random_control = true);
// As JSON: the protocol, then per method the four means, the mean curves and, with image names
// (one per image of x, in order), each image's target, probability and areas.
nlohmann::ordered_json faithfulness_json(const std::vector<MethodFaithfulness>& scores, const Tensor& target,
                                         const FaithfulnessOptions& o, const std::vector<std::string>& names = {});

// A control map: uniform random importance (the chance level of each measure).
Tensor random_map(const Tensor& x, std::uint64_t seed = 0);
// The importance of each pixel that the measures rank and mask by: (N,1,H,W), channels reduced
// by r for maps with several (a single channel is taken as it is, signed).
Tensor pixel_importance(const Tensor& map, Reduce r = Reduce::max);
// x (N,C,H,W) blurred channel by channel with a Gaussian of `kernel` px and `sigma` (zero padding)
Tensor gaussian_blur(const Tensor& x, std::int64_t kernel = 11, double sigma = 5);

}  // namespace fovea::explain
