// Tests for src/linalg/cg.hpp: CG against a Cholesky (LLT) solve, block CG,
// finite termination, warm start, option validation.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <random>

#include "core/error.hpp"
#include "linalg/cg.hpp"
#include "test_support.hpp"
#include "typed_scalars.hpp"

namespace sibp {
namespace {
using testing::random_normal;

// Per-precision tolerances. CG stops at relative residual `cg_tol`; the error in x is then
// at most cond(A)·cg_tol, and our matrices have cond(A) ≤ ~30 (see spd()), so `x_tol` leaves
// a margin of ~3x over that bound. Float cannot reach residuals much below 1e-6 (eps 6e-8
// times ‖A‖‖x‖ round-off in each product), hence its looser pair.
template <typename T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr double cg_tol = 1e-5;
  static constexpr double x_tol = 1e-3;
};
template <>
struct Tol<double> {
  static constexpr double cg_tol = 1e-12;
  static constexpr double x_tol = 1e-10;
};

// A = BᵀB/n + I: SPD with eigenvalues in [1, ~(1+√(k/n))² + 1], cond ≤ ~6 for k = n.
template <typename T>
Mat<T> spd(Index n, unsigned seed, double shift = 1.0) {
  const Mat<T> B = random_normal<T>(n, n, seed);
  Mat<T> A = B.transpose() * B / static_cast<T>(n);
  A.diagonal().array() += static_cast<T>(shift);
  return A;
}

template <typename T>
double rel_err(const Mat<T>& a, const Mat<T>& b) {
  return static_cast<double>((a - b).norm() / b.norm());
}

SIBP_SCALAR_TYPED_SUITE(CgTest);

TYPED_TEST(CgTest, SolvesSpdSystemLikeCholesky) {
  using T = TypeParam;
  const Index n = 60;
  const Mat<T> A = spd<T>(n, 1);
  const Vec<T> b = random_normal<T>(n, 1, 2);
  const Vec<T> x_ref = A.llt().solve(b);
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) { AX.noalias() = A * X; };
  CgOptions opt;
  opt.tolerance = Tol<T>::cg_tol;
  opt.max_iterations = 500;
  const CgResult<T> r = conjugate_gradient<T>(op, b, Vec<T>::Zero(n), opt);
  EXPECT_TRUE(r.converged);
  EXPECT_LE(r.residual, Tol<T>::cg_tol);
  EXPECT_GT(r.iterations, 0);
  EXPECT_LT(r.iterations, 500);
  EXPECT_LT(rel_err<T>(r.x, x_ref), Tol<T>::x_tol);
  // The reported residual is the true one, not a recursion artefact (up to round-off).
  const double true_res = static_cast<double>((b - A * r.x).norm() / b.norm());
  EXPECT_LT(true_res, 10 * Tol<T>::cg_tol + 1e-6);
}

TYPED_TEST(CgTest, BlockRowsSolvesEveryRowAgainstOneOperator) {
  using T = TypeParam;
  // X A = B, one system per row of X; each iteration is one GEMM with A.
  const Index n = 40, r = 7;
  const Mat<T> A = spd<T>(n, 3);
  Mat<T> B = random_normal<T>(r, n, 4);
  B.row(2).setZero();  // a zero right-hand side must give x = 0 without dividing by 0
  const Mat<T> X_ref = A.llt().solve(B.transpose()).transpose();
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) { AX.noalias() = X * A; };
  CgOptions opt;
  opt.tolerance = Tol<T>::cg_tol;
  opt.max_iterations = 500;
  const CgResult<T> res = block_conjugate_gradient<T>(op, B, Mat<T>::Zero(r, n), opt, CgSystems::Rows);
  EXPECT_TRUE(res.converged);
  EXPECT_LT(rel_err<T>(res.x, X_ref), Tol<T>::x_tol);
  EXPECT_EQ(res.x.row(2).norm(), T(0));
}

