// ProxProp (ALGORITHMS.md §4; Frerix et al., ICLR 2018). The expected values
// here are computed by the tests themselves from the literal §4 problem in the
// unknown θ = [W b] with target G_l − δ_l, whereas the implementation solves
// the shifted problem in D = θ^k − θ (see src/train/proxprop.hpp), so
// agreement checks that rewrite too.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "nn/activation.hpp"
#include "nn/loss.hpp"
#include "nn/network.hpp"
#include "train/backprop.hpp"
#include "train/proxprop.hpp"
#include "expect_error.hpp"
#include "golden_json.hpp"
#include "test_support.hpp"
#include "typed_scalars.hpp"

namespace sibp {
namespace {

using testing::random_normal;
using nlohmann::json;

NetworkSpec spec_of(std::vector<Index> widths, Activation hidden = Activation::ReLU) {
  return NetworkSpec::mlp(widths, hidden);
}

template <typename T>
Network<T> random_network(const NetworkSpec& spec, std::uint64_t seed, double scale = 0.5) {
  Network<double> net(spec);
  Rng rng(seed);
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    Params<double>& layer = net.params(i);
    layer.W = random_normal(layer.W.rows(), layer.W.cols(), rng, scale);
    layer.b = random_normal(layer.b.size(), 1, rng, scale);
  }
  return net.template cast<T>();
}

template <typename T>
Batch<T> random_batch(Index d0, Index classes, Index m, std::uint64_t seed) {
  Rng rng(seed);
  Batch<double> b;
  b.X = random_normal(d0, m, rng);
  b.Y = Mat<double>::Zero(classes, m);
  for (Index j = 0; j < m; ++j) b.Y(static_cast<Index>(rng.below(classes)), j) = 1.0;
  Batch<T> out;
  out.X = b.X.cast<T>();
  out.Y = b.Y.cast<T>();
  return out;
}

// Forward values and δ_l = ∂(mean loss)/∂G_l of every layer, written out
// independently of the library's back propagation walk (dense layers only).
struct Backward {
  Tape<double> tape;
  std::vector<Mat<double>> delta;  // delta[l], l = 1..L
  // F[l] (l = 0..L) and G[l] (l = 1..L) in the notation of §1.
  const Mat<double>& F(std::size_t l) const { return tape.input_of(l); }
  const Mat<double>& G(std::size_t l) const { return tape.layers[l - 1].G; }
};

Backward mean_loss_deltas(const Network<double>& net, const Batch<double>& batch) {
  Backward out;
  net.forward(batch.X, out.tape);
  const std::size_t L = net.num_param_layers();
  const double m = static_cast<double>(batch.size());
  out.delta.resize(L + 1);
  Mat<double> D;
  loss_sum<double>(net.loss(), out.F(L), batch.Y, &D);
  Mat<double> upstream = D / m;  // ∂(mean loss)/∂F_L
  for (std::size_t l = L; l >= 1; --l) {
    Mat<double> S(upstream.rows(), upstream.cols());
    activation_derivative<double>(net.activation(l - 1), out.G(l), out.F(l), S);
    out.delta[l] = upstream.cwiseProduct(S);
    upstream = net.params(l - 1).W.transpose() * out.delta[l];
  }
  return out;
}

Mat<double> with_ones_row(const Mat<double>& F) {
  Mat<double> A(F.rows() + 1, F.cols());
  A.topRows(F.rows()) = F;
  A.row(F.rows()).setOnes();
  return A;
}

Mat<double> joined(const Mat<double>& W, const Vec<double>& b) {
  Mat<double> theta(W.rows(), W.cols() + 1);
  theta << W, b;
  return theta;
}

// θ* of §4, solved from its normal equations θ(ÃÃᵀ + I/τ) = TÃᵀ + θ^k/τ with a
// dense LU (nothing shared with the library's Cholesky/Woodbury/CG).
Mat<double> literal_prox(const Mat<double>& theta_k, const Mat<double>& F, const Mat<double>& G,
                         const Mat<double>& delta, double tau) {
  const Mat<double> A = with_ones_row(F);
  const Mat<double> T = G - delta;
  const Index n = A.rows();
  const Mat<double> M = A * A.transpose() + Mat<double>::Identity(n, n) / tau;
  const Mat<double> rhs = T * A.transpose() + theta_k / tau;
  return M.partialPivLu().solve(rhs.transpose()).transpose();
}

// Gradient of ½‖θÃ − T‖² + 1/(2τ)‖θ − θ^k‖² at θ.
Mat<double> prox_objective_gradient(const Mat<double>& theta, const Mat<double>& theta_k,
                                    const Mat<double>& F, const Mat<double>& G,
                                    const Mat<double>& delta, double tau) {
  const Mat<double> A = with_ones_row(F);
  return (theta * A - (G - delta)) * A.transpose() + (theta - theta_k) / tau;
}

// N steps of CG per row of θ on the literal normal equations, from θ^k.
Mat<double> literal_cg(const Mat<double>& theta_k, const Mat<double>& F, const Mat<double>& G,
                       const Mat<double>& delta, double tau, int N) {
  const Mat<double> A = with_ones_row(F);
  const Index n = A.rows();
  const Mat<double> M = A * A.transpose() + Mat<double>::Identity(n, n) / tau;
  const Mat<double> B = (G - delta) * A.transpose() + theta_k / tau;
  Mat<double> X = theta_k;
  for (Index i = 0; i < X.rows(); ++i) {
    Eigen::RowVectorXd x = X.row(i), r = B.row(i) - x * M, p = r;
    for (int k = 0; k < N; ++k) {
      const Eigen::RowVectorXd Mp = p * M;
      const double rr = r.squaredNorm();
      const double alpha = rr / p.dot(Mp);
      x += alpha * p;
      r -= alpha * Mp;
      p = r + (r.squaredNorm() / rr) * p;
    }
    X.row(i) = x;
  }
  return X;
}

double max_abs_diff(const Network<double>& a, const Network<double>& b) {
  double d = 0;
  for (std::size_t l = 0; l < a.num_param_layers(); ++l) {
    d = std::max(d, (a.params(l).W - b.params(l).W).cwiseAbs().maxCoeff());
    d = std::max(d, (a.params(l).b - b.params(l).b).cwiseAbs().maxCoeff());
  }
  return d;
}

// Textbook CG: the properties checked with these options are those of plain CG; the
// reference variant is checked against the golden file below.
ProxPropOptions options(ProxPropSolver solver, double tau, int iters, UpdateOptions outer) {
  ProxPropOptions o;
  o.cg = ProxPropCg::Textbook;
  o.solver = solver;
  o.tau = tau;
  o.prox_iters = iters;
  o.outer = outer;
  return o;
}

UpdateOptions sgd(double lr, double momentum = 0, bool nesterov = false) {
  UpdateOptions u;
  u.kind = UpdateKind::SGD;
  u.lr = lr;
  u.momentum = momentum;
  u.nesterov = nesterov;
  return u;
}

UpdateOptions adam(double lr) {
  UpdateOptions u;
  u.kind = UpdateKind::Adam;
  u.lr = lr;
  return u;
}

// ---------------------------------------------------------------------------

SIBP_SCALAR_TYPED_SUITE(ProxPropTyped);

TYPED_TEST(ProxPropTyped, GradientModeIsBackPropWithTheSameOuterOptimizerBitForBit) {
  // The reference's `gradient` mode: θ* = θ^k − ∇θ, so θ^k − θ* is the plain
  // gradient and ProxProp must reproduce BackProp exactly (same operations in
  // the same order, so equality is bit-for-bit, tolerance 0), with the outer
  // state (momentum buffers, Adam's step count) carried across steps.
  using T = TypeParam;
  const NetworkSpec spec = spec_of({7, 6, 5, 4});
  const UpdateOptions outers[] = {sgd(0.3), sgd(0.5, 0.9, true), sgd(0.2, 0.8), adam(0.01)};
  for (const UpdateOptions& outer : outers) {
    Network<T> a = random_network<T>(spec, 11), b = a;
    ProxProp<T> pp(options(ProxPropSolver::Gradient, 0.05, 3, outer));
    BackProp<T> bp(outer);
    for (int s = 0; s < 3; ++s) {
      const Batch<T> batch = random_batch<T>(7, 4, 9, 100 + s);
      const StepReport ra = pp.step(a, batch);
      const StepReport rb = bp.step(b, batch);
      EXPECT_EQ(ra.loss, rb.loss);
      for (std::size_t l = 0; l < a.num_param_layers(); ++l) {
        EXPECT_TRUE(a.params(l).W == b.params(l).W) << "layer " << l << " step " << s;
        EXPECT_TRUE(a.params(l).b == b.params(l).b) << "layer " << l << " step " << s;
      }
    }
  }
}

TEST(ProxProp, ExactSolveSatisfiesTheOptimalityConditionInBothSolveShapes) {
  // (d_in + 1 ≤ m: Cholesky of ÃÃᵀ; d_in + 1 > m: the m×m Woodbury form.)
  // The gradient of the §4 objective at θ* must vanish; relative to the size
  // of its terms, 1e-11 in double is round-off of a well-conditioned solve
  // (λ = 1/τ ≥ 2 bounds the condition number by 1 + τ‖Ã‖²).
  struct Shape { Index d_in, d_out, m; };
  for (const Shape s : {Shape{3, 4, 10}, Shape{12, 5, 6}}) {
    for (double tau : {0.05, 0.5}) {
      Rng rng(static_cast<std::uint64_t>(s.d_in * 100 + s.m));
      const Mat<double> F = random_normal(s.d_in, s.m, rng).cwiseMax(0.0);
      const Mat<double> W = random_normal(s.d_out, s.d_in, rng);
      const Vec<double> b = random_normal(s.d_out, 1, rng);
      const Mat<double> delta = random_normal(s.d_out, s.m, rng, 0.1);
      Mat<double> G = W * F;
      G.colwise() += b;
      ProxProp<double> pp(options(ProxPropSolver::Exact, tau, 3, sgd(1)));
      Mat<double> dW(s.d_out, s.d_in);
      Vec<double> db(s.d_out);
      EXPECT_EQ(pp.solve_layer(0, F, delta, dW, db), 0);
      const Mat<double> theta_k = joined(W, b);
      const Mat<double> theta = theta_k - joined(dW, db);
      const Mat<double> grad = prox_objective_gradient(theta, theta_k, F, G, delta, tau);
      const double scale = ((G - delta) * with_ones_row(F).transpose()).norm() + theta_k.norm() / tau;
      EXPECT_LE(grad.norm() / scale, 1e-11) << "d_in " << s.d_in << " m " << s.m << " tau " << tau;
      EXPECT_LE((theta - literal_prox(theta_k, F, G, delta, tau)).norm() / theta_k.norm(), 1e-11);
    }
  }
}

TEST(ProxProp, CgWithAsManyStepsAsUnknownsReachesTheExactSolve) {
  // Each row of θ has d_in + 1 = 5 unknowns; CG on an SPD system reaches the
  // solution in that many steps in exact arithmetic. The matrix here has
  // condition number below 1e3, so 1e-9 relative leaves room for round-off.
  const Index d_in = 4, d_out = 3, m = 7;
  Rng rng(5);
  const Mat<double> F = random_normal(d_in, m, rng);
  const Mat<double> delta = random_normal(d_out, m, rng, 0.2);
  ProxProp<double> cg(options(ProxPropSolver::CG, 0.5, d_in + 1, sgd(1)));
  ProxProp<double> exact(options(ProxPropSolver::Exact, 0.5, 3, sgd(1)));
  Mat<double> dW1(d_out, d_in), dW2(d_out, d_in);
  Vec<double> db1(d_out), db2(d_out);
  EXPECT_EQ(cg.solve_layer(0, F, delta, dW1, db1), d_in + 1);
  exact.solve_layer(0, F, delta, dW2, db2);
  const double scale = joined(dW2, db2).norm();
  EXPECT_LE((joined(dW1, db1) - joined(dW2, db2)).norm() / scale, 1e-9);
  // One step fewer is visibly not there yet, so the check above is not vacuous.
  ProxProp<double> cg4(options(ProxPropSolver::CG, 0.5, d_in, sgd(1)));
  cg4.solve_layer(0, F, delta, dW1, db1);
  EXPECT_GE((joined(dW1, db1) - joined(dW2, db2)).norm() / scale, 1e-6);
}

TEST(ProxProp, CgIsWarmStartedAtTheCurrentParametersAndStopsAfterProxIters) {
  // From θ^k the first CG step is steepest descent with exact line search:
  // θ = θ^k + α r with r = −∇θ row by row, α = ‖r‖²/(r M rᵀ). Started from 0
  // instead, the answer would differ by O(‖θ^k‖). With N = 2 and 3 the result
  // must equal literal CG from θ^k stopped after exactly N steps (1e-12:
  // a handful of small dense products in double).
  const Index d_in = 6, d_out = 3, m = 9;
  const double tau = 0.5;
  Rng rng(9);
  const Mat<double> F = random_normal(d_in, m, rng).cwiseMax(0.0);
  const Mat<double> W = random_normal(d_out, d_in, rng);
  const Vec<double> b = random_normal(d_out, 1, rng);
  const Mat<double> delta = random_normal(d_out, m, rng, 0.3);
  Mat<double> G = W * F;
  G.colwise() += b;
  const Mat<double> theta_k = joined(W, b);
  const Mat<double> A = with_ones_row(F);
  const Mat<double> M = A * A.transpose() + Mat<double>::Identity(d_in + 1, d_in + 1) / tau;

  ProxProp<double> one(options(ProxPropSolver::CG, tau, 1, sgd(1)));
  Mat<double> dW(d_out, d_in);
  Vec<double> db(d_out);
  EXPECT_EQ(one.solve_layer(0, F, delta, dW, db), 1);
  const Mat<double> r = -prox_objective_gradient(theta_k, theta_k, F, G, delta, tau);
  Mat<double> expected = theta_k;
  for (Index i = 0; i < d_out; ++i)
    expected.row(i) += r.row(i).squaredNorm() / (r.row(i) * M * r.row(i).transpose())(0, 0) * r.row(i);
  EXPECT_LE((theta_k - joined(dW, db) - expected).norm() / theta_k.norm(), 1e-12);

  for (int N : {2, 3}) {
    ProxProp<double> pp(options(ProxPropSolver::CG, tau, N, sgd(1)));
    EXPECT_EQ(pp.solve_layer(0, F, delta, dW, db), N);
    const Mat<double> lit = literal_cg(theta_k, F, G, delta, tau, N);
    EXPECT_LE((theta_k - joined(dW, db) - lit).norm() / theta_k.norm(), 1e-12) << "N " << N;
    // And N steps are not yet the exact answer (7 unknowns per row).
    EXPECT_GE((lit - literal_prox(theta_k, F, G, delta, tau)).norm() / theta_k.norm(), 1e-8);
  }
}

TEST(ProxProp, OuterSgdWithLearningRateOneLandsOnTheProxSolution) {
  // With SGD lr 1 and no momentum, θ^{k+1} = θ^k − (θ^k − θ*) = θ* for every
  // hidden layer, and the output layer moves by its plain mean-loss gradient.
  // δ_l and θ* are computed here independently (own backward walk, LU solve of
  // the literal problem). Tolerance 1e-11 relative: double round-off of the
  // solve and of the shifted formulation at these sizes (entries O(1)).
  for (Activation act : {Activation::ReLU, Activation::Tanh}) {
    const NetworkSpec spec = spec_of({8, 6, 5, 3}, act);
    Network<double> net = random_network<double>(spec, 21);
    const Network<double> before = net;
    const Batch<double> batch = random_batch<double>(8, 3, 10, 22);
    const double tau = 0.2;
    ProxProp<double> pp(options(ProxPropSolver::Exact, tau, 3, sgd(1)));
    pp.set_diagnostics(true);
    const StepReport rep = pp.step(net, batch);

    const Backward bw = mean_loss_deltas(before, batch);
    const std::size_t L = before.num_param_layers();
    // StepReport.loss is the batch mean loss at the old parameters.
    EXPECT_NEAR(rep.loss, loss_sum<double>(before.loss(), bw.F(L), batch.Y) / 10.0, 1e-14);
    ASSERT_EQ(rep.layers.size(), L - 1);
    for (std::size_t l = 1; l < L; ++l) {
      const Mat<double> theta_k = joined(before.params(l - 1).W, before.params(l - 1).b);
      const Mat<double> star = literal_prox(theta_k, bw.F(l - 1), bw.G(l), bw.delta[l], tau);
      const Mat<double> got = joined(net.params(l - 1).W, net.params(l - 1).b);
      EXPECT_LE((got - star).norm() / star.norm(), 1e-11) << "layer " << l;
      // The diagnostics see the prox objective decrease.
      EXPECT_LT(rep.layers[l - 1].objective_after, rep.layers[l - 1].objective_before);
      EXPECT_EQ(rep.layers[l - 1].layer, l - 1);
    }
    const Mat<double> dW = bw.delta[L] * bw.F(L - 1).transpose();
    const Vec<double> db = bw.delta[L].rowwise().sum();
    EXPECT_LE((net.params(L - 1).W - (before.params(L - 1).W - dW)).cwiseAbs().maxCoeff(), 1e-14);
    EXPECT_LE((net.params(L - 1).b - (before.params(L - 1).b - db)).cwiseAbs().maxCoeff(), 1e-14);
  }
}

// δ_i = ∂(mean loss)/∂G of parametrised layer i for any list of layers, and
// the matrix each layer's W multiplies (P: the patch matrix of a convolution,
// the input of a dense layer). The walk is the test's own; each layer's adjoint
// (Layer::backward_input) is checked against finite differences and PyTorch in
// tests/nn.
struct LayerBackward {
  Tape<double> tape;
  std::vector<Mat<double>> delta;       // per parametrised layer
  std::vector<Mat<double>> P_;          // per parametrised layer
  std::vector<const Mat<double>*> P;    // per parametrised layer: into P_
  std::vector<const Mat<double>*> G;    // per parametrised layer
};

void layer_deltas(const Network<double>& net, const Batch<double>& batch, LayerBackward& out) {
  net.forward(batch.X, out.tape);
  const Index m = batch.X.cols();
  const std::size_t L = net.num_param_layers();
  out.delta.assign(L, Mat<double>());
  out.P.assign(L, nullptr);
  out.P_.assign(L, Mat<double>());
  out.G.assign(L, nullptr);
  Mat<double> D, below, work;
  loss_sum<double>(net.loss(), out.tape.output(), batch.Y, &D);
  D /= static_cast<double>(m);
  std::size_t i = L;
  for (std::size_t k = net.num_layers(); k-- > 0;) {
    const Layer<double>& layer = net.layer(k);
    const LayerRecord<double>& rec = out.tape.layers[k];
    if (layer.params()) {
      --i;
      Mat<double> S(D.rows(), D.cols());
      activation_derivative<double>(layer.spec().act, rec.G, rec.F, S);
      D = D.cwiseProduct(S).eval();
      out.delta[i] = D;
      Mat<double> scratch;
      out.P_[i] = layer.input_operator(out.tape.input_of(k), rec)->matrix_or(scratch);
      out.P[i] = &out.P_[i];
      out.G[i] = &rec.G;
    }
    if (k == 0) break;
    layer.backward_input(rec, D, m, below, work);
    D.swap(below);
  }
}

TEST(ProxProp, ConvolutionLayersTakeTheLiteralProxStepWithTheirPatchMatrix) {
  // §5: ProxProp on a convolution is §4 with P (im2col of the layer's input,
  // one column per sample-position) for F_{l-1}. A CNN with two hidden
  // convolutions and a hidden dense layer; with SGD lr 1 every hidden layer
  // lands on θ* of the literal problem (normal equations by LU in double, the
  // d×d form since n = m·H'·W' > d), and the output layer moves by its plain
  // gradient. Tolerance 1e-10 relative: round-off of the two solves (Cholesky
  // vs LU of a matrix with condition number below 1 + τ‖P̃‖² ≈ 10³) and of the
  // shifted formulation.
  const NetworkSpec spec = NetworkSpec::build(
      Architecture::parse("conv(3,3,pad=1) tanh maxpool(2) conv(4,2,stride=2) relu flatten dense(5) sigmoid dense(3)"),
      Shape{2, 8, 8}, Loss::SoftmaxCrossEntropy);
  const Network<double> before = random_network<double>(spec, 51, 0.4);
  const Batch<double> batch = random_batch<double>(128, 3, 4, 52);
  LayerBackward bw;
  layer_deltas(before, batch, bw);
  const std::size_t L = before.num_param_layers();
  ASSERT_EQ(L, 4u);
  for (double tau : {0.05, 0.5}) {
    SCOPED_TRACE("tau " + std::to_string(tau));
    Network<double> net = before;
    ProxProp<double> pp(options(ProxPropSolver::Exact, tau, 3, sgd(1)));
    pp.set_diagnostics(true);
    const StepReport rep = pp.step(net, batch);
    ASSERT_TRUE(rep.finite);
    EXPECT_NEAR(rep.loss, loss_sum<double>(before.loss(), bw.tape.output(), batch.Y) / 4.0, 1e-14);
    ASSERT_EQ(rep.layers.size(), L - 1);
    for (std::size_t i = 0; i + 1 < L; ++i) {
      const Mat<double> theta_k = joined(before.params(i).W, before.params(i).b);
      const Mat<double> star = literal_prox(theta_k, *bw.P[i], *bw.G[i], bw.delta[i], tau);
      const Mat<double> got = joined(net.params(i).W, net.params(i).b);
      EXPECT_LE((got - star).norm() / star.norm(), 1e-10) << "layer " << i;
      EXPECT_GT((got - theta_k).norm() / theta_k.norm(), 1e-6) << "layer " << i << " did not move";
      EXPECT_LT(rep.layers[i].objective_after, rep.layers[i].objective_before) << "layer " << i;
    }
    const Mat<double> dW = bw.delta[L - 1] * bw.P[L - 1]->transpose();
    const Vec<double> db = bw.delta[L - 1].rowwise().sum();
    EXPECT_LE((net.params(L - 1).W - (before.params(L - 1).W - dW)).cwiseAbs().maxCoeff(), 1e-14);
    EXPECT_LE((net.params(L - 1).b - (before.params(L - 1).b - db)).cwiseAbs().maxCoeff(), 1e-14);
  }
  // cgN: N textbook CG steps per row, warm-started at θ^k, on the same literal
  // problem (1e-10: a few dense products more than the exact case).
  for (int N : {1, 2, 4}) {
    SCOPED_TRACE("cg" + std::to_string(N));
    Network<double> net = before;
    ProxProp<double> pp(options(ProxPropSolver::CG, 0.5, N, sgd(1)));
    pp.step(net, batch);
    for (std::size_t i = 0; i + 1 < L; ++i) {
      const Mat<double> theta_k = joined(before.params(i).W, before.params(i).b);
      const Mat<double> lit = literal_cg(theta_k, *bw.P[i], *bw.G[i], bw.delta[i], 0.5, N);
      EXPECT_LE((joined(net.params(i).W, net.params(i).b) - lit).norm() / lit.norm(), 1e-10) << "layer " << i;
    }
  }
}

TEST(ProxProp, SmallTauApproachesAGradientStepOfLengthTau) {
  // θ^k − θ* = ∇(ÃÃᵀ τ + I)⁻¹ τ = τ∇ + O(τ²): a check that τ enters as
  // 1/(2τ)‖·‖² (a factor 2 error in the scaling would fail it by 100%).
  const NetworkSpec spec = spec_of({5, 4, 3});
  const Network<double> net0 = random_network<double>(spec, 31);
  const Batch<double> batch = random_batch<double>(5, 3, 6, 32);
  const double tau = 1e-4;
  Network<double> a = net0;
  ProxProp<double> pp(options(ProxPropSolver::Exact, tau, 3, sgd(1)));
  pp.step(a, batch);
  Network<double> g = net0;
  ProxProp<double> grad(options(ProxPropSolver::Gradient, tau, 3, sgd(1)));
  grad.step(g, batch);
  const Mat<double> step_prox = pp.last_directions().dW[0];
  const Mat<double> grad0 = grad.last_directions().dW[0];
  // Relative error O(τ‖Ã‖²) ≈ 1e-4 · 30 here; 1e-2 is a wide margin.
  EXPECT_LE((step_prox - tau * grad0).norm() / (tau * grad0).norm(), 1e-2);
}

// ------------------------------------------------------------------ golden --

using testing::load_golden;
using testing::matrix_from_rows;
using testing::vector_from;

template <typename T>
void run_golden(double tol, const std::string& only_case = "") {
  const json doc = load_golden("proxprop_steps.json");
  ASSERT_EQ(doc.at("format_version").get<int>(), 2);
  ASSERT_EQ(doc.at("script").get<std::string>(), "scripts/golden/make_proxprop_golden.py");
  std::vector<Index> widths;
  for (const auto& w : doc.at("network").at("widths")) widths.push_back(w.get<Index>());
  const NetworkSpec spec = NetworkSpec::mlp(widths, parse_activation(doc.at("network").at("hidden").get<std::string>()),
                                            parse_loss(doc.at("network").at("loss").get<std::string>()));
  Network<double> init(spec);
  for (std::size_t l = 0; l < init.num_param_layers(); ++l) {
    init.params(l).W = matrix_from_rows(doc.at("W0").at(l));
    init.params(l).b = vector_from(doc.at("b0").at(l));
  }
  std::vector<Batch<T>> batches;
  for (const json& bj : doc.at("batches")) {
    Batch<T> b;
    b.X = matrix_from_rows(bj.at("X")).cast<T>();
    b.Y = matrix_from_rows(bj.at("Y")).cast<T>();
    batches.push_back(b);
  }
  int cases = 0;
  for (const json& c : doc.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    if (!only_case.empty() && name != only_case) continue;
    SCOPED_TRACE(name);
    ++cases;
    const json& o = c.at("outer");
    const UpdateOptions outer = sgd(o.at("lr").get<double>(), o.at("momentum").get<double>(),
                                    o.at("nesterov").get<bool>());
    ProxPropOptions opt = options(parse_proxprop_solver(c.at("solver").get<std::string>()),
                                  c.at("tau").get<double>(), std::max(1, c.at("prox_iters").get<int>()), outer);
    opt.cg = parse_proxprop_cg(c.value("prox_cg", std::string("textbook")));
    ProxProp<T> pp(opt);
    pp.set_diagnostics(true);
    Network<T> net = init.cast<T>();
    for (std::size_t s = 0; s < batches.size(); ++s) {
      const json& sj = c.at("steps").at(s);
      const StepReport rep = pp.step(net, batches[s]);
      if (s + 1 == batches.size() && c.contains("last_solve_iterations")) {
        // The reference CG's early stop ends where the script's did.
        const json& its = c.at("last_solve_iterations");
        ASSERT_EQ(its.size() + 1, net.num_param_layers());
        for (std::size_t l = 0; l < its.size(); ++l)
          EXPECT_EQ(rep.layers.at(l).solver_iterations, its.at(l).get<int>()) << "layer " << l;
      }
      EXPECT_NEAR(rep.loss, sj.at("loss").get<double>(), tol) << "step " << s;
      for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
        const Mat<double> W = net.params(l).W.template cast<double>();
        const Vec<double> b = net.params(l).b.template cast<double>();
        EXPECT_LE((W - matrix_from_rows(sj.at("W").at(l))).cwiseAbs().maxCoeff(), tol)
            << "step " << s << " layer " << l;
        EXPECT_LE((b - vector_from(sj.at("b").at(l))).cwiseAbs().maxCoeff(), tol)
            << "step " << s << " layer " << l;
      }
    }
  }
  EXPECT_GT(cases, 0);
}

