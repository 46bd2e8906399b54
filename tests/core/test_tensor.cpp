#include <gtest/gtest.h>

#include "fovea/autograd/grad_mode.h"
#include "fovea/ops/ops.h"

using namespace fovea;

TEST(Tensor, FactoriesAndMetadata) {
  Tensor t = zeros({2, 3, 4});
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(full({2}, 3.5, {.dtype = DType::f64}).to_vector<double>(), (std::vector<double>{3.5, 3.5}));
  EXPECT_EQ(arange(0, 5).to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4}));
  EXPECT_THROW(empty({2, -1}), Error);
  EXPECT_THROW(from_vector<float>({1, 2, 3}, {2, 2}), Error);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = arange(0, 24).reshape({2, 3, 4});
  Tensor p = t.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.storage(), t.storage());
  EXPECT_FALSE(p.is_contiguous());
  Tensor s = t.slice(2, 1, 4, 2);
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.to_vector<float>()[0], 1.0f);
  EXPECT_EQ(s.to_vector<float>()[1], 3.0f);
  Tensor e = from_vector<float>({1, 2, 3}, {3, 1}).expand({3, 4});
  EXPECT_EQ(e.strides()[1], 0);
  EXPECT_EQ(e.contiguous().to_vector<float>()[5], 2.0f);
  Tensor tr = t.transpose(0, 2);
  EXPECT_EQ(tr.contiguous().to_vector<float>()[1], 12.0f);
  EXPECT_EQ(t.select(1, 2).to_vector<float>()[0], 8.0f);
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(t.unsqueeze(-1).squeeze(-1).shape(), t.shape());
  EXPECT_EQ(t.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(t.view({-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_THROW(p.view({24}), Error);  // not viewable: needs reshape
  EXPECT_EQ(p.reshape({24}).to_vector<float>()[1], 4.0f);
}

TEST(Tensor, DtypeConversions) {
  Tensor t = from_vector<float>({1.5f, -2.25f, 3.0f}, {3});
  EXPECT_EQ(t.to(DType::f64).to_vector<double>(), (std::vector<double>{1.5, -2.25, 3.0}));
  EXPECT_EQ(t.to(DType::i64).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, -2, 3}));
  EXPECT_EQ(t.to(DType::f16).to(DType::f32).to_vector<float>(), t.to_vector<float>());
  EXPECT_EQ(t.to(DType::bf16).to(DType::f32).to_vector<float>(), t.to_vector<float>());
}

TEST(Tensor, InPlaceRefusedOnGradLeaves) {
  Tensor w = ones({3}, {.requires_grad = true});
  EXPECT_THROW(w.add_(ones({3})), Error);
  {
    NoGradGuard ng;
    w.add_(ones({3}), 2.0);
  }
  EXPECT_EQ(w.to_vector<float>()[0], 3.0f);
}

TEST(Tensor, Printing) {
  Tensor t = from_vector<float>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(t.str(), "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]])");
  EXPECT_NE(zeros({2}, {.requires_grad = true}).str().find("requires_grad=True"), std::string::npos);
  EXPECT_NE(empty({2, 3}, {.device = kMeta}).str().find("size=(2,3)"), std::string::npos);
}

TEST(Tensor, MetaDeviceInfersShapesOnly) {
  Tensor x = empty({8, 3, 224, 224}, {.device = kMeta});
  Tensor w = empty({64, 3, 7, 7}, {.device = kMeta});
  Tensor y = max_pool2d(relu(conv2d(x, w, {}, {.stride = 2, .padding = 3})), {.kernel = 3, .stride = 2, .padding = 1});
  EXPECT_EQ(y.shape(), (Shape{8, 64, 56, 56}));
  EXPECT_TRUE(y.is_meta());
}

TEST(Tensor, ErrorsNameTheOp) {
  try {
    conv2d(zeros({3, 224, 224}), zeros({64, 3, 7, 7}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "[conv2d] expected 4-D input (N,C,H,W), got (3,224,224)");
  }
  EXPECT_THROW(add(zeros({2, 3}), zeros({4})), Error);
  EXPECT_THROW(add(zeros({2}), zeros({2}, {.dtype = DType::f64})), Error);
}

TEST(Generator, Deterministic) {
  Generator a(7), b(7);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next(), b.next());
  auto st = a.state();
  double u = a.uniform();
  a.set_state(st);
  EXPECT_EQ(a.uniform(), u);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(a.below(10), 10u);
}

TEST(Random, FillsInPlaceInRowMajorOrder) {
  Generator a(3), b(3);
  Tensor r = rand({4, 5}, {}, a);
  Tensor u = empty({4, 5});
  fill_uniform_(u, 0.0, 1.0, b);
  EXPECT_EQ(u.to_vector<float>(), r.to_vector<float>());  // the same draws as the factory
  // a strided view gets the numbers in its own row-major order; the rest is untouched
  Generator c(3), d(3);
  Tensor t = zeros({5, 4});
  fill_uniform_(t.t(), 0.0, 1.0, c);
  EXPECT_EQ(t.t().contiguous().to_vector<float>(), rand({4, 5}, {}, d).to_vector<float>());
  Tensor half = zeros({2, 6}, {.dtype = DType::f64});
  fill_normal_(half.slice(1, 0, 6, 2), 5.0, 0.0);
  EXPECT_EQ(half.to_vector<double>(), (std::vector<double>{5, 0, 5, 0, 5, 0, 5, 0, 5, 0, 5, 0}));
  for (float v : fill_uniform_(empty({1000}), -2.0, -1.0).to_vector<float>()) {
    EXPECT_GE(v, -2.0f);
    EXPECT_LT(v, -1.0f);
  }
  // in-place rules and dtypes, with the op in the message
  Tensor w = zeros({3}, {.requires_grad = true});
  EXPECT_THROW(fill_uniform_(w, 0, 1), Error);
  {
    NoGradGuard ng;
    EXPECT_NO_THROW(fill_normal_(w, 0, 1));
  }
  try {
    fill_uniform_(zeros({2}, {.dtype = DType::i64}), 0, 1);
    FAIL() << "an integer tensor was filled";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[fill_uniform_]"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(fill_normal_(empty({2, 3}, {.device = kMeta}), 0, 1));  // shapes only: nothing drawn
}

#include "fovea/core/threads.h"

TEST(Threads, SetAndGet) {
  int before = num_threads();
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(before);
  EXPECT_THROW(set_num_threads(0), Error);
}

TEST(Tensor, EdgeCasesFoundInReview) {
  // integer division by zero is an error, also on the parallel path
  Tensor a = ones({100000}, {.dtype = DType::i64});
  EXPECT_THROW(div(a, zeros({100000}, {.dtype = DType::i64})), Error);
  // integer sums are i64 and do not wrap
  EXPECT_EQ(sum(ones({300}, {.dtype = DType::u8})).item(), 300.0);
  // from_vector keeps the element type when other options are given
  Tensor d = from_vector<double>({1, 2}, {2}, {.requires_grad = true});
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_TRUE(d.requires_grad());
  // meta tensors have no data to copy out
  EXPECT_THROW(empty({2}, {.device = kMeta}).to(kCPU), Error);
  // half-precision scalars print and convert
  EXPECT_EQ(scalar_tensor(1.5, DType::f16).item(), 1.5);
  EXPECT_EQ(full({}, 2.0, {.dtype = DType::bf16}).str(), "tensor(2.0000, dtype=bf16)");
  EXPECT_EQ(flatten(zeros({2, 3, 4})).shape(), (Shape{24}));
}