TYPED_TEST(CgTest, RelativeTotalTreatsTheSystemsAsOne) {
  using T = TypeParam;
  // Rows with very different right-hand sides: the per-row test waits for every row,
  // the total test stops once √Σ‖r_i‖² ≤ tol·√Σ‖b_i‖² -- never later than the per-row
  // test, and with the residual it claims.
  const Index n = 60, r = 5;
  const Mat<T> A = spd<T>(n, 7);
  Mat<T> B = random_normal<T>(r, n, 8);
  B.row(0) *= T(1000);
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) { AX.noalias() = X * A; };
  CgOptions opt;
  opt.tolerance = 1e-2;
  opt.max_iterations = 500;
  opt.stop = CgStop::Relative;
  const CgResult<T> per_row = block_conjugate_gradient<T>(op, B, Mat<T>::Zero(r, n), opt, CgSystems::Rows);
  opt.stop = CgStop::RelativeTotal;
  const CgResult<T> total = block_conjugate_gradient<T>(op, B, Mat<T>::Zero(r, n), opt, CgSystems::Rows);
  ASSERT_TRUE(per_row.converged);
  ASSERT_TRUE(total.converged);
  EXPECT_LE(total.iterations, per_row.iterations);
  EXPECT_GE(total.iterations, 1);
  const Mat<double> R = (B - total.x * A).template cast<double>();
  EXPECT_LE(R.norm(), 1e-2 * B.template cast<double>().norm() * (1 + 1e-3));
  // One iteration less would not have met the test: it stops at the first iterate that does.
  if (total.iterations > 1) {
    opt.max_iterations = total.iterations - 1;
    const CgResult<T> before = block_conjugate_gradient<T>(op, B, Mat<T>::Zero(r, n), opt, CgSystems::Rows);
    EXPECT_FALSE(before.converged);
  }
}

TYPED_TEST(CgTest, RelativeDecreaseStopsAfterTheFirstSmallStep) {
  using T = TypeParam;
  // The model q(X) = ½ΣxAxᵀ − ΣbxᵀT: the solve stops after the first step k ≥ 2 whose
  // decrease q(X_{k−1}) − q(X_k) is ≤ θ·(q(X_0) − q(X_1)), with X_k the k-step iterate.
  const Index n = 50, r = 6;
  const Mat<T> A = spd<T>(n, 13);
  const Mat<T> B = random_normal<T>(r, n, 14);
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) { AX.noalias() = X * A; };
  const auto q = [&](const Mat<T>& X) {
    const Mat<double> Xd = X.template cast<double>(), Ad = A.template cast<double>();
    return 0.5 * (Xd * Ad).cwiseProduct(Xd).sum() - B.template cast<double>().cwiseProduct(Xd).sum();
  };
  const auto iterate = [&](int k) {
    CgOptions o;
    o.tolerance = 0;
    o.max_iterations = k;
    return block_conjugate_gradient<T>(op, B, Mat<T>::Zero(r, n), o, CgSystems::Rows).x;
  };
  for (double theta : {0.5, 0.2, 0.05}) {
    CgOptions opt;
    opt.tolerance = theta;
    opt.max_iterations = 200;
    opt.stop = CgStop::RelativeDecrease;
    const CgResult<T> res = block_conjugate_gradient<T>(op, B, Mat<T>::Zero(r, n), opt, CgSystems::Rows);
    ASSERT_TRUE(res.converged);
    ASSERT_GE(res.iterations, 2);
    const double first = q(Mat<T>::Zero(r, n)) - q(iterate(1));
    const double slack = std::is_same_v<T, float> ? 1e-3 : 1e-9;
    const int k = res.iterations;
    EXPECT_LE(q(iterate(k - 1)) - q(iterate(k)), theta * first * (1 + slack)) << theta;
    for (int j = 2; j < k; ++j)
      EXPECT_GT(q(iterate(j - 1)) - q(iterate(j)), theta * first * (1 - slack)) << theta << " step " << j;
    EXPECT_LT(rel_err<T>(res.x, iterate(k)), 1e-5);
  }
}

