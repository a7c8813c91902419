// SIBP on convolutional networks (ALGORITHMS.md §5): the properties of §3.1
// for convolution layers, whose proximal subproblem is §3's with the patch
// matrix P (im2col of the layer's input) in place of F_{l-1}, summed over all
// n = m·H'·W' sample-positions. Every objective here is computed by the test
// itself from its definition,
//     φ(W, b) = ‖σ(W P + b 1ᵀ) − T‖² + λ‖W − W^k‖² + λ‖b − b^k‖²,
// not by the library's prox_objective.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_support.hpp"

#include "core/error.hpp"
#include "core/rng.hpp"
#include "train/backprop.hpp"
#include "train/update_rule.hpp"
#include "train/prox_fast.hpp"
#include "train/prox_reference.hpp"
#include "train/sibp.hpp"
#include "sibp_fixed_point.hpp"

namespace sibp {
namespace {

using testing::random_normal;
using testing::mean_loss;
using testing::relative_step_difference;
using testing::spec_of;

const Activation kActivations[] = {Activation::ReLU, Activation::LeakyReLU, Activation::Tanh, Activation::Sigmoid,
                                   Activation::Identity};

std::string word(Activation a) { return a == Activation::LeakyReLU ? "leaky_relu" : to_string(a); }

Batch<double> random_batch(Index d0, Index classes, Index m, Rng& rng, Loss loss = Loss::SoftmaxCrossEntropy) {
  Batch<double> b;
  b.X = random_normal(d0, m, rng);
  if (loss == Loss::SquaredError) {
    b.Y = random_normal(classes, m, rng);
    return b;
  }
  b.Y = Mat<double>::Zero(classes, m);
  for (Index j = 0; j < m; ++j) b.Y(static_cast<Index>(rng.below(static_cast<std::uint64_t>(classes))), j) = 1;
  return b;
}

/// φ of §3.3 at (W, b), from its definition.
double phi(Activation act, const Mat<double>& P, const Mat<double>& T, const Mat<double>& W, const Vec<double>& b,
           const Mat<double>& Wk, const Vec<double>& bk, double lambda) {
  Mat<double> G = W * P;
  G.colwise() += b;
  Mat<double> S(G.rows(), G.cols());
  activate<double>(act, G, S);
  return (S - T).squaredNorm() + lambda * ((W - Wk).squaredNorm() + (b - bk).squaredNorm());
}

/// A convolution layer's subproblem taken from a real forward pass: 2 input
/// channels, stride 2, padding 1, so P has zero rows at the border; target
/// T = F − η R with R random (R plays ∇ℓ's part).
struct ConvProblem {
  Network<double> net;
  Tape<double> tape;
  Mat<double> target;
  std::unique_ptr<LayerInput<double>> input;  // the patch matrix P of the forward pass
  ProxProblem<double> problem;
  double lambda;

