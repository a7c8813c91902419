// gemm() of src/linalg/gemm.hpp against Eigen's product: below
// kParallelGemmFlops it is exactly `C.noalias() = op(A)·op(B)` (bitwise, every
// transpose combination, with and without beta, wherever Eigen's own kernels
// compute it; see the first test); above it the product is cut
// into fixed chunks, so it agrees with Eigen's to rounding and is bitwise the
// same for 1, 2 and 3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

#include "scoped_threads.hpp"
#include "float_checks.hpp"
#include "test_support.hpp"
#include "core/thread_pool.hpp"
#include "linalg/gemm.hpp"
#include "typed_scalars.hpp"

namespace sibp {
namespace {

using testing::bitwise_equal;

/// The operand stored for op(X) of shape r×c: X itself or a c×r matrix to transpose.
template <typename T>
Mat<T> operand(Index r, Index c, Trans t, std::mt19937& gen) {
  return t == Trans::Yes ? testing::random_normal<T>(c, r, gen) : testing::random_normal<T>(r, c, gen);
}

/// Eigen's own expression for C = op(A)·op(B) + beta·C, as the call sites wrote it.
template <typename T>
void eigen_product(const Mat<T>& A, Trans ta, const Mat<T>& B, Trans tb, Mat<T>& C, T beta) {
  const bool a = ta == Trans::Yes, b = tb == Trans::Yes;
  if (beta == T(0)) {
    if (!a && !b) C.noalias() = A * B;
    else if (!a) C.noalias() = A * B.transpose();
    else if (!b) C.noalias() = A.transpose() * B;
    else C.noalias() = A.transpose() * B.transpose();
  } else {
    C *= beta;
    if (!a && !b) C.noalias() += A * B;
    else if (!a) C.noalias() += A * B.transpose();
    else if (!b) C.noalias() += A.transpose() * B;
    else C.noalias() += A.transpose() * B.transpose();
  }
}

/// |op(A)|·|op(B)|: the scale of each entry's rounding error.
template <typename T>
Mat<double> abs_product(const Mat<T>& A, Trans ta, const Mat<T>& B, Trans tb) {
  const Mat<double> a = A.template cast<double>().cwiseAbs(), b = B.template cast<double>().cwiseAbs();
  const Mat<double> oa = ta == Trans::Yes ? Mat<double>(a.transpose()) : a;
  const Mat<double> ob = tb == Trans::Yes ? Mat<double>(b.transpose()) : b;
  return oa * ob;
}

constexpr Trans kTrans[] = {Trans::No, Trans::Yes};

SIBP_SCALAR_TYPED_SUITE(GemmTest);

TYPED_TEST(GemmTest, BelowTheThresholdIsEigensProductBitwise) {
  // Shapes with M + N + K ≥ 20, which Eigen evaluates with its GEMM or GEMV
  // kernels (explicit SIMD, so the same bits in this -O1 test file as in the
  // -O3 library). Smaller products Eigen evaluates coefficient by coefficient
  // in inlined scalar code, whose rounding depends on the compiler flags
  // (-O3 contracts a·b + c into an FMA, -O1 does not): those are checked to
  // rounding in the next test.
  using T = TypeParam;
  std::mt19937 gen(11);
  testing::ScopedThreads threads(3);  // must not matter: one chunk, on the calling thread
  struct Shape {
    Index M, N, K;
  };
  for (const Shape s : {Shape{12, 5, 3}, Shape{64, 100, 785}, Shape{300, 100, 257}, Shape{33, 1, 90},
                        Shape{1, 40, 17}}) {
    ASSERT_EQ(gemm_chunks(s.M, s.N, s.K).count, 1);
    for (Trans ta : kTrans)
      for (Trans tb : kTrans)
        for (T beta : {T(0), T(1), T(-0.5)}) {
          SCOPED_TRACE(::testing::Message() << s.M << "x" << s.N << "x" << s.K << " tA " << (ta == Trans::Yes)
                                            << " tB " << (tb == Trans::Yes) << " beta " << beta);
          const Mat<T> A = operand<T>(s.M, s.K, ta, gen), B = operand<T>(s.K, s.N, tb, gen);
          const Mat<T> C0 = testing::random_normal<T>(s.M, s.N, gen);
          Mat<T> expected = C0, got = C0;
          eigen_product<T>(A, ta, B, tb, expected, beta);
          gemm<T>(A, ta, B, tb, got, beta);
          EXPECT_TRUE(bitwise_equal(got, expected));
        }
  }
}

TYPED_TEST(GemmTest, TinyProductsAgreeWithEigenToRounding) {
  using T = TypeParam;
  std::mt19937 gen(15);
  struct Shape {
    Index M, N, K;
  };
  for (const Shape s : {Shape{1, 1, 1}, Shape{7, 5, 3}, Shape{2, 9, 4}}) {
    for (Trans ta : kTrans)
      for (Trans tb : kTrans)
        for (T beta : {T(0), T(-0.5)}) {
          SCOPED_TRACE(::testing::Message() << s.M << "x" << s.N << "x" << s.K << " tA " << (ta == Trans::Yes)
                                            << " tB " << (tb == Trans::Yes) << " beta " << beta);
          const Mat<T> A = operand<T>(s.M, s.K, ta, gen), B = operand<T>(s.K, s.N, tb, gen);
          const Mat<T> C0 = testing::random_normal<T>(s.M, s.N, gen);
          Mat<T> expected = C0, got = C0;
          eigen_product<T>(A, ta, B, tb, expected, beta);
          gemm<T>(A, ta, B, tb, got, beta);
          const Mat<double> scale = abs_product<T>(A, ta, B, tb) +
                                    (static_cast<double>(beta) * C0.template cast<double>()).cwiseAbs();
          const double u = std::numeric_limits<T>::epsilon() / 2;
          const Mat<double> err = (got.template cast<double>() - expected.template cast<double>()).cwiseAbs();
          EXPECT_TRUE((err.array() <= 2.0 * static_cast<double>(s.K + 1) * u * scale.array()).all());
        }
  }
}

TYPED_TEST(GemmTest, BetaZeroIgnoresNaNsInTheOutput) {
  using T = TypeParam;
  std::mt19937 gen(12);
  for (Index K : {Index(20), Index(1000)}) {  // one chunk, and chunks on the pool
    const Index M = 150, N = 400;
    const Mat<T> A = testing::random_normal<T>(M, K, gen), B = testing::random_normal<T>(K, N, gen);
    Mat<T> C = Mat<T>::Constant(M, N, std::numeric_limits<T>::quiet_NaN());
    testing::ScopedThreads threads(2);
    gemm<T>(A, Trans::No, B, Trans::No, C);
    EXPECT_TRUE(C.allFinite()) << "K " << K;
  }
}

TYPED_TEST(GemmTest, WorksOnBlocksOfLargerMatrices) {
  // The solvers pass leftCols() and other blocks as operands and output; the
  // output here has an outer stride larger than its rows.
  using T = TypeParam;
  std::mt19937 gen(13);
  const Mat<T> big_a = testing::random_normal<T>(40, 50, gen), big_b = testing::random_normal<T>(60, 30, gen);
  const auto A = big_a.block(3, 5, 20, 35);  // (20, 35)
  const auto B = big_b.block(2, 4, 35, 17);  // (35, 17)
  Mat<T> big_c = Mat<T>::Zero(30, 25);
  gemm<T>(A, Trans::No, B, Trans::No, big_c.block(4, 6, 20, 17));
  Mat<T> expected(20, 17);
  expected.noalias() = Mat<T>(A) * Mat<T>(B);
  EXPECT_TRUE(bitwise_equal(Mat<T>(big_c.block(4, 6, 20, 17)), expected));
  // Nothing outside the block was written.
  big_c.block(4, 6, 20, 17).setZero();
  EXPECT_TRUE(big_c.isZero(0));
}

TYPED_TEST(GemmTest, RejectsShapesThatDoNotAgree) {
  using T = TypeParam;
  const Mat<T> A = Mat<T>::Ones(3, 4), B = Mat<T>::Ones(5, 2);
  Mat<T> C(3, 2);
  EXPECT_THROW(gemm<T>(A, Trans::No, B, Trans::No, C), std::invalid_argument);
  Mat<T> C2(3, 5);
  EXPECT_THROW(gemm<T>(A, Trans::No, B, Trans::No, C2), std::invalid_argument);
  Mat<T> C3(3, 5);  // A (3,4) · Bᵀ (2,5): K 4 vs 2
  EXPECT_THROW(gemm<T>(A, Trans::No, B, Trans::Yes, C3), std::invalid_argument);
  const Mat<T> B2 = Mat<T>::Ones(4, 2);
  Mat<T> wrong(2, 3);
  EXPECT_THROW(gemm<T>(A, Trans::No, B2, Trans::No, wrong), std::invalid_argument);
}

TEST(GemmChunks, CoverTheLongerSideInAlignedChunksAboveTheThreshold) {
  struct Shape {
    Index M, N, K;
  };
  for (const Shape s : {Shape{200, 500, 600}, Shape{900, 150, 400}, Shape{64, 78400, 400}, Shape{3000, 3000, 3000},
                        Shape{10, 10, 1000000}, Shape{100, 100, 100}}) {
    SCOPED_TRACE(::testing::Message() << s.M << "x" << s.N << "x" << s.K);
    const GemmChunks c = gemm_chunks(s.M, s.N, s.K);
    const double flops = 2.0 * s.M * s.N * s.K;
    const Index len = c.split_cols ? s.N : s.M;
    EXPECT_EQ(c.split_cols, s.N >= s.M);
    EXPECT_GE(c.count, 1);
    EXPECT_LE(c.count, 8);
    EXPECT_GE(c.size * c.count, len);
    EXPECT_LT(c.size * (c.count - 1), len);  // no empty chunk
    if (flops < kParallelGemmFlops) {
      EXPECT_EQ(c.count, 1);
    }
    if (c.count > 1) {
      EXPECT_EQ(c.size % (c.split_cols ? 8 : 48), 0);
    }
  }
  // The shapes the tests below use are cut.
  EXPECT_GT(gemm_chunks(200, 520, 600).count, 1);
  EXPECT_GT(gemm_chunks(620, 150, 600).count, 1);
}

TYPED_TEST(GemmTest, AboveTheThresholdAgreesWithEigenAndIsTheSameForAnyThreadCount) {
  using T = TypeParam;
  std::mt19937 gen(14);
  struct Shape {
    Index M, N, K;
  };
  // Split along columns (N ≥ M) and along rows, with a short last chunk.
  for (const Shape s : {Shape{200, 520, 600}, Shape{620, 150, 600}}) {
    ASSERT_GT(gemm_chunks(s.M, s.N, s.K).count, 1);
    for (Trans ta : kTrans)
      for (Trans tb : kTrans) {
        const T beta = ta == tb ? T(0) : T(0.75);  // both kinds, without doubling the run time
        SCOPED_TRACE(::testing::Message() << s.M << "x" << s.N << "x" << s.K << " tA " << (ta == Trans::Yes)
                                          << " tB " << (tb == Trans::Yes) << " beta " << beta);
        const Mat<T> A = operand<T>(s.M, s.K, ta, gen), B = operand<T>(s.K, s.N, tb, gen);
        const Mat<T> C0 = testing::random_normal<T>(s.M, s.N, gen);
        Mat<T> expected = C0;
        eigen_product<T>(A, ta, B, tb, expected, beta);
        Mat<T> got[3];
        for (int n : {1, 2, 3}) {
          testing::ScopedThreads threads(n);
          got[n - 1] = C0;
          gemm<T>(A, ta, B, tb, got[n - 1], beta);
        }
        EXPECT_TRUE(bitwise_equal(got[0], got[1]));
        EXPECT_TRUE(bitwise_equal(got[0], got[2]));
        // Both are sums of the same K products in possibly other orders: each
        // entry within K·u·(Σ_k |op(A)_ik||op(B)_kj| + |beta·C0_ij|), the worst
        // case of rounding, with the sum bounded by ‖row i‖·‖column j‖
        // (Cauchy–Schwarz) to keep the test cheap.
        const Mat<double> a = A.template cast<double>(), b = B.template cast<double>();
        const Vec<double> rows_a = ta == Trans::Yes ? Vec<double>(a.colwise().norm().transpose()) : Vec<double>(a.rowwise().norm());
        const Vec<double> cols_b = tb == Trans::Yes ? Vec<double>(b.rowwise().norm()) : Vec<double>(b.colwise().norm().transpose());
        const Mat<double> scale = rows_a * cols_b.transpose() +
                                  (static_cast<double>(beta) * C0.template cast<double>()).cwiseAbs();
        const double u = std::numeric_limits<T>::epsilon() / 2;
        const Mat<double> err = (got[0].template cast<double>() - expected.template cast<double>()).cwiseAbs();
        EXPECT_TRUE((err.array() <= 2.0 * static_cast<double>(s.K) * u * scale.array()).all())
            << "largest error / scale: " << (err.array() / scale.array()).maxCoeff();
      }
  }
}

}  // namespace
}  // namespace sibp