TYPED_TEST(CgTest, LastStepEnergyReplacesTheOperatorWithTheSameIterate) {
  using T = TypeParam;
  // Without the last residual, the last step needs only ⟨p, Ap⟩: an energy function
  // gives it, the operator is applied one time fewer, and the iterate is the same up
  // to the rounding of that one inner product.
  const Index n = 30, r = 4;
  const Mat<T> A = spd<T>(n, 11);
  const Mat<T> B = random_normal<T>(r, n, 12);
  int op_calls = 0, energy_calls = 0;
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) {
    ++op_calls;
    AX.noalias() = X * A;
  };
  const BlockEnergy<T> energy = [&](const Mat<T>& X, Vec<T>& xAx) {
    ++energy_calls;
    xAx = (X * A).cwiseProduct(X).rowwise().sum();
  };
  for (int iters : {1, 2, 5}) {
    CgOptions opt;
    opt.tolerance = 0;
    opt.max_iterations = iters;
    opt.residual_after_last_step = false;
    Mat<T> X1 = Mat<T>::Zero(r, n), X2 = Mat<T>::Zero(r, n);
    BlockCg<T> cg;
    op_calls = 0;
    cg.solve(op, B, X1, opt);
    EXPECT_EQ(op_calls, iters);
    op_calls = 0;
    energy_calls = 0;
    const CgReport rep = cg.solve(op, B, X2, opt, CgSystems::Rows, nullptr, &energy);
    EXPECT_EQ(rep.iterations, iters);
    EXPECT_EQ(op_calls, iters - 1);
    EXPECT_EQ(energy_calls, 1);
    const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-13;
    EXPECT_LT(rel_err<T>(X2, X1), tol) << iters;
  }
  // With the last residual asked for, the energy is never used.
  CgOptions opt;
  opt.max_iterations = 3;
  opt.tolerance = 0;
  energy_calls = 0;
  Mat<T> X = Mat<T>::Zero(r, n);
  BlockCg<T>().solve(op, B, X, opt, CgSystems::Rows, nullptr, &energy);
  EXPECT_EQ(energy_calls, 0);
  EXPECT_THROW(BlockCg<T>().solve(op, B, X, opt, CgSystems::Columns, nullptr, &energy), UsageError);
}

TYPED_TEST(CgTest, BlockColumnsWithDifferentOperatorPerSystem) {
  using T = TypeParam;
  // Column i solves (A + i·I) x_i = b_i: the systems have different operators and so
  // different CG scalars; the per-system α, β must keep them independent.
  const Index n = 30, c = 5;
  const Mat<T> A = spd<T>(n, 5);
  const Mat<T> B = random_normal<T>(n, c, 6);
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) {
    AX.noalias() = A * X;
    for (Index i = 0; i < c; ++i) AX.col(i) += static_cast<T>(i) * X.col(i);
  };
  CgOptions opt;
  opt.tolerance = Tol<T>::cg_tol;
  opt.max_iterations = 500;
  const CgResult<T> res = block_conjugate_gradient<T>(op, B, Mat<T>::Zero(n, c), opt, CgSystems::Columns);
  EXPECT_TRUE(res.converged);
  for (Index i = 0; i < c; ++i) {
    Mat<T> Ai = A;
    Ai.diagonal().array() += static_cast<T>(i);
    const Mat<T> xi = Ai.llt().solve(B.col(i));
    EXPECT_LT(rel_err<T>(Mat<T>(res.x.col(i)), xi), Tol<T>::x_tol) << "system " << i;
  }
}