  ConvProblem(Activation act, std::uint64_t seed, double lambda_ = 0.7, Index m = 3)
      : net(spec_of("conv(4,3,stride=2,pad=1) " + word(act) + " flatten dense(2)", "2x7x7")), lambda(lambda_) {
    Rng rng(seed);
    for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
      net.params(i).W = random_normal(net.params(i).W.rows(), net.params(i).W.cols(), rng, 0.4);
      net.params(i).b = random_normal(net.params(i).b.size(), 1, rng, 0.4);
    }
    net.forward(random_normal(98, m, rng), tape);
    const LayerRecord<double>& rec = tape.layers[0];
    target = rec.F - 0.5 * random_normal(rec.F.rows(), rec.F.cols(), rng);
    if (act == Activation::Sigmoid) target = target.array().max(0.01).min(0.99).matrix();
    input = net.layer(0).input_operator(tape.input, rec);
    problem.input = input.get();
    problem.G = &rec.G;
    problem.target = &target;
    problem.act = act;
    problem.lambda = lambda;
    problem.is_output_layer = false;
  }
  const Mat<double>& P() const { return tape.layers[0].P; }
  const Params<double>& start() const { return net.params(0); }
  double objective(const Mat<double>& W, const Vec<double>& b) const {
    return phi(problem.act, P(), target, W, b, start().W, start().b, lambda);
  }
};

struct SolverCase {
  std::string name;
  SolverKind kind;
  UpdateMode mode;
};

std::vector<SolverCase> solver_cases() {
  return {{"reference sequential", SolverKind::Reference, UpdateMode::Sequential},
          {"reference joint", SolverKind::Reference, UpdateMode::Joint},
          {"gn-cg", SolverKind::GnCg, UpdateMode::Sequential},
          {"gn-exact", SolverKind::GnExact, UpdateMode::Sequential},
          {"exact sequential", SolverKind::Exact, UpdateMode::Sequential},
          {"exact joint", SolverKind::Exact, UpdateMode::Joint}};
}

// ------------------------------------------------------------------ targets

TEST(SibpConv, TargetsPropagateThroughPoolingAndTheUpdatedKernels) {
  // §5: T_L = F_L − η∇ℓ per sample; below a parametrised layer,
  // D ← adjoint of (σ'(G^k) ⊙ D) through the layer's UPDATED kernel (col2im of
  // K̄^{k+1}ᵀ(σ' ⊙ D) for a convolution); a pooling or flatten layer passes D
  // through its adjoint (max pooling to the forward arg-max); T = F − ηD at every
  // parametrised layer. Walked here with the new network's layers over the old
  // forward tape. 1e-12 relative: the same products in the same order, up to
  // how Eigen blocks them.
  const NetworkSpec spec =
      spec_of("conv(3,3,pad=1) tanh maxpool(2) conv(2,2,stride=2) relu avgpool(1) flatten dense(4) sigmoid dense(3)",
              "2x8x8");
  Rng rng(81);
  Network<double> net(spec, Initializer::parse("normal:0.4"), rng);
  const Network<double> before = net;
  const Batch<double> batch = random_batch(spec.input_size(), 3, 5, rng);
  const double eta = 0.7;
  Sibp<double> sibp(sibp::testing::sibp_options(eta, "0.5", "exact:gn-cg", 5, "sequential", {}, ""), spec);
  ASSERT_TRUE(sibp.step(net, batch).finite);
  const std::vector<Mat<double>>& targets = sibp.last_targets();
  ASSERT_EQ(targets.size(), 4u);

  Tape<double> tape;
  before.forward(batch.X, tape);
  Mat<double> D, below, work;
  loss_sum<double>(before.loss(), tape.output(), batch.Y, &D);  // per sample, not / m
  std::size_t i = net.num_param_layers();
  for (std::size_t k = net.num_layers(); k-- > 0;) {
    const LayerRecord<double>& rec = tape.layers[k];
    if (net.layer(k).params()) {
      --i;
      const Mat<double> expected = rec.F - eta * D;
      EXPECT_LE((targets[i] - expected).norm() / expected.norm(), 1e-12) << "parametrised layer " << i;
      EXPECT_GT((net.params(i).W - before.params(i).W).norm(), 0) << "parametrised layer " << i << " did not move";
      if (i == 0) break;
      Mat<double> S(D.rows(), D.cols());
      activation_derivative<double>(net.activation(i), rec.G, rec.F, S);
      D = D.cwiseProduct(S).eval();
    }
    net.layer(k).backward_input(rec, D, 5, below, work);  // the new W for dense/conv layers
    D.swap(below);
  }
  EXPECT_EQ(i, 0u);
}

// --------------------------------------------------- objective never increases

TEST(SibpConvSolvers, SubproblemObjectiveNeverIncreases) {
  // Every solver on a convolution's subproblem (n = 3·4·4 = 48 sample-positions,
  // 2·3·3 = 18 patch rows), every activation; `exact` on the linear layer only.
  // Tolerance 1e-12 relative: φ is a sum of ~200 squares in double.
  for (Activation act : kActivations) {
    for (const SolverCase& sc : solver_cases()) {
      if (sc.kind == SolverKind::Exact && act != Activation::Identity) continue;
      for (std::uint64_t seed : {1, 2, 3}) {
        SCOPED_TRACE(to_string(act) + " " + sc.name + " seed " + std::to_string(seed));
        const ConvProblem cp(act, seed);
        SolverOptions so;
        so.mode = sc.mode;
        so.iters = 5;
        auto solver = make_prox_solver<double>(sc.kind, so);
        Mat<double> W = cp.start().W;
        Vec<double> b = cp.start().b;
        LayerDiagnostics diag;
        solver->solve(cp.problem, W, b, &diag);
        const double before = cp.objective(cp.start().W, cp.start().b);
        const double after = cp.objective(W, b);
        EXPECT_LE(after, before * (1 + 1e-12));
        EXPECT_LT(after, 0.999 * before) << "the solver made no progress from a random start";
        EXPECT_NEAR(diag.objective_before, before, 1e-10 * before);
        EXPECT_NEAR(diag.objective_after, after, 1e-10 * before);
      }
    }
  }
}

TEST(SibpConvSolvers, EveryLayerOfACnnStepDecreasesItsSubproblem) {
  // One whole SIBP step on a CNN (two convolutions, max and average pooling,
  // flatten, two dense layers): for every parametrised layer, φ with the
  // step's own target T_l and the layer's forward input P_l at (W^k, b^k), at the
  // new parameters, is not above φ at the old ones.
  const std::string arch =
      "conv(3,3,pad=1) tanh maxpool(2) conv(4,2,stride=2) relu avgpool(2,stride=1) dense(5) sigmoid dense(3)";
  for (const char* solver : {"reference", "exact:gn-cg", "exact:reference", "gn-cg"}) {
    for (const char* update : {"sequential", "joint"}) {
      SCOPED_TRACE(std::string(solver) + " " + update);
      const NetworkSpec spec = spec_of(arch, "2x8x8");
      Rng rng(31);
      Network<double> net(spec, Initializer::parse("normal:0.4"), rng);
      const Network<double> before = net;
      const Batch<double> batch = random_batch(spec.input_size(), 3, 4, rng);
      Sibp<double> sibp(sibp::testing::sibp_options(0.5, "0.5", solver, 5, update, {}, ""), spec);
      sibp.set_diagnostics(true);
      const StepReport r = sibp.step(net, batch);
      ASSERT_TRUE(r.finite);
      ASSERT_EQ(r.layers.size(), 4u);
      Tape<double> tape;
      before.forward(batch.X, tape);
      for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
        const std::size_t k = net.layer_index(i);
        Mat<double> scratch;
        const Mat<double> P = before.layer(k).input_operator(tape.input_of(k), tape.layers[k])->matrix_or(scratch);
        const Mat<double>& T = sibp.last_targets()[i];
        ASSERT_EQ(T.rows(), tape.layers[k].G.rows()) << "layer " << i;
        ASSERT_EQ(T.cols(), tape.layers[k].G.cols()) << "layer " << i;
        const Activation act = net.activation(i);
        const double old_phi = phi(act, P, T, before.params(i).W, before.params(i).b, before.params(i).W,
                                   before.params(i).b, 0.5);
        const double new_phi =
            phi(act, P, T, net.params(i).W, net.params(i).b, before.params(i).W, before.params(i).b, 0.5);
        EXPECT_LE(new_phi, old_phi * (1 + 1e-12)) << "layer " << i;
        EXPECT_NEAR(r.layers[i].objective_after, new_phi, 1e-10 * old_phi) << "layer " << i;
        EXPECT_NEAR(r.layers[i].objective_before, old_phi, 1e-10 * old_phi) << "layer " << i;
      }
    }
  }
}

