// Gradient checks of every differentiable op: f64 where the CPU path computes in f64,
// f32 with a larger step for the oneDNN-only ops (conv, batch norm's f32 path).
#include <gtest/gtest.h>

#include "tests/ops/gradcheck_util.h"

using namespace fovea;
using fovea::testing::GradcheckOptions;
using test::check;
using test::kF32;
using test::rnd;

TEST(Gradcheck, Elementwise) {
  auto a = rnd({3, 4}), b = rnd({4}, DType::f64, 2), pos = rnd({3, 4}, DType::f64, 3, 0.5, 2);
  check([](auto& v) { return add(v[0], v[1]); }, {a, b});
  check([](auto& v) { return sub(v[0], v[1]); }, {a, b});
  check([](auto& v) { return mul(v[0], v[1]); }, {a, b});
  check([](auto& v) { return div(v[0], v[1]); }, {a, rnd({4}, DType::f64, 4, 0.5, 2)});
  check([](auto& v) { return pow(v[0], v[1]); }, {pos, b});
  check([](auto& v) { return pow(v[0], 3.0); }, {a});
  check([](auto& v) { return pow(v[0], -1.5); }, {pos});
  check([](auto& v) { return maximum(v[0], v[1]); }, {a, b});
  check([](auto& v) { return minimum(v[0], v[1]); }, {a, b});
  check([](auto& v) { return neg(v[0]); }, {a});
  check([](auto& v) { return exp(v[0]); }, {a});
  check([](auto& v) { return log(v[0]); }, {pos});
  check([](auto& v) { return log1p(v[0]); }, {pos});
  check([](auto& v) { return sqrt(v[0]); }, {pos});
  check([](auto& v) { return rsqrt(v[0]); }, {pos});
  check([](auto& v) { return abs(v[0]); }, {a});
  check([](auto& v) { return square(v[0]); }, {a});
  check([](auto& v) { return clamp(v[0], -0.5, 0.7); }, {a});
  check([](auto& v) { return where(gt(v[0], scalar_like(0, v[0])), v[0], v[1]); }, {a, b});
}

TEST(Gradcheck, Activations) {
  auto a = rnd({2, 3, 4});
  check([](auto& v) { return relu(v[0]); }, {a});
  check([](auto& v) { return leaky_relu(v[0], 0.2); }, {a});
  check([](auto& v) { return elu(v[0], 0.7); }, {a});
  check([](auto& v) { return sigmoid(v[0]); }, {a});
  check([](auto& v) { return tanh(v[0]); }, {a});
  check([](auto& v) { return gelu(v[0]); }, {a});
  check([](auto& v) { return erf(v[0]); }, {a});
  check([](auto& v) { return softplus(v[0]); }, {rnd({2, 3, 4}, DType::f64, 6, -30, 30)});
  check([](auto& v) { return hardswish(v[0]); }, {rnd({2, 3, 4}, DType::f64, 5, -4, 4)});
  check([](auto& v) { return softmax(v[0], 1); }, {a});
  check([](auto& v) { return log_softmax(v[0], -1); }, {a});
  // the oneDNN f32 paths
  auto f = rnd({2, 3, 4}, DType::f32);
  check([](auto& v) { return gelu(v[0]); }, {f}, kF32);
  check([](auto& v) { return erf(v[0]); }, {f}, kF32);  // no oneDNN form: the scalar f32 loop
  check([](auto& v) { return softplus(v[0]); }, {f}, kF32);
  check([](auto& v) { return sigmoid(v[0]); }, {f}, kF32);
  check([](auto& v) { return log_softmax(v[0], 1); }, {f}, kF32);
}

