#pragma once
// The classic networks of the zoo (zoo_classic.cpp lists them), built with torchvision 0.14's
// module names so that state_dict() keys, their order and the parameter counts equal
// torchvision's. Every constructor takes ModelOptions; small_input changes each as its
// comment says (docs/models.md).
#include <array>

#include "fovea/models/registry.h"
#include "fovea/nn/nn.h"

namespace fovea::models {

// torchvision's AlexNet (the one-GPU variant, https://arxiv.org/abs/1404.5997): 61,100,840
// parameters at 1000 classes. small_input: first conv 3x3 stride 1, no first max-pool.
nn::ModulePtr alexnet(const ModelOptions& o);
// AlexNet as Krizhevsky et al. 2012 built it: LRN, overlapping pooling, conv2/4/5 in two
// groups; 60,965,224 parameters at 1000 classes, input 227x227. small_input as alexnet.
nn::ModulePtr alexnet_2012(const ModelOptions& o);
// Zeiler and Fergus 2013, table 1 (https://arxiv.org/abs/1311.2901): 62,357,608 parameters.
// small_input as alexnet.
nn::ModulePtr zfnet(const ModelOptions& o);
// Simonyan and Zisserman 2014 (https://arxiv.org/abs/1409.1556), configurations A, B, D, E
// (depth 11, 13, 16, 19). small_input: no last max-pool, so 28x28 reaches 1x1, not 0x0.
nn::ModulePtr vgg(int depth, bool batch_norm, const ModelOptions& o);
// Szegedy et al. 2014 (https://arxiv.org/abs/1409.4842) as torchvision builds it.
nn::ModulePtr googlenet(const ModelOptions& o);
// Iandola et al. 2016 (https://arxiv.org/abs/1602.07360), torchvision's version 1.1.
// small_input: first conv 3x3 stride 1 padding 1, no first max-pool.
nn::ModulePtr squeezenet1_1(const ModelOptions& o);
// Sandler et al. 2018 (https://arxiv.org/abs/1801.04381): 3,504,872 parameters.
// small_input: stride 1 in the stem and in the first 24-channel block (8x down-sampling, not 32x).
nn::ModulePtr mobilenet_v2(const ModelOptions& o);

// helpers shared by the classic families
std::shared_ptr<nn::Sequential> seq(std::initializer_list<nn::ModulePtr> ms);
// A max-pool, or an Identity where small_input drops it (keeps torchvision's indices).
nn::ModulePtr max_pool_or_skip(bool skip, Pool2dOptions p);
// torchvision's init for vgg and mobilenet_v2: convs kaiming_normal (fan_out, relu gain), bias
// 0; batch norms 1, 0; linears normal(0, linear_std), bias 0.
void init_fan_out(nn::Module& net, double linear_std = 0.01);
// f(layer) for every module of type L below net
template <typename L, typename F>
void for_each(nn::Module& net, F f) {
  for (auto& [name, m] : net.named_modules())
    if (auto* l = dynamic_cast<L*>(m)) f(*l);
}

// min(max(x, 0), 6), torch.nn.ReLU6 (MobileNetV2)
class ReLU6 : public nn::Module {
 public:
  ReLU6() : Module("ReLU6") {}
  Tensor forward(const Tensor& x) override { return clamp(x, 0.0, 6.0); }
};

// conv (no bias) + BatchNorm2d(eps 0.001) + ReLU; children "conv", "bn" (GoogLeNet's BasicConv2d)
class BasicConv2d : public nn::Module {
 public:
  explicit BasicConv2d(nn::Conv2dOptions o);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;
  nn::ModulePtr relu;  // a module (no keys), so hooks such as guided backprop's see it
};

// SqueezeNet's Fire module: a 1x1 squeeze, then 1x1 and 3x3 expands concatenated along C.
// (N,in,H,W) -> (N,e1+e3,H,W)
class Fire : public nn::Module {
 public:
  Fire(std::int64_t in, std::int64_t squeeze, std::int64_t e1, std::int64_t e3);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Conv2d> squeeze, expand1x1, expand3x3;
  nn::ModulePtr squeeze_activation, expand1x1_activation, expand3x3_activation;
};

// MobileNetV2's block: 1x1 expand (unless t = 1), 3x3 depthwise, 1x1 linear projection, all in
// the child "conv"; x + conv(x) when stride 1 and in == out.
class InvertedResidual : public nn::Module {
 public:
  InvertedResidual(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t expand);
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Sequential> conv;

 private:
  bool residual_;
};

// GoogLeNet with torchvision's keys: conv1..3, inception3a..5b, aux1, aux2, fc.
// Options: aux_logits (13,004,888 parameters with the two auxiliary classifiers, 6,624,904
// without), inception_5x5 (branch3 a 5x5 conv as in the paper; torchvision has 3x3).
// small_input: conv1 3x3 stride 1, no maxpool1 (8x down-sampling before inception3a, not 16x).
class GoogLeNet : public nn::Module {
 public:
  explicit GoogLeNet(const ModelOptions& o);
  // Returns the main logits (N,classes). In training mode with aux_logits it also computes
  // the auxiliary logits, read with last_aux(); in eval mode they are not computed.
  Tensor forward(const Tensor& x) override;
  // {aux1 (after inception4a), aux2 (after inception4d)} of the last training forward, each
  // (N,classes); empty after an eval forward or without aux_logits. The paper adds
  // 0.3 * (loss(aux1) + loss(aux2)) to the main loss during training.
  const std::vector<Tensor>& last_aux() const { return last_aux_; }
  // the same, each with the paper's weight 0.3, for the trainer
  std::vector<AuxOutput> auxiliary_outputs() const override;

 protected:
  bool adopt_child(const std::string& name, const nn::ModulePtr& m) override;

 private:
  std::vector<Tensor> last_aux_;
  std::vector<nn::ModulePtr> stages_;      // conv1 .. inception5b in forward order
  std::size_t aux1_at_ = 0, aux2_at_ = 0;  // stage indices of inception4a and inception4d
  nn::ModulePtr aux1_, aux2_, avgpool_, dropout_, fc_;
};

}  // namespace fovea::models
