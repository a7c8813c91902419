// Tests for src/linalg/ridge.hpp: Cholesky vs Woodbury vs a dense QR reference,
// optimality conditions, the [W b] joint variant and ProxProp's scaling, CG solves.
#include <gtest/gtest.h>

#include <Eigen/QR>
#include <random>

#include "core/error.hpp"
#include "linalg/ridge.hpp"
#include "test_support.hpp"
#include "typed_scalars.hpp"

namespace sibp {
namespace {
using testing::random_normal;

// Per-precision tolerances for exact solves. Our problems have cond(λI + FFᵀ) ≤ ~100
// (F ~ N(0,1), λ = 1 or 0.5, shapes ≤ 40): a backward-stable solve then has relative
// error ≤ cond·eps ≈ 1e-14 in double and 1e-5 in float; the bounds leave ~10-100x margin.
template <typename T>
double sol_tol() { return std::is_same_v<T, float> ? 1e-3 : 1e-10; }

// Independent reference in double: the stacked least-squares problem
// [Fᵀ; √λ I] Wᵀ = [Rᵀ; √λ W0ᵀ] solved by column-pivoted QR (no normal equations).
Mat<double> dense_reference(const Mat<double>& F, const Mat<double>& R, const Mat<double>& W0, double lambda) {
  const Index d = F.rows(), m = F.cols();
  Mat<double> A(m + d, d);
  A.topRows(m) = F.transpose();
  A.bottomRows(d) = std::sqrt(lambda) * Mat<double>::Identity(d, d);
  Mat<double> rhs(m + d, R.rows());
  rhs.topRows(m) = R.transpose();
  rhs.bottomRows(d) = std::sqrt(lambda) * W0.transpose();
  return A.colPivHouseholderQr().solve(rhs).transpose();
}

template <typename T>
Mat<double> to_d(const Mat<T>& M) { return M.template cast<double>(); }

SIBP_SCALAR_TYPED_SUITE(RidgeTest);

struct Shape {
  Index d, m, d_out;
};

TYPED_TEST(RidgeTest, CholeskyWoodburyAndDenseReferenceAgree) {
  using T = TypeParam;
  // Both m < d (Woodbury's case) and m > d (Cholesky's case) shapes.
  for (const Shape s : {Shape{30, 12, 5}, Shape{8, 25, 4}}) {
    const Mat<T> F = random_normal<T>(s.d, s.m, 1);
    const Mat<T> R = random_normal<T>(s.d_out, s.m, 2);
    const Mat<T> W0 = random_normal<T>(s.d_out, s.d, 3, 0.1);
    const double lambda = 0.5;
    const Mat<double> ref = dense_reference(to_d<T>(F), to_d<T>(R), to_d<T>(W0), lambda);

    Mat<T> Wc(s.d_out, s.d), Ww(s.d_out, s.d), Wa(s.d_out, s.d);
    RidgeSolver<T> chol(RidgeMethod::Cholesky), wood(RidgeMethod::Woodbury), aut;
    EXPECT_EQ(chol.solve(F, R, W0, lambda, Wc), RidgeMethod::Cholesky);
    EXPECT_EQ(wood.solve(F, R, W0, lambda, Ww), RidgeMethod::Woodbury);
    const RidgeMethod picked = aut.solve(F, R, W0, lambda, Wa);
    EXPECT_EQ(picked, s.m < s.d ? RidgeMethod::Woodbury : RidgeMethod::Cholesky);
    EXPECT_LT((to_d<T>(Wc) - ref).norm() / ref.norm(), sol_tol<T>()) << "d=" << s.d << " m=" << s.m;
    EXPECT_LT((to_d<T>(Ww) - ref).norm() / ref.norm(), sol_tol<T>()) << "d=" << s.d << " m=" << s.m;
    EXPECT_LT((to_d<T>(Wa) - ref).norm() / ref.norm(), sol_tol<T>());
  }
}

TYPED_TEST(RidgeTest, GradientVanishesAtTheSolution) {
  using T = TypeParam;
  // ∇ψ = 2(WF − R)Fᵀ + 2λ(W − W0) must be ~0 relative to the size of its two parts
  // (ALGORITHMS.md §3.1 "prox optimality"). Float: terms of size ~‖R‖‖F‖ cancel, so round-off
  // leaves ~eps·cond relative; 1e-4 gives margin. Double: 1e-11.
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-11;
  for (RidgeMethod method : {RidgeMethod::Cholesky, RidgeMethod::Woodbury}) {
    const Index d = 20, m = 15, d_out = 6;
    const Mat<T> F = random_normal<T>(d, m, 4);
    const Mat<T> R = random_normal<T>(d_out, m, 5);
    const Mat<T> W0 = random_normal<T>(d_out, d, 6);
    const double lambda = 1.0;
    Mat<T> W = W0;
    RidgeSolver<T> solver(method);
    solver.solve(F, R, W, lambda, W);  // in place: W aliases W0
    const Mat<double> Fd = to_d<T>(F), Rd = to_d<T>(R), Wd = to_d<T>(W), W0d = to_d<T>(W0);
    const Mat<double> data_grad = 2 * (Wd * Fd - Rd) * Fd.transpose();
    const Mat<double> prox_grad = 2 * lambda * (Wd - W0d);
    const double scale = data_grad.norm() + prox_grad.norm();
    EXPECT_GT(scale, 1.0);  // the solution moved: the check is not vacuous
    EXPECT_LT((data_grad + prox_grad).norm() / scale, tol) << to_string(method);
  }
}

TYPED_TEST(RidgeTest, JointWithBiasMatchesExplicitOnesRow) {
  using T = TypeParam;
  const Index d = 16, m = 10, d_out = 4;
  const Mat<T> F = random_normal<T>(d, m, 7);
  const Mat<T> target = random_normal<T>(d_out, m, 8);
  const Mat<T> W0 = random_normal<T>(d_out, d, 9, 0.1);
  const Vec<T> b0 = random_normal<T>(d_out, 1, 10, 0.1);
  const double lambda = 2.0;
  Mat<double> Ft(d + 1, m);
  Ft << to_d<T>(F), Mat<double>::Ones(1, m);
  Mat<double> theta0(d_out, d + 1);
  theta0 << to_d<T>(W0), to_d<T>(Mat<T>(b0));
  const Mat<double> ref = dense_reference(Ft, to_d<T>(target), theta0, lambda);
  for (RidgeMethod method : {RidgeMethod::Auto, RidgeMethod::Cholesky, RidgeMethod::Woodbury}) {
    Mat<T> W = W0;
    Vec<T> b = b0;
    RidgeSolver<T> solver(method);
    solver.solve_with_bias(F, target, W, b, lambda, W, b);  // aliased in/out, as the solvers use it
    Mat<double> theta(d_out, d + 1);
    theta << to_d<T>(W), to_d<T>(Mat<T>(b));
    EXPECT_LT((theta - ref).norm() / ref.norm(), sol_tol<T>()) << to_string(method);
  }
}

TYPED_TEST(RidgeTest, ProxPropScalingIsLambdaEqualsOneOverTau) {
  using T = TypeParam;
  // ProxProp (§4): θ* = argmin ½‖θF̃ − Target‖² + 1/(2τ)‖θ − θ^k‖². Its gradient
  // (θF̃ − Target)F̃ᵀ + (θ − θ^k)/τ must vanish when we pass lambda = 1/τ.
  const double tau = 0.25;
  const Index d = 12, m = 9, d_out = 3;
  const Mat<T> F = random_normal<T>(d, m, 11);
  const Mat<T> target = random_normal<T>(d_out, m, 12);
  const Mat<T> W0 = random_normal<T>(d_out, d, 13);
  const Vec<T> b0 = random_normal<T>(d_out, 1, 14);
  Mat<T> W(d_out, d);
  Vec<T> b(d_out);
  RidgeSolver<T> solver;
  solver.solve_with_bias(F, target, W0, b0, 1.0 / tau, W, b);
  Mat<double> Ft(d + 1, m), theta(d_out, d + 1), theta0(d_out, d + 1);
  Ft << to_d<T>(F), Mat<double>::Ones(1, m);
  theta << to_d<T>(W), to_d<T>(Mat<T>(b));
  theta0 << to_d<T>(W0), to_d<T>(Mat<T>(b0));
  const Mat<double> g1 = (theta * Ft - to_d<T>(target)) * Ft.transpose();
  const Mat<double> g2 = (theta - theta0) / tau;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-11;
  EXPECT_LT((g1 + g2).norm() / (g1.norm() + g2.norm()), tol);
}

TYPED_TEST(RidgeTest, CgApproachesExactAndIsWarmStarted) {
  using T = TypeParam;
  const Index d = 14, m = 30, d_out = 5;
  const Mat<T> F = random_normal<T>(d, m, 15);
  const Mat<T> R = random_normal<T>(d_out, m, 16);
  const Mat<T> W0 = random_normal<T>(d_out, d, 17);
  const double lambda = 1.0;
  Mat<T> W_exact(d_out, d);
  RidgeSolver<T> solver;
  solver.solve(F, R, W0, lambda, W_exact);
  auto psi = [&](const Mat<T>& W) {
    return (to_d<T>(W) * to_d<T>(F) - to_d<T>(R)).squaredNorm() + lambda * (to_d<T>(W) - to_d<T>(W0)).squaredNorm();
  };
  // 0 iterations returns the warm start θ^k itself.
  Mat<T> W(d_out, d);
  CgReport r0 = solver.solve_cg(F, R, W0, lambda, 0, W);
  EXPECT_EQ(r0.iterations, 0);
  EXPECT_EQ((W - W0).norm(), T(0));
  // Each CG step decreases the quadratic ψ (CG minimises it over growing Krylov spaces).
  double prev = psi(W0);
  for (int n = 1; n <= 4; ++n) {
    CgReport r = solver.solve_cg(F, R, W0, lambda, n, W);
    EXPECT_EQ(r.iterations, n);
    const double now = psi(W);
    EXPECT_LT(now, prev) << "after " << n << " CG steps";
    prev = now;
  }
  // d iterations (the number of unknowns per row) reach the exact solution up to round-off.
  solver.solve_cg(F, R, W0, lambda, static_cast<int>(d), W);
  const double tol = std::is_same_v<T, float> ? 1e-3 : 1e-9;
  EXPECT_LT((to_d<T>(W) - to_d<T>(W_exact)).norm() / to_d<T>(W_exact).norm(), tol);
  // The [W b] version agrees with the exact [W b] solve.
  const Vec<T> b0 = random_normal<T>(d_out, 1, 18);
  Mat<T> We(d_out, d), Wc(d_out, d);
  Vec<T> be(d_out), bc(d_out);
  solver.solve_with_bias(F, R, W0, b0, lambda, We, be);
  const CgReport rc = solver.solve_with_bias_cg(F, R, W0, b0, lambda, 200, Wc, bc,
                                                std::is_same_v<T, float> ? 1e-6 : 1e-13);
  EXPECT_TRUE(rc.converged);
  EXPECT_LT((to_d<T>(Wc) - to_d<T>(We)).norm() / to_d<T>(We).norm(), tol);
  EXPECT_LT((to_d<T>(Mat<T>(bc)) - to_d<T>(Mat<T>(be))).norm() / to_d<T>(Mat<T>(be)).norm(), tol);
}

// With m < d, CG runs in sample space (iterates W0 + Z Fᵀ); forcing Cholesky runs the
// parameter-space CG. In exact arithmetic they are the same iterates, step by step,
// with and without the bias row, and report the same residuals.
TYPED_TEST(RidgeTest, SampleSpaceCgFollowsParameterSpaceCg) {
  using T = TypeParam;
  const Index d = 40, m = 12, d_out = 6;
  const Mat<T> F = random_normal<T>(d, m, 25);
  const Mat<T> R = random_normal<T>(d_out, m, 26);
  const Mat<T> W0 = random_normal<T>(d_out, d, 27);
  const Vec<T> b0 = random_normal<T>(d_out, 1, 28);
  RidgeSolver<T> sample(RidgeMethod::Woodbury), param(RidgeMethod::Cholesky), automatic;
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
  for (double lambda : {0.3, 20.0}) {
    for (int n = 0; n <= 7; ++n) {
      Mat<T> Ws(d_out, d), Wp(d_out, d), Wa(d_out, d);
      const CgReport rs = sample.solve_cg(F, R, W0, lambda, n, Ws);
      const CgReport rp = param.solve_cg(F, R, W0, lambda, n, Wp);
      automatic.solve_cg(F, R, W0, lambda, n, Wa);
      EXPECT_EQ(rs.iterations, rp.iterations);
      EXPECT_LT((to_d<T>(Ws) - to_d<T>(Wp)).norm() / to_d<T>(Wp).norm(), tol) << "n=" << n;
      EXPECT_NEAR(rs.residual, rp.residual, 1e3 * tol * (1 + rp.residual)) << "n=" << n;
      EXPECT_EQ((Wa - Ws).norm(), T(0)) << "Auto picks sample space when m < d";

      Vec<T> bs(d_out), bp(d_out);
      sample.solve_with_bias_cg(F, R, W0, b0, lambda, n, Ws, bs);
      param.solve_with_bias_cg(F, R, W0, b0, lambda, n, Wp, bp);
      EXPECT_LT((to_d<T>(Ws) - to_d<T>(Wp)).norm() / to_d<T>(Wp).norm(), tol) << "bias, n=" << n;
      EXPECT_LT((to_d<T>(Mat<T>(bs)) - to_d<T>(Mat<T>(bp))).norm() / to_d<T>(Mat<T>(bp)).norm(), tol)
          << "bias, n=" << n;
    }
  }
  // A tolerance stops both at the same step, and the sample-space answer may overwrite W0.
  Mat<T> Wp(d_out, d);
  const CgReport rp = param.solve_cg(F, R, W0, 1.0, 50, Wp, 1e-3);
  Mat<T> W_inplace = W0;
  const CgReport rs = sample.solve_cg(F, R, W_inplace, 1.0, 50, W_inplace, 1e-3);
  EXPECT_TRUE(rs.converged);
  EXPECT_EQ(rs.iterations, rp.iterations);
  EXPECT_LT((to_d<T>(W_inplace) - to_d<T>(Wp)).norm() / to_d<T>(Wp).norm(), 1e2 * tol);
}

// SampleSpaceCg::solve_from_zero (θ0 = 0: ‖b_i‖ read off the first residual's product)
// must follow solve() given ‖b_i‖ computed separately, bit for bit, with and without
// weights; and skipping the last residual (CgOptions::residual_after_last_step) must leave
// the iterate and its image Z·K bit for bit as they were, and report the same step count.
TYPED_TEST(RidgeTest, SampleSpaceCgFromZeroAndWithoutTheLastResidual) {
  using T = TypeParam;
  const Index d = 30, m = 10, d_out = 7;
  const Mat<T> F = random_normal<T>(d, m, 31);
  const Mat<T> S0 = random_normal<T>(d_out, m, 32);
  const Mat<T> w = random_normal<T>(d_out, m, 33).cwiseAbs();
  Mat<T> K;
  gram_of_columns<T>(F, true, K);
  Mat<T> Ft(d + 1, m);
  Ft << F, Mat<T>::Ones(1, m);
  EXPECT_LT(static_cast<double>((K - Ft.transpose() * Ft).norm() / K.norm()), 1e-6) << "K = F̃ᵀF̃";
  // ‖b_i‖ for b = S0 F̃ᵀ, formed explicitly.
  const Vec<T> bnorm = (S0 * Ft.transpose()).rowwise().norm();
  for (const Mat<T>* weights : {static_cast<const Mat<T>*>(nullptr), &w}) {
    for (int iters : {1, 3, 6}) {
      CgOptions o;
      o.max_iterations = iters;
      o.tolerance = 0;
      SampleSpaceCg<T> a, b, c;
      Mat<T> Za, Zb, Zc;
      const CgReport ra = a.solve(K, weights, T(0.5), S0, bnorm, o, Za);
      const CgReport rb = b.solve_from_zero(K, weights, T(0.5), S0, o, Zb);
      o.residual_after_last_step = false;
      const CgReport rc = c.solve_from_zero(K, weights, T(0.5), S0, o, Zc);
      ASSERT_GT(Za.norm(), T(0));
      EXPECT_EQ(ra.iterations, iters);
      EXPECT_EQ(rb.iterations, iters);
      EXPECT_EQ(rc.iterations, iters);
      // The scale differs only by the rounding of ‖b_i‖ (product with K against F̃ᵀ).
      EXPECT_NEAR(ra.residual, rb.residual, 1e-4 * (1 + ra.residual));
      EXPECT_EQ((Za - Zb).norm(), T(0)) << iters;
      EXPECT_EQ((a.ZK() - b.ZK()).norm(), T(0)) << iters;
      EXPECT_EQ((Zb - Zc).norm(), T(0)) << iters;
      EXPECT_EQ((b.ZK() - c.ZK()).norm(), T(0)) << iters;
      EXPECT_FALSE(rc.converged);
      Mat<T> out;
      c.swap_ZK(out);
      EXPECT_EQ((out - b.ZK()).norm(), T(0));
    }
  }
}

TEST(RidgeValidationTest, BadInputsThrowUsageError) {
  RidgeSolver<double> s;
  const Mat<double> F = Mat<double>::Ones(4, 3), R = Mat<double>::Ones(2, 3), W0 = Mat<double>::Zero(2, 4);
  Mat<double> W(2, 4);
  EXPECT_THROW(s.solve(F, R, W0, 0.0, W), UsageError);
  EXPECT_THROW(s.solve(F, R, W0, -1.0, W), UsageError);
  Mat<double> Wbad(2, 5);
  EXPECT_THROW(s.solve(F, R, W0, 1.0, Wbad), UsageError);
  const Mat<double> Rbad = Mat<double>::Ones(2, 4);
  EXPECT_THROW(s.solve(F, Rbad, W0, 1.0, W), UsageError);
  EXPECT_THROW(parse_ridge_method("qr"), UsageError);
  EXPECT_EQ(parse_ridge_method("woodbury"), RidgeMethod::Woodbury);
  EXPECT_EQ(resolve_ridge_method(RidgeMethod::Auto, 784, 100), RidgeMethod::Woodbury);
  EXPECT_EQ(resolve_ridge_method(RidgeMethod::Auto, 10, 100), RidgeMethod::Cholesky);
}

}  // namespace
}  // namespace sibp