TEST(Gradcheck, LayerAndInstanceNorm) {
  auto x = rnd({2, 3, 4, 5}), w = rnd({4, 5}, DType::f64, 7, 0.5, 2), b = rnd({4, 5}, DType::f64, 8);
  check([](auto& v) { return layer_norm(v[0], 2, v[1], v[2], 1e-5); }, {x, w, b});
  check([](auto& v) { return layer_norm(v[0], 1); }, {x});
  auto wc = rnd({3}, DType::f64, 9, 0.5, 2), bc = rnd({3}, DType::f64, 10);
  check([](auto& v) { return instance_norm(v[0], v[1], v[2], 1e-5); }, {x, wc, bc});
  check([](auto& v) { return instance_norm(v[0]); }, {rnd({2, 3, 7})});
}

TEST(Gradcheck, Reductions) {
  auto a = rnd({3, 4, 5});
  check([](auto& v) { return sum(v[0]); }, {a});
  check([](auto& v) { return sum(v[0], {0, 2}, true); }, {a});
  check([](auto& v) { return mean(v[0], {-1}); }, {a});
  check([](auto& v) { return max(v[0], 1); }, {a});
  check([](auto& v) { return min(v[0], 2, true); }, {a});
  check([](auto& v) { return max(v[0]); }, {a});
  check([](auto& v) { return var(v[0], {1}); }, {a});
  check([](auto& v) { return var(v[0], {0, 2}, false, true); }, {a});
}

TEST(Gradcheck, Linalg) {
  check([](auto& v) { return matmul(v[0], v[1]); }, {rnd({3, 4}), rnd({4, 5}, DType::f64, 2)});
  check([](auto& v) { return matmul(v[0], v[1]); }, {rnd({2, 3, 4}), rnd({4, 2}, DType::f64, 2)});
  check([](auto& v) { return matmul(v[0], v[1]); }, {rnd({4}), rnd({2, 4, 3}, DType::f64, 2)});
  check([](auto& v) { return linear(v[0], v[1], v[2]); },
        {rnd({2, 3, 4}), rnd({5, 4}, DType::f64, 2), rnd({5}, DType::f64, 3)});
  check([](auto& v) { return linear(v[0], v[1], v[2]); },
        {rnd({3, 4}, DType::f32), rnd({5, 4}, DType::f32, 2), rnd({5}, DType::f32, 3)}, kF32);
}

TEST(Gradcheck, Conv2d) {
  for (auto [stride, pad, dil, groups] :
       std::vector<std::tuple<Pair, Padding, Pair, int>>{{1, 0, 1, 1},
                                                         {2, 1, 1, 1},
                                                         {Pair(2, 1), Padding(0, 1, 2, 1), 2, 2},
                                                         {1, PadMode::same, 1, 4},
                                                         {2, PadMode::same, 1, 1}}) {
    auto x = rnd({2, 4, 7, 6}, DType::f32);
    auto w = rnd({4, 4 / groups, 3, 3}, DType::f32, 2);
    auto b = rnd({4}, DType::f32, 3);
    Conv2dOptions o{.stride = stride, .padding = pad, .dilation = dil, .groups = groups};
    check([o](auto& v) { return conv2d(v[0], v[1], v[2], o); }, {x, w, b}, kF32);
  }
}

TEST(Gradcheck, Pooling) {
  auto x = rnd({2, 3, 7, 7});
  check([](auto& v) { return max_pool2d(v[0], {.kernel = 3, .stride = 2, .padding = 1}); }, {x});
  check([](auto& v) { return max_pool2d(v[0], {.kernel = 2, .ceil_mode = true}); }, {x});
  check([](auto& v) { return max_pool2d(v[0], {.kernel = Pair(2, 3), .stride = Pair(1, 2)}); }, {x});
  check([](auto& v) { return avg_pool2d(v[0], {.kernel = 3, .stride = 2, .padding = 1}); }, {x});
  check([](auto& v) { return avg_pool2d(v[0], {.kernel = 2, .ceil_mode = true, .count_include_pad = false}); }, {x});
  check([](auto& v) { return avg_pool2d(v[0], {.kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true}); }, {x});
  check([](auto& v) { return max_pool2d(v[0], {.kernel = 2}); }, {rnd({2, 3, 6, 6}, DType::f32)}, kF32);
}

