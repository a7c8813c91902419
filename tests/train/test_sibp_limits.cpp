// SIBP against its limits (ALGORITHMS.md §3.1) with every solver kind.
#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.hpp"
#include "train/backprop.hpp"
#include "train/update_rule.hpp"
#include "train/sibp.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {

struct LimitCase {
  Activation act;
  Loss loss;
};

Network<double> random_network(Activation act, Loss loss, std::uint64_t seed) {
  const NetworkSpec spec = NetworkSpec::mlp({6, 5, 4, 3}, act, loss);
  Rng rng(seed);
  Initializer init;
  init.std = 0.5;
  return Network<double>(spec, init, rng);
}

Batch<double> random_batch(Index m, std::uint64_t seed) {
  Rng rng(seed);
  Batch<double> b;
  b.X.resize(6, m);
  for (Index i = 0; i < b.X.size(); ++i) b.X.data()[i] = rng.normal();
  b.Y = Mat<double>::Zero(3, m);
  for (Index j = 0; j < m; ++j) b.Y(static_cast<Index>(rng.below(3)), j) = 1.0;
  return b;
}

using testing::relative_step_difference;

// The small-step limit, as the prox's first-order condition gives it: with η
// fixed and λ → ∞, one SIBP step with an exact (or exact Gauss–Newton) prox
// moves every parameter by −(η/λ)·∂(summed loss) + O((η/λ)²). The data term's
// gradient at W^k is 2η·∂W_l (§3.1), and the prox's step is that over 2λ.
// (The spec's "η → 0 with η/λ fixed" would send λ → 0, where the prox tends to
// a Gauss–Newton step, not to SGD; see the note on §3.1 in docs/ALGORITHMS.md.)
// So the relative difference from SGD with lr α = η/λ on the summed loss must
// shrink linearly with α.
TEST(SibpLimit, SmallStepEqualsSgdOnSummedLoss) {
  const std::vector<LimitCase> cases = {
      {Activation::ReLU, Loss::SoftmaxCrossEntropy},     {Activation::LeakyReLU, Loss::SoftmaxCrossEntropy},
      {Activation::Tanh, Loss::SquaredError},            {Activation::Sigmoid, Loss::SoftmaxCrossEntropy},
      {Activation::Identity, Loss::SquaredError},
  };
  const Index m = 8;
  // The O(α²) term is about α·‖FFᵀ‖/η relative to the step (the prox's
  // (I + FFᵀ/λ)^{-1} factor with λ = η/α), so a larger η keeps it small.
  const double eta = 1.0;
  for (const char* solver : {"exact:gn-exact", "exact:gn-cg"}) {
    for (const auto& c : cases) {
      const Network<double> start = random_network(c.act, c.loss, 11);
      const Batch<double> batch = random_batch(m, 12);
      double previous = 0;
      for (double alpha : {1e-3, 2.5e-4}) {
        const Network<double> sgd_net = testing::sgd_step_on_summed_loss(start, batch, alpha);

        Network<double> sibp_net = start;
        // Enough GN-CG iterations to solve the 7-unknown rows exactly.
        SibpOptions o = sibp::testing::sibp_options(eta, std::to_string(eta / alpha), solver, 20, "sequential", {}, "");
        Sibp<double> sibp(o, start.spec());
        const StepReport r = sibp.step(sibp_net, batch);
        ASSERT_TRUE(r.finite);
        const double rel = relative_step_difference(sibp_net, sgd_net, start);
        SCOPED_TRACE(std::string(solver) + " " + to_string(c.act) + " alpha " + std::to_string(alpha));
        // First-order agreement: the relative error is O(α) (measured ~30α here).
        EXPECT_LT(rel, 100 * alpha);
        // ... and it shrinks with α (by ~4 for a 4× smaller α; 2.5 leaves room
        // for the O(α²) terms).
        if (previous > 0) {
          EXPECT_LT(rel, previous / 2.5);
        }
        previous = rel;
      }
    }
  }
}

// A small network on generated data learns with every solver combination.
TEST(SibpLearns, EverySolverCombinationReducesTheLoss) {
  Rng rng(5);
  const Index n = 120;
  Batch<float> data;
  data.X.resize(4, n);
  data.Y = Mat<float>::Zero(3, n);
  for (Index j = 0; j < n; ++j) {
    const Index label = j % 3;
    for (Index k = 0; k < 4; ++k)
      data.X(k, j) = static_cast<float>((k % 3 == label ? 1.0 : 0.0) + 0.3 * rng.normal());
    data.Y(label, j) = 1.0f;
  }
  for (const char* solver : {"reference", "exact:reference", "exact:gn-cg", "exact:gn-exact", "gn-exact"}) {
    for (const char* update : {"sequential", "joint"}) {
      SCOPED_TRACE(std::string(solver) + " " + update);
      const NetworkSpec spec = NetworkSpec::mlp({4, 16, 3});
      Rng init_rng(1);
      Network<float> net(spec, Initializer{}, init_rng);
      Sibp<float> sibp(sibp::testing::sibp_options(0.5, "1", solver, 5, update, {}, ""), spec);
      Tape<float> tape;
      net.forward(data.X, tape);
      const double before = loss_sum<float>(net.loss(), tape.output(), data.Y) / n;
      for (int epoch = 0; epoch < 30; ++epoch)
        for (Index begin = 0; begin < n; begin += 20) {
          Batch<float> b;
          b.X = data.X.middleCols(begin, 20);
          b.Y = data.Y.middleCols(begin, 20);
          ASSERT_TRUE(sibp.step(net, b).finite);
        }
      net.forward(data.X, tape);
      const double after = loss_sum<float>(net.loss(), tape.output(), data.Y) / n;
      EXPECT_LT(after, 0.3 * before) << "before " << before << " after " << after;
      EXPECT_GT(static_cast<double>(count_correct<float>(tape.output(), data.Y)) / n, 0.9);
    }
  }
}

}  // namespace
}  // namespace sibp
