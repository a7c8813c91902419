// Back propagation (ALGORITHMS.md §2) against central finite differences of
// the batch-mean loss, for every activation and both losses, in double.
#include <gtest/gtest.h>

#include "test_support.hpp"

#include <cmath>

#include "core/rng.hpp"
#include "nn/network.hpp"
#include "train/backprop.hpp"
#include "train/update_rule.hpp"

namespace sibp {
namespace {

using testing::spec_of;

double mean_loss(const Network<double>& net, const Mat<double>& X, const Mat<double>& Y) {
  Tape<double> work;
  return loss_sum<double>(net.loss(), net.predict(X, work), Y) / static_cast<double>(X.cols());
}

Batch<double> random_batch(Index d0, Index C, Index m, Loss loss, Rng& rng) {
  Batch<double> batch;
  batch.X.resize(d0, m);
  for (Index i = 0; i < batch.X.size(); ++i) batch.X.data()[i] = rng.normal();
  batch.Y = Mat<double>::Zero(C, m);
  for (Index j = 0; j < m; ++j) {
    if (loss == Loss::SoftmaxCrossEntropy)
      batch.Y(static_cast<Index>(rng.below(static_cast<std::uint64_t>(C))), j) = 1;
    else
      for (Index c = 0; c < C; ++c) batch.Y(c, j) = rng.normal();
  }
  return batch;
}

// Smallest |G| over the hidden pre-activations: (leaky) ReLU's kink must be
// farther than any finite-difference perturbation can move a pre-activation.
double min_abs_hidden_preactivation(const Network<double>& net, const Mat<double>& X) {
  Tape<double> tape;
  net.forward(X, tape);
  double smallest = INFINITY;
  for (std::size_t i = 0; i + 1 < net.num_param_layers(); ++i)
    smallest = std::min(smallest, tape.layers[net.layer_index(i)].G.cwiseAbs().minCoeff());
  return smallest;
}

struct GradCase {
  Activation act;
  Loss loss;
};

class BackpropGradientCheck : public ::testing::TestWithParam<GradCase> {};

TEST_P(BackpropGradientCheck, MatchesCentralDifferences) {
  const GradCase c = GetParam();
  // h = 1e-5: truncation error O(h²)·|ℓ'''| ≈ 1e-10 and rounding
  // ≈ 1e-16·|ℓ|/h ≈ 1e-11, both far below the 1e-6 relative-error bound
  // (mlpack's ‖g−ĝ‖/‖g+ĝ‖), while any wrong term gives O(1e-2) or more.
  const double h = 1e-5;
  const Index m = 7;
  Rng rng(1000 + static_cast<int>(c.act) * 10 + static_cast<int>(c.loss));
  Network<double> net;
  Batch<double> batch;
  // Redraw until no ReLU pre-activation is within 1e-3 of its kink: a weight
  // perturbation of h changes G by at most h·|F| ≈ 1e-5·3.
  for (int attempt = 0;; ++attempt) {
    ASSERT_LT(attempt, 100) << "could not draw a network away from the ReLU kink";
    net = Network<double>(spec_of({5, 4, 3, 3}, c.act, c.loss), Initializer::parse("normal:0.8"), rng);
    batch = random_batch(5, 3, m, c.loss, rng);
    if (min_abs_hidden_preactivation(net, batch.X) > 1e-3) break;
  }

  Tape<double> tape;
  Gradients<double> grads;
  BackpropWork<double> work;
  net.forward(batch.X, tape);
  const double loss = backprop_gradients<double>(net, tape, batch.Y, grads, work);
  EXPECT_NEAR(loss, mean_loss(net, batch.X, batch.Y), 1e-14);

  double diff2 = 0, sum2 = 0;
  auto check = [&](double& p, double analytic) {
    const double saved = p;
    p = saved + h;
    const double up = mean_loss(net, batch.X, batch.Y);
    p = saved - h;
    const double down = mean_loss(net, batch.X, batch.Y);
    p = saved;
    const double numeric = (up - down) / (2 * h);
    diff2 += (analytic - numeric) * (analytic - numeric);
    sum2 += (analytic + numeric) * (analytic + numeric);
  };
  for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
    auto& W = net.params(l).W;
    auto& b = net.params(l).b;
    for (Index i = 0; i < W.size(); ++i) check(W.data()[i], grads.dW[l].data()[i]);
    for (Index i = 0; i < b.size(); ++i) check(b.data()[i], grads.db[l].data()[i]);
  }
  ASSERT_GT(sum2, 0);
  EXPECT_LE(std::sqrt(diff2 / sum2), 1e-6) << to_string(c.act) << " / " << to_string(c.loss);
}

INSTANTIATE_TEST_SUITE_P(
    AllActivationsAndLosses, BackpropGradientCheck,
    ::testing::Values(GradCase{Activation::ReLU, Loss::SoftmaxCrossEntropy},
                      GradCase{Activation::ReLU, Loss::SquaredError},
                      GradCase{Activation::LeakyReLU, Loss::SoftmaxCrossEntropy},
                      GradCase{Activation::LeakyReLU, Loss::SquaredError},
                      GradCase{Activation::Tanh, Loss::SoftmaxCrossEntropy},
                      GradCase{Activation::Tanh, Loss::SquaredError},
                      GradCase{Activation::Sigmoid, Loss::SoftmaxCrossEntropy},
                      GradCase{Activation::Sigmoid, Loss::SquaredError},
                      GradCase{Activation::Identity, Loss::SoftmaxCrossEntropy},
                      GradCase{Activation::Identity, Loss::SquaredError}),
    [](const ::testing::TestParamInfo<GradCase>& info) {
      std::string name = to_string(info.param.act) + "_" + to_string(info.param.loss);
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

TEST(Backprop, ExactGradientOfOneLinearUnit) {
  // 1-1 identity network, squared error, m = 2: G = w x + b.
  // x = (1, 2), y = (0, 0), w = 1, b = 0 → residuals (1, 2);
  // ∂w = mean(r x) = (1 + 4)/2 = 2.5, ∂b = mean(r) = 1.5, loss = (½ + 2)/2 = 1.25.
  NetworkSpec s = spec_of({1, 1}, Activation::ReLU, Loss::SquaredError);
  Network<double> net(s);
  net.params(0).W(0, 0) = 1;
  Mat<double> X(1, 2), Y = Mat<double>::Zero(1, 2);
  X << 1, 2;
  Tape<double> tape;
  Gradients<double> grads;
  BackpropWork<double> work;
  net.forward(X, tape);
  EXPECT_EQ(backprop_gradients<double>(net, tape, Y, grads, work), 1.25);
  EXPECT_EQ(grads.dW[0](0, 0), 2.5);
  EXPECT_EQ(grads.db[0](0), 1.5);
  EXPECT_EQ(grads.norm(), std::sqrt(2.5 * 2.5 + 1.5 * 1.5));
}

TEST(Backprop, DeadReluUnitGetsZeroGradient) {
  // A hidden unit whose pre-activation is negative for every sample passes
  // no gradient (σ' = 0), so its incoming weights' gradient is exactly 0.
  Rng rng(2);
  Network<double> net(spec_of({3, 2, 2}, Activation::ReLU, Loss::SoftmaxCrossEntropy),
                      Initializer::parse("normal:0.5"), rng);
  net.params(0).W.row(1).setZero();
  net.params(0).b(1) = -1;
  Batch<double> batch = random_batch(3, 2, 5, Loss::SoftmaxCrossEntropy, rng);
  Tape<double> tape;
  Gradients<double> grads;
  BackpropWork<double> work;
  net.forward(batch.X, tape);
  backprop_gradients<double>(net, tape, batch.Y, grads, work);
  EXPECT_EQ(grads.dW[0].row(1).norm(), 0.0);
  EXPECT_EQ(grads.db[0](1), 0.0);
  EXPECT_EQ(grads.dW[1].col(1).norm(), 0.0);  // its output F is 0
}

TEST(Backprop, FloatGradientAgreesWithDouble) {
  // The float path must compute the same thing: float rounding (6e-8) over
  // sums of ~10 terms gives ~1e-6 relative; 1e-4 catches any real difference.
  Rng rng(4);
  Network<double> net(spec_of({6, 5, 3}, Activation::Tanh, Loss::SoftmaxCrossEntropy),
                      Initializer::parse("normal:0.5"), rng);
  Batch<double> batch = random_batch(6, 3, 9, Loss::SoftmaxCrossEntropy, rng);
  Tape<double> tape;
  Gradients<double> gd;
  BackpropWork<double> work;
  net.forward(batch.X, tape);
  backprop_gradients<double>(net, tape, batch.Y, gd, work);

  Network<float> netf = net.cast<float>();
  Tape<float> tapef;
  Gradients<float> gf;
  BackpropWork<float> workf;
  netf.forward(batch.X.cast<float>(), tapef);
  backprop_gradients<float>(netf, tapef, batch.Y.cast<float>(), gf, workf);
  for (std::size_t l = 0; l < 2; ++l) {
    EXPECT_LE((gf.dW[l].cast<double>() - gd.dW[l]).norm() / gd.dW[l].norm(), 1e-4);
    EXPECT_LE((gf.db[l].cast<double>() - gd.db[l]).norm() / gd.db[l].norm(), 1e-4);
  }
}

TEST(Backprop, StepIsSgdOnTheReturnedGradient) {
  // BackProp::step = forward + backprop_gradients + UpdateRule: p ← p − lr·g
  // exactly (one multiply-subtract per entry, no other rounding).
  Rng rng(8);
  Network<double> net(spec_of({4, 3, 2}, Activation::Sigmoid, Loss::SquaredError),
                      Initializer::parse("normal:0.5"), rng);
  const Network<double> before = net;
  Batch<double> batch = random_batch(4, 2, 6, Loss::SquaredError, rng);
  UpdateOptions o;
  o.lr = 0.25;
  BackProp<double> algo(o);
  const StepReport r = algo.step(net, batch);
  EXPECT_TRUE(r.finite);
  EXPECT_EQ(r.loss, mean_loss(before, batch.X, batch.Y));
  EXPECT_EQ(algo.name(), "sgd");
  for (std::size_t l = 0; l < 2; ++l) {
    const Mat<double> expectedW = before.params(l).W - 0.25 * algo.last_gradients().dW[l];
    EXPECT_EQ(net.params(l).W, expectedW);
  }
}

TEST(Backprop, NonFiniteLossIsReportedAndParametersUntouched) {
  Network<double> net(spec_of({1, 1}, Activation::ReLU, Loss::SquaredError));
  net.params(0).W(0, 0) = 1;
  Batch<double> batch;
  batch.X = (Mat<double>(1, 1) << INFINITY).finished();
  batch.Y = Mat<double>::Zero(1, 1);
  BackProp<double> algo(UpdateOptions{});
  const StepReport r = algo.step(net, batch);
  EXPECT_FALSE(r.finite);
  EXPECT_EQ(net.params(0).W(0, 0), 1.0);
}

}  // namespace
}  // namespace sibp
