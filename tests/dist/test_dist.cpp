// fovea::dist on one process and on two ranks: collectives, and DataParallel training giving the
// model one process gives on the whole batch.
#include <gtest/gtest.h>

#include <numeric>

#include "fovea/autograd/grad_mode.h"
#include "fovea/dist/data_parallel.h"
#include "fovea/dist/dist.h"
#include "fovea/dist/sync_batch_norm.h"
#include "fovea/models/registry.h"
#include "fovea/nn/nn.h"
#include "fovea/ops/ops.h"
#include "fovea/optim/optim.h"

using namespace fovea;

namespace {

// The world and this rank (read after main's dist::init()).
int W() { return dist::world_size(); }
int R() { return dist::rank(); }

// Rows r, r + W, ... of a batch: this rank's share, as the distributed sampler deals it.
Tensor share(const Tensor& x) {
  std::vector<std::int64_t> rows;
  for (std::int64_t i = R(); i < x.size(0); i += W()) rows.push_back(i);
  std::vector<Tensor> picked;
  for (auto i : rows) picked.push_back(x.select(0, i));
  return stack(picked, 0);
}

double max_abs_diff(const nn::Module& a, const nn::Module& b) {
  double d = 0;
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) d = std::max(d, max(abs(pa[i].second - pb[i].second)).item());
  return d;
}

nn::ModulePtr lenet(std::uint64_t seed) {
  manual_seed(seed);
  return models::create("lenet5", {.num_classes = 10, .in_channels = 1});
}

// One global batch of step `step`: the same on every rank.
std::pair<Tensor, Tensor> global_batch(std::int64_t step, std::int64_t n) {
  Generator g(1000 + static_cast<std::uint64_t>(step));
  Tensor x = randn({n, 1, 28, 28}, {}, g);
  Tensor y = (rand({n}, {}, g) * 10.0).to(DType::i64);
  return {x, y};
}

}  // namespace

TEST(ProcessGroup, RanksAndCollectives) {
  ASSERT_GE(W(), 1);
  ASSERT_LT(R(), W());
  EXPECT_EQ(dist::world_size() > 1, dist::is_initialized());
  const auto ranks = dist::all_gather(static_cast<std::uint64_t>(R()));
  ASSERT_EQ(ranks.size(), static_cast<std::size_t>(W()));
  for (int r = 0; r < W(); ++r) EXPECT_EQ(ranks[r], static_cast<std::uint64_t>(r));
  EXPECT_GE(dist::local_size(), 1);
  EXPECT_LT(dist::local_rank(), dist::local_size());

  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    Tensor t = full({5}, R() + 1.0, {.dtype = dt});
    dist::all_reduce(t);
    for (double v : t.to(DType::f64).to_vector<double>()) EXPECT_EQ(v, W() * (W() + 1) / 2.0) << dtype_name(dt);
    Tensor m = full({3}, static_cast<double>(R()), {.dtype = dt});
    dist::all_reduce(m, dist::ReduceOp::max);
    EXPECT_EQ(m.to(DType::f64).to_vector<double>()[0], W() - 1.0);
  }
  Tensor b = full({2, 2}, R() == W() - 1 ? 7.0 : -1.0);
  dist::broadcast(b, W() - 1);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{7, 7, 7, 7}));
  Tensor a = arange(0, 1000) * static_cast<double>(R() + 1);
  dist::Work w = dist::all_reduce_async(a);
  w.wait();
  EXPECT_FALSE(w.pending());
  EXPECT_EQ(a.to_vector<float>()[999], 999.0f * (W() * (W() + 1) / 2));
  dist::barrier();
  EXPECT_THROW(dist::broadcast(b, W()), Error);
  EXPECT_THROW(dist::all_reduce(zeros({4, 4}).t()), Error);  // not contiguous
}

// The test: N ranks at global batch 64 train LeNet-5 to the weights one process reaches
// on the whole batch, after 30 SGD-with-momentum steps.
TEST(DataParallel, SameWeightsAsOneProcessOnTheWholeBatch) {
  auto reference = lenet(7);
  auto replica = lenet(R() == 0 ? 7 : 99);  // other ranks start elsewhere: rank 0's weights are broadcast
  auto alone = lenet(7);                    // trains on this rank's share without the others
  dist::DataParallel ddp(replica);
  EXPECT_EQ(ddp.bucket_count() > 0, W() > 1);
  optim::SGD ref_opt(reference->parameters(), {.lr = 0.05, .momentum = 0.9});
  optim::SGD opt(replica->parameters(), {.lr = 0.05, .momentum = 0.9});
  optim::SGD alone_opt(alone->parameters(), {.lr = 0.05, .momentum = 0.9});
  for (std::int64_t step = 0; step < 30; ++step) {
    auto [x, y] = global_batch(step, 64);
    ref_opt.zero_grad();
    cross_entropy((*reference)(x), y).backward();
    ref_opt.step();
    opt.zero_grad();
    cross_entropy(ddp(share(x)), share(y)).backward();
    opt.step();
    alone_opt.zero_grad();
    cross_entropy((*alone)(share(x)), share(y)).backward();
    alone_opt.step();
  }
  const double diff = max_abs_diff(*reference, *replica);
  EXPECT_LT(diff, 1e-5);
  // what the test tells apart: training on the share alone ends far away
  if (W() > 1) {
    EXPECT_GT(max_abs_diff(*reference, *alone), 1000 * std::max(diff, 1e-6));
  }
}