TEST(ProxProp, MatchesPyTorchGoldenStepsInDouble) {
  // exact, textbook and reference cg3, reference cg40 (whose solves stop early), SGD lr 1
  // and Nesterov 0.95, two steps, from
  // scripts/golden/make_proxprop_golden.py. Entries are O(1); the two sides
  // differ in solver (LU vs Cholesky/Woodbury, target vs shifted CG form) and
  // summation order, i.e. round-off ~1e-15 amplified by the condition number
  // of ÃÃᵀ + 2I (< 100 here) and by Nesterov's factor ~2: 1e-11 absolute.
  run_golden<double>(1e-11);
}

TEST(ProxProp, MatchesPyTorchGoldenStepsInFloat) {
  // The same steps in float32: round-off ~6e-8 amplified as above, 2e-5 absolute.
  run_golden<float>(2e-5);
}

// ----------------------------------------------------------------- options --

TEST(ProxProp, OptionsAreValidatedWithMessagesThatNameTheOption) {
  ProxPropOptions o;
  EXPECT_NO_THROW(o.validate());
  o.tau = 0;
  EXPECT_THROW(o.validate(), UsageError);
  o.tau = std::nan("");
  EXPECT_THROW(o.validate(), UsageError);
  o = ProxPropOptions{};
  o.prox_iters = 0;
  EXPECT_THROW(o.validate(), UsageError);
  EXPECT_THROW(ProxProp<float>{o}, UsageError);
  o = ProxPropOptions{};
  o.outer.lr = -1;
  EXPECT_THROW(o.validate(), UsageError);

  EXPECT_EQ(parse_proxprop_solver("exact"), ProxPropSolver::Exact);
  EXPECT_EQ(parse_proxprop_solver("cg"), ProxPropSolver::CG);
  EXPECT_EQ(parse_proxprop_solver("gradient"), ProxPropSolver::Gradient);
  testing::expect_mentions(testing::error_message<UsageError>([] { (void)parse_proxprop_solver("cg3"); }),
                           {"--prox-solver", "cg3"});

  // Momentum belongs to an SGD outer optimizer; the message names the option.
  o = ProxPropOptions{};
  o.outer = adam(1e-3);
  o.outer.momentum = 0.9;
  try {
    o.validate();
    ADD_FAILURE() << "momentum with an Adam outer optimizer accepted";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "momentum");
  }
  o = ProxPropOptions{};
  o.solver = ProxPropSolver::Exact;
  EXPECT_EQ(ProxProp<double>(o).name(), "proxprop-exact");
  EXPECT_EQ(ProxProp<double>(options(ProxPropSolver::CG, 1, 3, sgd(1))).name(), "proxprop-cg3");
}

TEST(ProxProp, NonFiniteLossIsReportedWithoutTouchingTheParameters) {
  Network<double> net = random_network<double>(spec_of({3, 4, 2}), 41);
  const Network<double> before = net;
  Batch<double> batch = random_batch<double>(3, 2, 4, 42);
  batch.X(0, 0) = std::numeric_limits<double>::quiet_NaN();
  ProxProp<double> pp(ProxPropOptions{});
  const StepReport rep = pp.step(net, batch);
  EXPECT_FALSE(rep.finite);
  EXPECT_EQ(max_abs_diff(net, before), 0.0);
}

}  // namespace
}  // namespace sibp