TEST(Gradcheck, BatchNorm) {
  auto x = rnd({4, 3, 3, 3}), w = rnd({3}, DType::f64, 2), b = rnd({3}, DType::f64, 3);
  check([](auto& v) { return batch_norm(v[0], {}, {}, v[1], v[2], {.training = true}); }, {x, w, b});
  auto rm = zeros({3}, {.dtype = DType::f64}), rv = ones({3}, {.dtype = DType::f64});
  check([rm, rv](auto& v) { return batch_norm(v[0], rm, rv, v[1], v[2], {.training = false}); }, {x, w, b});
  // oneDNN f32 training path
  auto xf = rnd({4, 3, 3, 3}, DType::f32), wf = rnd({3}, DType::f32, 2), bf = rnd({3}, DType::f32, 3);
  check([](auto& v) { return batch_norm(v[0], {}, {}, v[1], v[2], {.training = true}); }, {xf, wf, bf},
        {.eps = 1e-2, .atol = 5e-3, .rtol = 5e-2});
}

TEST(Gradcheck, ShapeOps) {
  auto a = rnd({2, 3, 4}), b = rnd({2, 2, 4}, DType::f64, 2);
  check([](auto& v) { return cat({v[0], v[1]}, 1); }, {a, b});
  check([](auto& v) { return stack({v[0], v[0] * 2.0}, 0); }, {a});
  check([](auto& v) { return pad(v[0], {1, 2, 0, 1}, 0.5); }, {a});
  check([](auto& v) { return pad(v[0], {-1, 1}); }, {a});
  check([](auto& v) { return v[0].permute({2, 0, 1}).reshape({4, 6}); }, {a});
  check([](auto& v) { return v[0].slice(2, 1, 4, 2) * 3.0; }, {a});
  check([](auto& v) { return v[0].select(1, 2); }, {a});
  check([](auto& v) { return v[0].unsqueeze(1).expand({2, 5, 3, 4}); }, {a});
  check([](auto& v) { return v[0].transpose(0, 2).contiguous(); }, {a});
  check([](auto& v) { return v[0].to(DType::f32).to(DType::f64); }, {a}, {.eps = 1e-3, .atol = 1e-4, .rtol = 1e-3});
}

TEST(Gradcheck, Losses) {
  auto logits = rnd({4, 5});
  Tensor t = from_vector<std::int64_t>({0, 3, 4, 1}, {4});
  Tensor tig = from_vector<std::int64_t>({0, -100, 4, 1}, {4});
  check([t](auto& v) { return cross_entropy(v[0], t); }, {logits});
  check([tig](auto& v) { return cross_entropy(v[0], tig, {.reduction = Reduction::sum, .label_smoothing = 0.1}); },
        {logits});
  check([t](auto& v) { return cross_entropy(v[0], t, {.reduction = Reduction::none}); }, {logits});
  auto spatial = rnd({2, 3, 2, 2});
  Tensor ts = from_vector<std::int64_t>({0, 1, 2, 1, 2, 0, 1, 1}, {2, 2, 2});
  check([ts](auto& v) { return cross_entropy(v[0], ts); }, {spatial});
  check([t](auto& v) { return nll_loss(log_softmax(v[0], 1), t); }, {logits});
  auto y = rnd({4, 5}, DType::f64, 9);
  check([](auto& v) { return mse_loss(v[0], v[1]); }, {logits, y});
  auto target = rnd({4, 5}, DType::f64, 10, 0, 1).detach();
  auto pw = rnd({5}, DType::f64, 11, 0.5, 2).detach();
  check([target, pw](auto& v) { return binary_cross_entropy_with_logits(v[0], target, Reduction::mean, pw); },
        {logits});
}

TEST(Gradcheck, Dropout) {
  auto a = rnd({50});
  // the same generator seed gives the same mask in every evaluation
  check(
      [](auto& v) {
        Generator g(3);
        return dropout(v[0], 0.3, true, g);
      },
      {a});
}