TYPED_TEST(CgTest, AsManyIterationsAsUnknownsIsExact) {
  using T = TypeParam;
  // In exact arithmetic CG terminates in n steps; tolerance 0 forces exactly n steps.
  // Round-off leaves an error of order eps·cond·n: 1e-9 in double, 1e-3 in float (n = 8,
  // cond ≤ ~6, plus the loss of A-orthogonality that float suffers).
  const Index n = 8;
  const Mat<T> A = spd<T>(n, 7);
  const Vec<T> b = random_normal<T>(n, 1, 8);
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) { AX.noalias() = A * X; };
  CgOptions opt;
  opt.tolerance = 0;
  opt.max_iterations = static_cast<int>(n);
  const CgResult<T> r = conjugate_gradient<T>(op, b, Vec<T>::Zero(n), opt);
  EXPECT_LE(r.iterations, n);
  const double tol = std::is_same_v<T, float> ? 1e-3 : 1e-9;
  EXPECT_LT(rel_err<T>(r.x, A.llt().solve(b)), tol);
  // With fewer steps than unknowns a generic problem is not solved yet: the test can fail.
  opt.max_iterations = 2;
  const CgResult<T> r2 = conjugate_gradient<T>(op, b, Vec<T>::Zero(n), opt);
  EXPECT_EQ(r2.iterations, 2);
  EXPECT_FALSE(r2.converged);
  EXPECT_GT(rel_err<T>(r2.x, A.llt().solve(b)), 1e-3);
}

TYPED_TEST(CgTest, WarmStartAtSolutionNeedsNoIteration) {
  using T = TypeParam;
  const Index n = 20;
  const Mat<T> A = Mat<T>::Identity(n, n) * T(2);  // exact in binary: A x* = b has no round-off
  const Vec<T> x_star = random_normal<T>(n, 1, 9);
  const Vec<T> b = A * x_star;
  int calls = 0;
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) {
    ++calls;
    AX.noalias() = A * X;
  };
  CgOptions opt;
  const CgResult<T> r = conjugate_gradient<T>(op, b, x_star, opt);
  EXPECT_EQ(r.iterations, 0);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(calls, 1);  // only the warm-start residual
  EXPECT_EQ((r.x - x_star).norm(), T(0));
}

TYPED_TEST(CgTest, WarmStartNearSolutionConvergesFaster) {
  using T = TypeParam;
  const Index n = 80;
  const Mat<T> A = spd<T>(n, 10, 0.05);  // smaller shift: cond ~ 80, CG needs many steps
  const Vec<T> b = random_normal<T>(n, 1, 11);
  const Vec<T> x_ref = A.llt().solve(b);
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) { AX.noalias() = A * X; };
  CgOptions opt;
  opt.tolerance = std::is_same_v<T, float> ? 1e-4 : 1e-8;
  opt.max_iterations = 1000;
  const CgResult<T> cold = conjugate_gradient<T>(op, b, Vec<T>::Zero(n), opt);
  const Vec<T> near = x_ref + T(1e-3) * random_normal<T>(n, 1, 12);
  const CgResult<T> warm = conjugate_gradient<T>(op, b, near, opt);
  EXPECT_TRUE(cold.converged);
  EXPECT_TRUE(warm.converged);
  EXPECT_LT(warm.iterations, cold.iterations);
}

TEST(CgOptionsTest, ValidateRejectsBadValues) {
  CgOptions o;
  o.max_iterations = -1;
  EXPECT_THROW(o.validate(), UsageError);
  o = CgOptions{};
  o.tolerance = -1;
  EXPECT_THROW(o.validate(), UsageError);
  o.tolerance = std::nan("");
  EXPECT_THROW(o.validate(), UsageError);
  EXPECT_NO_THROW(CgOptions{}.validate());
}

TEST(CgShapeTest, MismatchedShapesThrow) {
  BlockCg<double> cg;
  Mat<double> X = Mat<double>::Zero(3, 2);
  const Mat<double> B = Mat<double>::Ones(2, 3);
  const BlockOperator<double> op = [](const Mat<double>& X, Mat<double>& AX) { AX = X; };
  EXPECT_THROW(cg.solve(op, B, X, CgOptions{}), UsageError);
}

}  // namespace
}  // namespace sibp