// Buckets of a few kilobytes: many in flight at once, launched in order on every rank.
TEST(DataParallel, SmallBucketsGiveTheSameGradients) {
  auto reference = lenet(3);
  auto replica = lenet(3);
  dist::DataParallel ddp(replica, {.bucket_mb = 0.004});
  if (W() > 1) {
    EXPECT_GT(ddp.bucket_count(), 5u);
  }
  auto [x, y] = global_batch(0, 32);
  cross_entropy((*reference)(x), y).backward();
  cross_entropy(ddp(share(x)), share(y)).backward();
  const auto pr = reference->parameters(), pd = replica->parameters();
  for (std::size_t i = 0; i < pr.size(); ++i) EXPECT_LT(max(abs(pr[i].grad() - pd[i].grad())).item(), 1e-6) << i;
}

// Gradient accumulation: two micro-batches under no_sync, the third synchronised, give the sum
// of the three micro-batches' gradients of one process.
TEST(DataParallel, NoSyncAccumulatesLocally) {
  auto reference = lenet(5);
  auto replica = lenet(5);
  dist::DataParallel ddp(replica);
  for (std::int64_t k = 0; k < 3; ++k) {
    auto [x, y] = global_batch(10 + k, 16);
    cross_entropy((*reference)(x), y).backward();
    if (k < 2) {
      auto guard = ddp.no_sync();
      cross_entropy(ddp(share(x)), share(y)).backward();
    } else {
      cross_entropy(ddp(share(x)), share(y)).backward();
    }
  }
  const auto pr = reference->parameters(), pd = replica->parameters();
  for (std::size_t i = 0; i < pr.size(); ++i) EXPECT_LT(max(abs(pr[i].grad() - pd[i].grad())).item(), 1e-5) << i;
}

namespace {
// Uses its second layer only when asked: a parameter without a gradient must not stall the others.
class Branchy : public nn::Module {
 public:
  Branchy() : Module("Branchy") {
    a = register_module("a", nn::make<nn::Linear>({.in = 4, .out = 3}));
    b = register_module("b", nn::make<nn::Linear>({.in = 4, .out = 3}));
  }
  Tensor forward(const Tensor& x) override { return use_b ? (*b)(x) : (*a)(x); }
  std::shared_ptr<nn::Linear> a, b;
  bool use_b = false;
};
}  // namespace

TEST(DataParallel, UnusedParametersGetZeroGradients) {
  auto m = std::make_shared<Branchy>();
  dist::DataParallel ddp(m);
  Tensor x = full({2, 4}, 1.0 + R());
  sum(ddp(x)).backward();
  ASSERT_TRUE(m->a->weight.grad().defined());
  // the mean over the ranks of each rank's gradient: sum over rows of (1 + r)
  EXPECT_NEAR(m->a->weight.grad().to_vector<float>()[0], 2.0 * (W() + 1) / 2.0, 1e-6);
  if (W() > 1) {
    EXPECT_EQ(max(abs(m->b->weight.grad())).item(), 0.0);
  }
}

TEST(DataParallel, RanksWithDifferentModelsAreAnError) {
  if (W() == 1) GTEST_SKIP() << "needs two ranks";
  auto m = nn::make<nn::Linear>({.in = 4, .out = R() == 0 ? 3 : 5});
  try {
    dist::DataParallel ddp(m);
    FAIL() << "different models were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 1's model differs from rank 0's"), std::string::npos) << e.what();
  }
  dist::barrier();  // every rank failed at the same point: the job goes on
}

// Synchronised batch norm on this rank's share gives the whole batch's batch norm: outputs,
// input gradients, summed parameter gradients and running statistics.
TEST(SyncBatchNorm, EqualsBatchNormOnTheWholeBatch) {
  Generator g(7);
  const Tensor x_all = randn({8, 3, 5, 4}, {}, g) * 2.0 + 1.0;  // (N,C,H,W), mean far from 0
  const Tensor r_all = randn({8, 3, 5, 4}, {}, g);              // d loss / d y
  auto make = [] {
    auto bn = nn::make<nn::BatchNorm2d>({.features = 3});
    NoGradGuard ng;
    bn->weight.copy_(from_vector(std::vector<float>{0.5F, 1.5F, -1.0F}, {3}));
    bn->bias.copy_(from_vector(std::vector<float>{0.1F, -0.2F, 0.3F}, {3}));
    return bn;
  };
  auto whole = make();
  Tensor xw = x_all.clone();
  xw.requires_grad_();
  Tensor yw = (*whole)(xw);
  sum(yw * r_all).backward();

  auto part = make();
  EXPECT_EQ(dist::sync_batch_norm(*part), W() > 1 ? 1 : 0);
  EXPECT_EQ(part->synchronised(), W() > 1);
  Tensor xp = share(x_all);
  xp.requires_grad_();
  Tensor yp = (*part)(xp);
  sum(yp * share(r_all)).backward();

  EXPECT_LT(max(abs(yp - share(yw.detach()))).item(), 1e-5);
  EXPECT_LT(max(abs(xp.grad() - share(xw.grad()))).item(), 1e-5);
  for (Tensor nn::BatchNorm2d::*param : {&nn::BatchNorm2d::weight, &nn::BatchNorm2d::bias}) {
    Tensor gp = ((*part).*param).grad().clone();
    dist::all_reduce(gp);
    EXPECT_LT(max(abs(gp - ((*whole).*param).grad())).item(), 1e-4);
  }
  EXPECT_LT(max(abs(part->running_mean - whole->running_mean)).item(), 1e-6);
  EXPECT_LT(max(abs(part->running_var - whole->running_var)).item(), 1e-6);
  // evaluation uses the running statistics: the same on every rank, no collective
  part->eval();
  whole->eval();
  NoGradGuard ng;
  EXPECT_LT(max(abs((*part)(share(x_all)) - share((*whole)(x_all)))).item(), 1e-6);
}