// ------------------------------------------------------------ prox optimality

TEST(SibpConvSolvers, ExactSolveOfALinearConvolutionIsOptimal) {
  // The exact solver on a linear convolution (n = 48 > d = 19: the d×d system).
  // Joint: ∇φ = 2(θP̃ − T)P̃ᵀ + 2λ(θ − θ^k) vanishes. Sequential (the authors'
  // order): the W block is optimal with b = b^k held, then the b block with the
  // new W held. Relative to the size of the gradient's terms, 1e-11 is round-off
  // of a Cholesky solve with condition number below 1 + ‖P̃‖²/λ ≈ 10³.
  for (double lambda : {0.1, 2.0}) {
    for (std::uint64_t seed : {4, 5}) {
      SCOPED_TRACE("lambda " + std::to_string(lambda) + " seed " + std::to_string(seed));
      const ConvProblem cp(Activation::Identity, seed, lambda);
      const Mat<double>& P = cp.P();
      const Mat<double>& T = cp.target;
      const Mat<double>& Wk = cp.start().W;
      const Vec<double>& bk = cp.start().b;
      const double scale = 2 * (T * P.transpose()).norm() + 2 * lambda * Wk.norm() + 2 * T.rowwise().sum().norm() +
                           2 * lambda * bk.norm();
      auto residual = [&](const Mat<double>& W, const Vec<double>& b) {
        Mat<double> R = W * P - T;
        R.colwise() += b;
        return R;
      };
      {
        ExactLinearSolver<double> joint({/*joint=*/true, RidgeMethod::Auto});
        Mat<double> W = Wk;
        Vec<double> b = bk;
        joint.solve(cp.problem, W, b, nullptr);
        const Mat<double> R = residual(W, b);
        const Mat<double> gW = 2 * R * P.transpose() + 2 * lambda * (W - Wk);
        const Vec<double> gb = 2 * R.rowwise().sum() + 2 * lambda * (b - bk);
        EXPECT_LE(std::sqrt(gW.squaredNorm() + gb.squaredNorm()) / scale, 1e-11) << "joint";
        EXPECT_GT((W - Wk).norm(), 1e-3) << "the solve must move";
      }
      {
        ExactLinearSolver<double> sequential({/*joint=*/false, RidgeMethod::Auto});
        Mat<double> W = Wk;
        Vec<double> b = bk;
        sequential.solve(cp.problem, W, b, nullptr);
        const Mat<double> gW = 2 * residual(W, bk) * P.transpose() + 2 * lambda * (W - Wk);
        EXPECT_LE(gW.norm() / scale, 1e-11) << "sequential: W block with b^k held";
        const Vec<double> gb = 2 * residual(W, b).rowwise().sum() + 2 * lambda * (b - bk);
        EXPECT_LE(gb.norm() / scale, 1e-11) << "sequential: b block with the new W held";
      }
    }
  }
}

