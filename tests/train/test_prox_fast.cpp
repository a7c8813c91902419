// Tests for src/train/prox_fast.hpp: the exact linear prox, and the two Gauss–Newton
// solvers (ALGORITHMS.md §3.1 "prox optimality", §3.3 b and c).
#include <cmath>
#include <optional>
#include <vector>
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <random>
#include <string>

#include "core/error.hpp"
#include "nn/activation.hpp"
#include "train/prox_fast.hpp"
#include "prox_case.hpp"
#include "test_support.hpp"
#include "typed_scalars.hpp"

namespace sibp {
namespace {

template <typename T>
Mat<double> to_d(const Mat<T>& M) { return M.template cast<double>(); }
template <typename T>
Vec<double> to_d(const Vec<T>& v) { return v.template cast<double>(); }

/// A prox problem as SIBP poses it, W^k scaled by 1/√d_in and b^k by 0.1, and
/// a ReLU layer's inputs nonnegative (testing::SibpProxCase).
template <typename T>
struct Case : testing::SibpProxCase<T> {
  Case(Index d_in, Index m, Index d_out, Activation act, double eta, double lambda, unsigned seed)
      : testing::SibpProxCase<T>(d_in, m, d_out, act, eta, lambda, false, seed,
                                 {1.0 / std::sqrt(static_cast<double>(d_in)), 0.1, true}) {}
};

/// φ(W, b) of §3 evaluated independently of the solvers, in double.
template <typename T>
double phi(const Case<T>& c, const Mat<double>& W, const Vec<double>& b) {
  Mat<double> G = W * to_d<T>(c.F);
  G.colwise() += b;
  Mat<double> S(G.rows(), G.cols());
  activate<double>(c.problem.act, G, S);
  return (S - to_d<T>(c.target)).squaredNorm() +
         c.problem.lambda * ((W - to_d<T>(c.Wk)).squaredNorm() + (b - to_d<T>(c.bk)).squaredNorm());
}

/// ∇φ for a linear layer, in double: (∇_W, ∇_b) and the scale of its parts.
struct LinearGrad {
  Mat<double> gW;
  Vec<double> gb;
  double scale;
};
template <typename T>
LinearGrad linear_grad(const Case<T>& c, const Mat<double>& W, const Vec<double>& b) {
  const Mat<double> F = to_d<T>(c.F);
  Mat<double> Res = W * F;
  Res.colwise() += b;
  Res -= to_d<T>(c.target);
  const double lam = c.problem.lambda;
  LinearGrad g;
  const Mat<double> dW = 2 * Res * F.transpose(), pW = 2 * lam * (W - to_d<T>(c.Wk));
  const Vec<double> db = 2 * Res.rowwise().sum(), pb = 2 * lam * (b - to_d<T>(c.bk));
  g.gW = dW + pW;
  g.gb = db + pb;
  g.scale = dW.norm() + pW.norm() + db.norm() + pb.norm();
  return g;
}

// Optimality of an exact solve, relative to the size of the gradient's parts. Double: the
// solve is backward stable, cond ≤ ~100 here, so 1e-10 has margin. Float: eps·cond ≈ 1e-5,
// and the double re-evaluation sees the float rounding of W itself, so 5e-4.
template <typename T>
double opt_tol() { return std::is_same_v<T, float> ? 5e-4 : 1e-10; }

SIBP_SCALAR_TYPED_SUITE(ProxFastTest);

const Activation kNonlinear[] = {Activation::ReLU, Activation::LeakyReLU, Activation::Tanh, Activation::Sigmoid};

TYPED_TEST(ProxFastTest, ExactJointIsStationaryForEveryMethod) {
  using T = TypeParam;
  // m < d_in (Woodbury's case) and m > d_in (Cholesky's case).
  for (const auto& [d_in, m] : {std::pair<Index, Index>{40, 15}, {6, 30}}) {
    for (RidgeMethod method : {RidgeMethod::Auto, RidgeMethod::Cholesky, RidgeMethod::Woodbury}) {
      Case<T> c(d_in, m, 5, Activation::Identity, 0.5, 1.0, 1);
      Mat<T> W = c.Wk;
      Vec<T> b = c.bk;
      LayerDiagnostics diag;
      ExactLinearSolver<T> solver({/*joint=*/true, method});
      solver.solve(c.problem, W, b, &diag);
      const LinearGrad g = linear_grad(c, to_d<T>(W), to_d<T>(b));
      const double rel = std::sqrt(g.gW.squaredNorm() + g.gb.squaredNorm()) / g.scale;
      EXPECT_LT(rel, opt_tol<T>()) << "d_in=" << d_in << " m=" << m << " " << to_string(method);
      EXPECT_LT(diag.objective_after, diag.objective_before);
      EXPECT_NEAR(diag.objective_after, phi(c, to_d<T>(W), to_d<T>(b)), 1e-4 * diag.objective_before);
      EXPECT_EQ(diag.solver_iterations, 1);
    }
  }
}

TYPED_TEST(ProxFastTest, ExactSequentialSolvesEachBlockInTurn) {
  using T = TypeParam;
  // Gauss–Seidel order (§3 step 3.1): W is optimal with b = b^k held, then b is optimal
  // with the new W held. So ∇_W φ(W_new, b^k) = 0 and ∇_b φ(W_new, b_new) = 0.
  Case<T> c(30, 12, 4, Activation::Identity, 0.5, 1.0, 2);
  Mat<T> W = c.Wk;
  Vec<T> b = c.bk;
  ExactLinearSolver<T> solver;  // defaults: sequential, Auto
  const double phi0 = phi(c, to_d<T>(c.Wk), to_d<T>(c.bk));
  solver.solve(c.problem, W, b, nullptr);
  const LinearGrad g_held = linear_grad(c, to_d<T>(W), to_d<T>(c.bk));
  EXPECT_LT(g_held.gW.norm() / g_held.scale, opt_tol<T>());
  const LinearGrad g_new = linear_grad(c, to_d<T>(W), to_d<T>(b));
  EXPECT_LT(g_new.gb.norm() / g_new.scale, opt_tol<T>());
  EXPECT_LT(phi(c, to_d<T>(W), to_d<T>(b)), phi0);
  // b moved (the check on b is not vacuous) and W is not jointly optimal with it.
  EXPECT_GT((to_d<T>(b) - to_d<T>(c.bk)).norm(), 1e-3);
}

TYPED_TEST(ProxFastTest, ExactIsNoWorseThanRandomPerturbations) {
  using T = TypeParam;
  // ensmallen's proximal_test idea: the prox answer beats 1000 random nearby points.
  // φ is quadratic, so φ(θ* + δ) − φ(θ*) = ‖δF̃‖² + λ‖δ‖² ≥ λ‖δ‖² at the exact θ*. Float's θ*
  // is off by ~1e-5 relative, which can cost at most |⟨∇φ(θ*), δ⟩|; the allowance below is
  // that first-order term's bound, so a wrong solver (off by more) still fails.
  Case<T> c(20, 10, 3, Activation::Identity, 1.0, 1.0, 3);
  Mat<T> W = c.Wk;
  Vec<T> b = c.bk;
  ExactLinearSolver<T>({true, RidgeMethod::Auto}).solve(c.problem, W, b, nullptr);
  const Mat<double> Ws = to_d<T>(W);
  const Vec<double> bs = to_d<T>(b);
  const double best = phi(c, Ws, bs);
  const LinearGrad g = linear_grad(c, Ws, bs);
  std::mt19937 gen(4);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::uniform_real_distribution<double> scale_pick(-4.0, 0.0);
  int worse = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    const double scale = std::pow(10.0, scale_pick(gen));  // 1e-4 .. 1
    Mat<double> dW = Mat<double>::NullaryExpr(Ws.rows(), Ws.cols(), [&] { return scale * u(gen); });
    Vec<double> db = Vec<double>::NullaryExpr(bs.size(), [&] { return scale * u(gen); });
    const double first_order = std::abs((g.gW.array() * dW.array()).sum() + g.gb.dot(db));
    const double allowance = std::is_same_v<T, float> ? first_order + 1e-12 * best : 1e-12 * best;
    if (phi(c, Ws + dW, bs + db) < best - allowance) ++worse;
  }
  EXPECT_EQ(worse, 0);
}

TYPED_TEST(ProxFastTest, ExactRejectsNonlinearLayers) {
  using T = TypeParam;
  Case<T> c(5, 4, 2, Activation::ReLU, 0.1, 1.0, 5);
  Mat<T> W = c.Wk;
  Vec<T> b = c.bk;
  ExactLinearSolver<T> solver;
  try {
    solver.solve(c.problem, W, b, nullptr);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("linear"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("relu"), std::string::npos) << e.what();
  }
}

TYPED_TEST(ProxFastTest, GaussNewtonNeverIncreasesTheObjective) {
  using T = TypeParam;
  // ProxSolver contract: φ(new) ≤ φ(old), re-evaluated here in double. Float solvers accept
  // on their own float evaluation, which can differ from the double one by ~eps·φ·√(m·d_out)
  // ≈ 1e-5·φ; double by ~1e-13·φ.
  const double slack = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  int strict = 0, total = 0, backtracked = 0;
  for (Activation act : kNonlinear) {
    for (double eta : {0.1, 1.0, 10.0}) {      // 10: targets far from σ(G), linearisation poor
      for (double lambda : {0.01, 1.0}) {        // small λ: little damping, overshoot likely
        for (unsigned seed = 0; seed < 3; ++seed) {
          Case<T> c(12, 20, 6, act, eta, lambda, 100 + seed);
          const double phi0 = phi(c, to_d<T>(c.Wk), to_d<T>(c.bk));
          // 0, 1: CG in sample and in parameter space; 2: exact per row. The diagnostics'
          // objective_after includes λ‖Δθ‖², which the sample-space steps compute from Z ⊙ ZK
          // without forming Δθ: its agreement with φ re-evaluated from (W, b) checks that.
          for (int which = 0; which < 3; ++which) {
            Mat<T> W = c.Wk;
            Vec<T> b = c.bk;
            LayerDiagnostics diag;
            GaussNewtonOptions o;
            o.space = which == 0 ? CgSpace::Sample : CgSpace::Parameter;
            if (which < 2)
              GaussNewtonCgSolver<T>(o).solve(c.problem, W, b, &diag);
            else
              GaussNewtonExactSolver<T>().solve(c.problem, W, b, &diag);
            const double phi1 = phi(c, to_d<T>(W), to_d<T>(b));
            EXPECT_LE(phi1, phi0 * (1 + slack))
                << to_string(act) << " eta=" << eta << " lambda=" << lambda << " seed=" << seed
                << (which == 2 ? " exact" : which == 1 ? " cg parameter" : " cg sample");
            EXPECT_LE(diag.objective_after, diag.objective_before);
            EXPECT_NEAR(diag.objective_before, phi0, 1e-4 * phi0);
            EXPECT_NEAR(diag.objective_after, phi1, 1e-4 * phi0);
            ASSERT_EQ(diag.line_search_exponents.size(), 1u);
            if (diag.line_search_exponents[0] != 0) ++backtracked;
            strict += phi1 < phi0 * (1 - 1e-3);
            ++total;
          }
        }
      }
    }
  }
  // Not vacuous: nearly every solve makes real progress, and some needed the safeguard.
  EXPECT_GE(strict, total * 9 / 10) << strict << " of " << total;
  EXPECT_GT(backtracked, 0);
}

/// The Gauss–Newton step computed densely, in double: for each row j,
/// (F̃ diag(s_j²) F̃ᵀ + λI) x_j = F̃ (e_j ⊙ s_j), with s = σ'(G), e = T − σ(G).
template <typename T>
Mat<double> dense_gauss_newton_step(const Case<T>& c) {
  const Mat<double> G = to_d<T>(c.G), Tt = to_d<T>(c.target);
  const Index d_in = c.F.rows(), m = c.F.cols(), d_out = G.rows();
  Mat<double> Ft(d_in + 1, m);
  Ft << to_d<T>(c.F), Mat<double>::Ones(1, m);
  Mat<double> Fl(d_out, m), S(d_out, m);
  activate<double>(c.problem.act, G, Fl);
  activation_derivative<double>(c.problem.act, G, Fl, S);
  const Mat<double> E = Tt - Fl;
  Mat<double> D(d_out, d_in + 1);
  for (Index j = 0; j < d_out; ++j) {
    const Mat<double> Fs = Ft * S.row(j).transpose().asDiagonal();
    Mat<double> M = Fs * Fs.transpose();
    M.diagonal().array() += c.problem.lambda;
    const Vec<double> rhs = Fs * E.row(j).transpose();
    D.row(j) = M.llt().solve(rhs).transpose();
  }
  return D;
}

TYPED_TEST(ProxFastTest, ExactPerRowGaussNewtonEqualsDenseNormalEquations) {
  using T = TypeParam;
  // Small η keeps the linearisation good, so the safeguard accepts the full step (asserted)
  // and W − W^k is the Gauss–Newton step itself. Tolerance: the m_j×m_j systems have
  // cond ≤ ~100; float 1e-3, double 1e-9.
  const double tol = std::is_same_v<T, float> ? 1e-3 : 1e-9;
  for (Activation act : kNonlinear) {
    for (const auto& [d_in, m] : {std::pair<Index, Index>{25, 10}, {6, 30}}) {
      Case<T> c(d_in, m, 7, act, 0.05, 1.0, 7);
      Mat<T> W = c.Wk;
      Vec<T> b = c.bk;
      LayerDiagnostics diag;
      GaussNewtonExactSolver<T>().solve(c.problem, W, b, &diag);
      ASSERT_EQ(diag.line_search_exponents.at(0), 0) << to_string(act);
      Mat<double> D(W.rows(), d_in + 1);
      D << to_d<T>(Mat<T>(W - c.Wk)), to_d<T>(Mat<T>(b - c.bk));
      const Mat<double> ref = dense_gauss_newton_step(c);
      EXPECT_GT(ref.norm(), 1e-3);
      EXPECT_LT((D - ref).norm() / ref.norm(), tol) << to_string(act) << " d_in=" << d_in << " m=" << m;
    }
  }
}

TYPED_TEST(ProxFastTest, GaussNewtonCgConvergesToTheExactStep) {
  using T = TypeParam;
  // With enough CG steps (d_in + 1 unknowns per row) and a tight tolerance, block CG
  // reaches the per-row exact step; with the default 5 it is only an approximation.
  const double tol = std::is_same_v<T, float> ? 2e-3 : 1e-8;
  for (Activation act : kNonlinear) {
    Case<T> c(15, 40, 6, act, 0.05, 1.0, 8);
    Mat<T> We = c.Wk, Wc = c.Wk;
    Vec<T> be = c.bk, bc = c.bk;
    GaussNewtonExactSolver<T>().solve(c.problem, We, be, nullptr);
    GaussNewtonOptions o;
    o.cg_iterations = 200;
    o.cg_tolerance = std::is_same_v<T, float> ? 1e-6 : 1e-13;
    o.cg_stop = CgStop::Relative;  // every row's residual, so every row is close to exact
    LayerDiagnostics diag;
    GaussNewtonCgSolver<T>(o).solve(c.problem, Wc, bc, &diag);
    EXPECT_GT(diag.solver_iterations, 5);
    EXPECT_LT(diag.solver_iterations, 200);
    const Mat<double> dE = to_d<T>(Mat<T>(We - c.Wk)), dC = to_d<T>(Mat<T>(Wc - c.Wk));
    EXPECT_LT((dC - dE).norm() / dE.norm(), tol) << to_string(act);
    EXPECT_LT((to_d<T>(bc) - to_d<T>(be)).norm() / (to_d<T>(be) - to_d<T>(c.bk)).norm(), tol);
  }
}

TYPED_TEST(ProxFastTest, GaussNewtonCgInSampleSpaceFollowsParameterSpace) {
  using T = TypeParam;
  // With m < d_in + 1 the CG runs on sample-space coefficients; forcing parameter
  // space must give the same step after every number of iterations (exact arithmetic
  // says they are the same iterates), and the same reported iteration count. In float
  // the two round-off paths drift apart as CG loses orthogonality (~1e-3 after 8 steps);
  // in double ~1e-10, more where the compiler contracts differently (3e-10 seen at -O1).
  const double tol = std::is_same_v<T, float> ? 3e-3 : 1e-8;
  for (Activation act : kNonlinear) {
    for (int iters : {1, 2, 3, 5, 8}) {
      Case<T> c(30, 12, 5, act, 0.3, 0.7, 12);
      Mat<T> Ws = c.Wk, Wp = c.Wk;
      Vec<T> bs = c.bk, bp = c.bk;
      GaussNewtonOptions o;
      o.cg_iterations = iters;
      o.space = CgSpace::Sample;
      LayerDiagnostics ds, dp;
      GaussNewtonCgSolver<T>(o).solve(c.problem, Ws, bs, &ds);
      o.space = CgSpace::Parameter;
      GaussNewtonCgSolver<T>(o).solve(c.problem, Wp, bp, &dp);
      EXPECT_EQ(ds.solver_iterations, dp.solver_iterations);
      EXPECT_EQ(ds.line_search_exponents, dp.line_search_exponents);
      const Mat<double> dS = to_d<T>(Mat<T>(Ws - c.Wk)), dP = to_d<T>(Mat<T>(Wp - c.Wk));
      ASSERT_GT(dP.norm(), 0.0);
      EXPECT_LT((dS - dP).norm() / dP.norm(), tol) << to_string(act) << " iters=" << iters;
      EXPECT_LT((to_d<T>(bs) - to_d<T>(bp)).norm() / (to_d<T>(bp) - to_d<T>(c.bk)).norm(), tol);
      EXPECT_NEAR(ds.objective_after, dp.objective_after, 1e2 * tol * dp.objective_before);
    }
  }
}

TYPED_TEST(ProxFastTest, GaussNewtonGivenTheForwardOutputGivesTheSameBits) {
  using T = TypeParam;
  // SIBP hands the solver σ(G^k) from its forward tape (ProxProblem::output) instead of
  // letting it recompute σ: the same numbers, so the answer must not change by a bit.
  for (Activation act : kNonlinear) {
    Case<T> c(30, 12, 5, act, 0.3, 0.7, 21);
    Mat<T> Fl(c.G.rows(), c.G.cols());
    activate<T>(act, c.G, Fl);
    for (int which = 0; which < 2; ++which) {
      Mat<T> W1 = c.Wk, W2 = c.Wk;
      Vec<T> b1 = c.bk, b2 = c.bk;
      ProxProblem<T> with = c.problem;
      with.output = &Fl;
      if (which == 0) {
        GaussNewtonCgSolver<T>().solve(c.problem, W1, b1, nullptr);
        GaussNewtonCgSolver<T>().solve(with, W2, b2, nullptr);
      } else {
        GaussNewtonExactSolver<T>().solve(c.problem, W1, b1, nullptr);
        GaussNewtonExactSolver<T>().solve(with, W2, b2, nullptr);
      }
      ASSERT_GT((W1 - c.Wk).norm(), T(0)) << to_string(act);
      EXPECT_EQ((W1 - W2).norm(), T(0)) << to_string(act) << " " << which;
      EXPECT_EQ((b1 - b2).norm(), T(0)) << to_string(act) << " " << which;
    }
  }
}

TEST(GaussNewtonCostModel, PicksTheSpaceWhoseWorkIsSmaller) {
  // Sample space costs ~n² per row and CG step, parameter space ~n·d: the model must
  // choose sample space for a batch far below the layer's input width and parameter
  // space far above it, with one crossover in between as the batch grows.
  EXPECT_EQ(resolve_cg_space(CgSpace::Auto, 500, 784, 10, 5), CgSpace::Sample);
  EXPECT_EQ(resolve_cg_space(CgSpace::Auto, 500, 784, 100, 5), CgSpace::Sample);
  EXPECT_EQ(resolve_cg_space(CgSpace::Auto, 100, 100, 1000, 5), CgSpace::Parameter);
  EXPECT_EQ(resolve_cg_space(CgSpace::Auto, 10, 20, 5000, 5), CgSpace::Parameter);
  for (const auto& [d_out, d_in] : {std::pair<Index, Index>{500, 784}, {100, 100}, {2000, 2000}, {10, 500}}) {
    int switches = 0;
    CgSpace last = resolve_cg_space(CgSpace::Auto, d_out, d_in, 1, 5);
    EXPECT_EQ(last, CgSpace::Sample) << d_out << "x" << d_in;
    for (Index n = 2; n <= 20000; n += 1 + n / 50) {
      const CgSpace s = resolve_cg_space(CgSpace::Auto, d_out, d_in, n, 5);
      switches += s != last;
      last = s;
    }
    EXPECT_EQ(switches, 1) << d_out << "x" << d_in;
    EXPECT_EQ(last, CgSpace::Parameter) << d_out << "x" << d_in;
  }
  // A forced space is kept whatever the shapes.
  EXPECT_EQ(resolve_cg_space(CgSpace::Parameter, 500, 784, 10, 5), CgSpace::Parameter);
  EXPECT_EQ(resolve_cg_space(CgSpace::Sample, 10, 20, 5000, 5), CgSpace::Sample);
  EXPECT_EQ(parse_cg_space("auto"), CgSpace::Auto);
  EXPECT_EQ(parse_cg_space("sample"), CgSpace::Sample);
  EXPECT_EQ(parse_cg_space("parameter"), CgSpace::Parameter);
  EXPECT_THROW(parse_cg_space("samples"), UsageError);
  EXPECT_EQ(to_string(CgSpace::Parameter), "parameter");
}

TYPED_TEST(ProxFastTest, GaussNewtonCgRunsWhereItsOptionsSay) {
  using T = TypeParam;
  // d_in 30, n 12: the model picks sample space; n 200 > d_in: parameter space.
  for (const auto& [m, expected] : {std::pair<Index, CgSpace>{12, CgSpace::Sample}, {200, CgSpace::Parameter}}) {
    Case<T> c(30, m, 5, Activation::ReLU, 0.3, 0.7, 22);
    for (CgSpace space : {CgSpace::Auto, CgSpace::Sample, CgSpace::Parameter}) {
      GaussNewtonOptions o;
      o.space = space;
      GaussNewtonCgSolver<T> solver(o);
      Mat<T> W = c.Wk;
      Vec<T> b = c.bk;
      solver.solve(c.problem, W, b, nullptr);
      EXPECT_EQ(solver.step().last_space(), space == CgSpace::Auto ? expected : space) << m;
      EXPECT_EQ(resolve_cg_space(CgSpace::Auto, 5, 30, m, o.cg_iterations), expected);
    }
  }
}

TYPED_TEST(ProxFastTest, GaussNewtonOnALinearLayerIsTheExactJointProx) {
  using T = TypeParam;
  // σ = identity: the linearisation is exact, so one Gauss–Newton step is the ridge solution.
  Case<T> c(20, 9, 4, Activation::Identity, 1.0, 0.5, 9);
  Mat<T> Wg = c.Wk, Wx = c.Wk;
  Vec<T> bg = c.bk, bx = c.bk;
  GaussNewtonExactSolver<T>().solve(c.problem, Wg, bg, nullptr);
  ExactLinearSolver<T>({true, RidgeMethod::Auto}).solve(c.problem, Wx, bx, nullptr);
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-10;
  EXPECT_LT((to_d<T>(Wg) - to_d<T>(Wx)).norm() / to_d<T>(Wx).norm(), tol);
  EXPECT_LT((to_d<T>(bg) - to_d<T>(bx)).norm() / to_d<T>(bx).norm(), tol);
}

TYPED_TEST(ProxFastTest, DiagnosticsAndDefaults) {
  using T = TypeParam;
  Case<T> c(10, 8, 3, Activation::Tanh, 0.3, 1.0, 10);
  Mat<T> W = c.Wk;
  Vec<T> b = c.bk;
  LayerDiagnostics diag;
  GaussNewtonCgSolver<T>().solve(c.problem, W, b, &diag);
  EXPECT_EQ(diag.solver_iterations, 5);  // default K = 5, tolerance 0: exactly 5 steps
  EXPECT_LT(diag.objective_after, diag.objective_before);
  // Solving twice with one instance (workspace reuse) gives the same answer.
  Mat<T> W2 = c.Wk;
  Vec<T> b2 = c.bk;
  GaussNewtonExactSolver<T> ex;
  ex.solve(c.problem, W2, b2, nullptr);
  Mat<T> W3 = c.Wk;
  Vec<T> b3 = c.bk;
  ex.solve(c.problem, W3, b3, nullptr);
  EXPECT_EQ((W2 - W3).norm(), T(0));
  EXPECT_EQ((b2 - b3).norm(), T(0));
}

// ---- inexact Gauss–Newton CG (ALGORITHMS.md §3.5): the forcing term cg_tolerance

TYPED_TEST(ProxFastTest, InexactGaussNewtonCgStopsEarlyOnAnEasyProblem) {
  using T = TypeParam;
  // A large λ makes the operator ≈ λI: the first CG step already meets θ = 0.1, so an
  // inexact solve takes 1 step (residual test) or 2 (the decrease test needs a second
  // step to compare with the first) where the fixed count takes 20, in either space.
  for (CgSpace space : {CgSpace::Sample, CgSpace::Parameter}) {
    for (CgStop stop : {CgStop::RelativeTotal, CgStop::RelativeDecrease}) {
      Case<T> c(30, 12, 5, Activation::Tanh, 0.3, 1e4, 21);
      GaussNewtonOptions o;
      o.cg_iterations = 20;
      o.cg_tolerance = 0.1;
      o.cg_stop = stop;
      o.space = space;
      Mat<T> W = c.Wk;
      Vec<T> b = c.bk;
      LayerDiagnostics diag;
      GaussNewtonCgSolver<T>(o).solve(c.problem, W, b, &diag);
      EXPECT_EQ(diag.solver_iterations, stop == CgStop::RelativeTotal ? 1 : 2) << to_string(space);
      EXPECT_GT((W - c.Wk).norm(), T(0));  // and it moved
    }
  }
}

TYPED_TEST(ProxFastTest, InexactGaussNewtonCgReachesTheExactStepAsTheToleranceGoesToZero) {
  using T = TypeParam;
  // θ → 0: the inexact step approaches the exact Gauss–Newton step, the iteration count
  // grows, and at the smallest θ the step is the exact one to round-off.
  const double last_tol = std::is_same_v<T, float> ? 2e-3 : 1e-8;
  const std::vector<double> thetas = std::is_same_v<T, float> ? std::vector<double>{0.5, 1e-1, 1e-2, 1e-6}
                                                              : std::vector<double>{0.5, 1e-1, 1e-2, 1e-4, 1e-13};
  for (Activation act : kNonlinear) {
    Case<T> c(15, 40, 6, act, 0.05, 1.0, 8);
    Mat<T> We = c.Wk;
    Vec<T> be = c.bk;
    GaussNewtonExactSolver<T>().solve(c.problem, We, be, nullptr);
    const Mat<double> dE = to_d<T>(Mat<T>(We - c.Wk));
    double previous_error = 1e300;
    int previous_iterations = 0;
    for (double theta : thetas) {
      GaussNewtonOptions o;
      o.cg_iterations = 500;
      o.cg_tolerance = theta;
      o.cg_stop = CgStop::RelativeTotal;  // the residual test bounds the distance to the solution
      Mat<T> W = c.Wk;
      Vec<T> b = c.bk;
      LayerDiagnostics diag;
      GaussNewtonCgSolver<T>(o).solve(c.problem, W, b, &diag);
      EXPECT_EQ(diag.line_search_exponents, std::vector<int>{0}) << "the full step is taken at this λ";
      const double error = (to_d<T>(Mat<T>(W - c.Wk)) - dE).norm() / dE.norm();
      EXPECT_LE(error, previous_error * 1.01) << to_string(act) << " θ=" << theta;
      EXPECT_GE(diag.solver_iterations, previous_iterations) << to_string(act) << " θ=" << theta;
      EXPECT_LT(diag.solver_iterations, 500);
      previous_error = error;
      previous_iterations = diag.solver_iterations;
    }
    EXPECT_LT(previous_error, last_tol) << to_string(act);
  }
}

TYPED_TEST(ProxFastTest, InexactGaussNewtonCgNeverIncreasesTheObjective) {
  using T = TypeParam;
  // The safeguard holds for any forcing term: φ after ≤ φ before, re-evaluated in double.
  for (Activation act : kNonlinear) {
    for (double theta : {0.9, 0.5, 0.1}) {
      for (unsigned seed = 1; seed <= 4; ++seed) {
        Case<T> c(20, 30, 7, act, 2.0, 0.05, seed);
        GaussNewtonOptions o;
        o.cg_iterations = 10;
        o.cg_tolerance = theta;
        o.cg_stop = seed % 2 ? CgStop::RelativeDecrease : CgStop::RelativeTotal;
        Mat<T> W = c.Wk;
        Vec<T> b = c.bk;
        LayerDiagnostics diag;
        GaussNewtonCgSolver<T>(o).solve(c.problem, W, b, &diag);
        EXPECT_GE(diag.solver_iterations, 1);
        const double slack = std::is_same_v<T, float> ? 1e-5 : 1e-12;
        EXPECT_LE(phi<T>(c, to_d<T>(W), to_d<T>(b)),
                  phi<T>(c, to_d<T>(c.Wk), to_d<T>(c.bk)) * (1 + slack))
            << to_string(act) << " θ=" << theta << " seed " << seed;
      }
    }
  }
}

TYPED_TEST(ProxFastTest, InexactGaussNewtonCgKeepsAFixedPoint) {
  using T = TypeParam;
  // §3.5: at a fixed point (T = σ(G^k), so the subproblem's gradient at θ^k is 0) the
  // inexact solver takes no step and returns θ^k bit for bit.
  Case<T> c(10, 8, 4, Activation::Sigmoid, 0.0, 1.0, 5);
  GaussNewtonOptions o;
  o.cg_tolerance = 0.5;
  Mat<T> W = c.Wk;
  Vec<T> b = c.bk;
  LayerDiagnostics diag;
  GaussNewtonCgSolver<T>(o).solve(c.problem, W, b, &diag);
  EXPECT_EQ(diag.solver_iterations, 0);
  EXPECT_EQ((W - c.Wk).norm(), T(0));
  EXPECT_EQ((b - c.bk).norm(), T(0));
}

TEST(ProxFastValidationTest, BadOptionsAndShapesThrowUsageError) {
  GaussNewtonOptions o;
  o.cg_iterations = 0;
  EXPECT_THROW(GaussNewtonCgSolver<double>{o}, UsageError);
  o = {};
  o.max_backtracks = -1;
  EXPECT_THROW(GaussNewtonExactSolver<double>{o}, UsageError);
  for (double theta : {-0.1, 1.0, std::nan("")}) {
    o = {};
    o.cg_tolerance = theta;  // θ ≥ 1 would stop before the first step
    EXPECT_THROW(GaussNewtonCgSolver<double>{o}, UsageError) << theta;
  }
  Case<double> c(5, 4, 2, Activation::Tanh, 0.1, 1.0, 11);
  Mat<double> Wbad = Mat<double>::Zero(2, 6);
  Vec<double> b = c.bk;
  EXPECT_THROW(GaussNewtonExactSolver<double>().solve(c.problem, Wbad, b, nullptr), UsageError);
  Mat<double> W = c.Wk;
  c.problem.lambda = 0;
  EXPECT_THROW(GaussNewtonCgSolver<double>().solve(c.problem, W, b, nullptr), UsageError);
  c.problem.lambda = 1;
  c.problem.G = nullptr;
  EXPECT_THROW(GaussNewtonCgSolver<double>().solve(c.problem, W, b, nullptr), UsageError);
}

}  // namespace
}  // namespace sibp