// --------------------------------------------------------- small-step limit

TEST(SibpConvLimit, SmallStepEqualsSgdOnSummedLoss) {
  // §3.1 on a CNN: with η fixed and λ → ∞ (α = η/λ → 0) one SIBP step with an
  // exact (or exact Gauss–Newton) prox equals SGD with lr α on the summed loss,
  // up to O(α) relative. For a convolution the data term's gradient at W^k is
  // 2η(σ'⊙D)Pᵀ — the summed loss's ∂K̄ (§5) times 2η — so the same limit holds
  // with P for F. The O(α²) term is about α‖P̃P̃ᵀ‖/η relative to the step, and a
  // convolution's P̃P̃ᵀ sums over all n = m·H'·W' sample-positions, so the
  // constant is larger than for a dense layer.
  const Index m = 4;
  const double eta = 1.0;
  for (const char* solver : {"exact:gn-cg"}) {
    for (Activation act : kActivations) {
      const Loss loss = act == Activation::Tanh || act == Activation::Identity ? Loss::SquaredError
                                                                               : Loss::SoftmaxCrossEntropy;
      const NetworkSpec spec = spec_of("conv(3,3,stride=2,pad=1) " + word(act) + " maxpool(2,stride=1) dense(5) " +
                                           word(act) + " dense(3)",
                                       "2x7x7", loss);
      Rng rng(41);
      const Network<double> start(spec, Initializer::parse("normal:0.4"), rng);
      const Batch<double> batch = random_batch(spec.input_size(), 3, m, rng, loss);
      double previous = 0;
      for (double alpha : {1e-3, 2.5e-4}) {
        SCOPED_TRACE(std::string(solver) + " " + to_string(act) + " alpha " + std::to_string(alpha));
        const Network<double> sgd_net = testing::sgd_step_on_summed_loss(start, batch, alpha);

        Network<double> sibp_net = start;
        // Enough Gauss–Newton CG steps to solve the rows exactly (19 unknowns
        // per conv row, 28 per dense(5) row).
        const SibpOptions o = sibp::testing::sibp_options(eta, std::to_string(eta / alpha), solver, 40, "sequential", {}, "");
        Sibp<double> sibp(o, spec);
        ASSERT_TRUE(sibp.step(sibp_net, batch).finite);
        const double rel = relative_step_difference(sibp_net, sgd_net, start);
        // First-order agreement: O(α) relative error (measured from 9α with
        // sigmoid to 122α with the linear network here; 200α leaves room).
        EXPECT_LT(rel, 200 * alpha);
        // ... shrinking linearly: by ~4 for a 4× smaller α (2.5 leaves room for O(α²)).
        if (previous > 0) {
          EXPECT_LT(rel, previous / 2.5);
        }
        previous = rel;
      }
    }
  }
}

// ------------------------------------------------------- learning on a CNN

TEST(SibpConv, OneStepReducesTheBatchLoss) {
  // η = 0.5 and λ = 1 per layer, the authors' values for dense networks: one
  // step on a batch lowers that batch's mean loss, with every solver.
  const std::string arch = "conv(4,3,pad=1) relu maxpool(2) conv(4,3) tanh flatten dense(8) relu dense(3)";
  const NetworkSpec spec = spec_of(arch, "1x8x8");
  for (const char* solver : {"reference", "exact:gn-cg", "exact:reference"}) {
    SCOPED_TRACE(solver);
    Rng rng(51);
    Network<double> net(spec, Initializer::parse("normal:0.3"), rng);
    const Batch<double> batch = random_batch(spec.input_size(), 3, 16, rng);
    const double before = mean_loss(net, batch.X, batch.Y);
    Sibp<double> sibp(sibp::testing::sibp_options(0.5, "1", solver, 5, "sequential", {}, ""), spec);
    const StepReport r = sibp.step(net, batch);
    ASSERT_TRUE(r.finite);
    EXPECT_NEAR(r.loss, before, 1e-14 * before);
    const double after = mean_loss(net, batch.X, batch.Y);
    EXPECT_LT(after, 0.98 * before) << "before " << before << " after " << after;
  }
}

TEST(SibpConv, GnExactIsRefusedOnConvolutions) {
  // Its per-unit matrices are (batch × output pixels)²: 1.5 GB for the MNIST
  // CNN's second layer at batch 100. Refused when the algorithm is built.
  const NetworkSpec spec = spec_of("conv(3,3,pad=1) relu maxpool(2) dense(3)", "1x6x6");
  try {
    Sibp<double>(sibp::testing::sibp_options(0.5, "1", "exact:gn-exact", 5, "sequential"), spec);
    FAIL() << "gn-exact accepted on a convolution";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "solver");
    EXPECT_NE(std::string(e.what()).find("conv(3,3,pad=1)"), std::string::npos) << e.what();
  }
}

TEST(SibpConv, FloatStepAgreesWithDouble) {
  // The float instantiation walks the same layers: one step from the same start
  // moves the parameters to within float rounding of the double step (6e-8
  // amplified by the conditioning of the Gauss–Newton systems, ~10³ here:
  // measured 4e-6 relative); 1e-4 catches any real difference.
  const NetworkSpec spec = spec_of("conv(3,3,pad=1) tanh avgpool(2) dense(3)", "2x6x6");
  Rng rng(61);
  const Network<double> start(spec, Initializer::parse("normal:0.4"), rng);
  const Batch<double> batch = random_batch(spec.input_size(), 3, 5, rng);
  const SibpOptions o = sibp::testing::sibp_options(0.5, "1", "exact:gn-cg", 5, "sequential", {}, "");
  Network<double> d = start;
  Sibp<double>(o, spec).step(d, batch);
  Network<float> f = start.cast<float>();
  Batch<float> bf{batch.X.cast<float>(), batch.Y.cast<float>()};
  Sibp<float>(o, spec).step(f, bf);
  for (std::size_t i = 0; i < spec.num_param_layers(); ++i) {
    const Mat<double> step_d = d.params(i).W - start.params(i).W;
    const Mat<double> step_f = f.params(i).W.cast<double>() - start.params(i).W;
    EXPECT_LE((step_f - step_d).norm() / step_d.norm(), 1e-4) << "layer " << i;
  }
}

TEST(SibpConv, FixedPointIsStationary) {
  // The paper's theorem on a CNN: iterate SIBP on a tiny full batch until it stops
  // moving; the loss gradient then vanishes. Tanh convolution, squared error on
  // random targets (a finite minimum); η = 0.1 as in the dense test.
  const NetworkSpec spec = spec_of("conv(2,2) tanh avgpool(2,stride=1) dense(2)", "1x4x4", Loss::SquaredError);
  Rng rng(71);
  Network<double> net(spec, Initializer::parse("normal:0.5"), rng);
  const Batch<double> batch = random_batch(spec.input_size(), 2, 10, rng, Loss::SquaredError);
  testing::expect_fixed_point_is_stationary(net, spec, batch, 0.1);
}

TEST(SibpConv, RejectsANetworkItWasNotBuiltFor) {
  const NetworkSpec a = spec_of("conv(2,3) relu dense(3)", "1x5x5");
  const NetworkSpec b = spec_of("conv(2,3) relu dense(3)", "1x6x6");
  Sibp<double> sibp(SibpOptions{}, a);
  Network<double> net(b);
  Rng rng(1);
  EXPECT_THROW(sibp.step(net, random_batch(36, 3, 2, rng)), std::invalid_argument);
  // `exact` on the hidden ReLU convolution is refused at construction, naming the layer.
  SibpOptions exact;
  exact.solver = parse_solver_spec("exact");
  try {
    Sibp<double> s(exact, a);
    ADD_FAILURE() << "exact on a ReLU convolution accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sibp
