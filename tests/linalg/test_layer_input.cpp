// DenseInput (src/linalg/layer_input.hpp): the operator view of an explicit
// F against the products with F̃ = [F; 1ᵀ] written out. Without the bias its
// products are Eigen's X·F and Y·Fᵀ bitwise (gemm() below its threshold), the
// bias and ones parts agree with the explicit F̃ to rounding, outputs may be
// blocks of larger matrices, and wrong shapes are refused.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>

#include "float_checks.hpp"
#include "test_support.hpp"
#include "core/thread_pool.hpp"
#include "linalg/layer_input.hpp"
#include "typed_scalars.hpp"

namespace sibp {
namespace {

using testing::bitwise_equal;

/// F̃ = [F; 1ᵀ].
template <typename T>
Mat<T> with_ones(const Mat<T>& F) {
  Mat<T> Ft(F.rows() + 1, F.cols());
  Ft.topRows(F.rows()) = F;
  Ft.row(F.rows()).setOnes();
  return Ft;
}

/// Each entry of a and b within `terms`·u of the matching entry of `scale`
/// (|X̃|·|F̃| for a sum of `terms` products: the worst case of rounding).
template <typename T>
void expect_within_rounding(const Mat<T>& got, const Mat<double>& exact, const Mat<double>& scale, Index terms) {
  ASSERT_EQ(got.rows(), exact.rows());
  ASSERT_EQ(got.cols(), exact.cols());
  const double u = std::numeric_limits<T>::epsilon() / 2;
  const Mat<double> err = (got.template cast<double>() - exact).cwiseAbs();
  EXPECT_TRUE((err.array() <= 2.0 * static_cast<double>(terms) * u * scale.array()).all())
      << "largest error / scale: " << (err.array() / scale.array()).maxCoeff();
}

SIBP_SCALAR_TYPED_SUITE(DenseInputTest);

TYPED_TEST(DenseInputTest, TimesIsXFPlusBiasAsTheExplicitOnesRowGives) {
  using T = TypeParam;
  std::mt19937 gen(21);
  for (Index d : {1, 9, 200}) {
    for (Index n : {1, 17, 300}) {
      SCOPED_TRACE(::testing::Message() << "d " << d << " n " << n);
      const Mat<T> F = testing::random_normal<T>(d, n, gen);
      const DenseInput<T> input(F);
      EXPECT_EQ(input.rows(), d);
      EXPECT_EQ(input.cols(), n);
      EXPECT_TRUE(input.holds_matrix());
      const Mat<T> X = testing::random_normal<T>(6, d, gen);
      const Vec<T> b = testing::random_normal<T>(6, 1, gen);
      Mat<T> out;
      // Without the bias: Eigen's X·F, bitwise.
      input.times(X, nullptr, out);
      Mat<T> XF(6, n);
      XF.noalias() = X * F;
      EXPECT_TRUE(bitwise_equal(out, XF));
      // With it: [X b]·F̃, to rounding (the bias is added after the sum here).
      input.times(X, b.data(), out);
      Mat<T> Xt(6, d + 1);
      Xt << X, b;
      const Mat<double> exact = Xt.template cast<double>() * with_ones<T>(F).template cast<double>();
      const Mat<double> scale = Xt.template cast<double>().cwiseAbs() * with_ones<T>(F).template cast<double>().cwiseAbs();
      expect_within_rounding<T>(out, exact, scale, d + 1);
      // matrix_or hands back F itself, not a copy.
      Mat<T> scratch;
      EXPECT_EQ(input.matrix_or(scratch).data(), F.data());
      EXPECT_EQ(scratch.size(), 0);
    }
  }
}

TYPED_TEST(DenseInputTest, TimesTransposedIsYFTransposedAndYOnes) {
  using T = TypeParam;
  std::mt19937 gen(22);
  for (Index d : {1, 9, 200}) {
    for (Index n : {1, 17, 300}) {
      SCOPED_TRACE(::testing::Message() << "d " << d << " n " << n);
      const Mat<T> F = testing::random_normal<T>(d, n, gen);
      const DenseInput<T> input(F);
      const Mat<T> Y = testing::random_normal<T>(5, n, gen);
      // Into the left columns of a (5, d + 1) matrix, ones into its last column:
      // how the solvers call it.
      Mat<T> out = Mat<T>::Constant(5, d + 1, std::numeric_limits<T>::quiet_NaN());
      input.times_transposed(Y, out.leftCols(d), out.col(d).data());
      Mat<T> YF(5, d);
      YF.noalias() = Y * F.transpose();
      EXPECT_TRUE(bitwise_equal(Mat<T>(out.leftCols(d)), YF));
      const Vec<T> ones = Y.rowwise().sum();
      EXPECT_TRUE(bitwise_equal(Mat<T>(out.col(d)), Mat<T>(ones)));
      // And that is Y·F̃ᵀ.
      const Mat<double> exact = Y.template cast<double>() * with_ones<T>(F).template cast<double>().transpose();
      const Mat<double> scale =
          Y.template cast<double>().cwiseAbs() * with_ones<T>(F).template cast<double>().cwiseAbs().transpose();
      expect_within_rounding<T>(out, exact, scale, n);
      // Without `ones`, into a block with an outer stride larger than its rows.
      Mat<T> big = Mat<T>::Zero(9, d + 3);
      input.times_transposed(Y, big.block(2, 1, 5, d), nullptr);
      EXPECT_TRUE(bitwise_equal(Mat<T>(big.block(2, 1, 5, d)), YF));
      big.block(2, 1, 5, d).setZero();
      EXPECT_TRUE(big.isZero(0));
    }
  }
}

TYPED_TEST(DenseInputTest, AboveTheGemmThresholdTheSameForAnyThreadCount) {
  // d = 400, n = 2000, 70 rows: 1.1e8 flops, cut into chunks on the pool.
  using T = TypeParam;
  std::mt19937 gen(23);
  const Mat<T> F = testing::random_normal<T>(400, 2000, gen);
  const DenseInput<T> input(F);
  const Mat<T> X = testing::random_normal<T>(70, 400, gen), Y = testing::random_normal<T>(70, 2000, gen);
  const Vec<T> b = testing::random_normal<T>(70, 1, gen);
  Mat<T> times[3], trans[3];
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    input.times(X, b.data(), times[threads - 1]);
    trans[threads - 1].resize(70, 401);
    input.times_transposed(Y, trans[threads - 1].leftCols(400), trans[threads - 1].col(400).data());
  }
  set_num_threads(0);
  for (int k : {1, 2}) {
    EXPECT_TRUE(bitwise_equal(times[0], times[k])) << k + 1 << " threads";
    EXPECT_TRUE(bitwise_equal(trans[0], trans[k])) << k + 1 << " threads";
  }
  Mat<T> Xt(70, 401);
  Xt << X, b;
  const Mat<double> Ft = with_ones<T>(F).template cast<double>();
  expect_within_rounding<T>(times[0], Xt.template cast<double>() * Ft,
                            Xt.template cast<double>().cwiseAbs() * Ft.cwiseAbs(), 401);
  expect_within_rounding<T>(trans[0], Y.template cast<double>() * Ft.transpose(),
                            Y.template cast<double>().cwiseAbs() * Ft.cwiseAbs().transpose(), 2000);
}

TYPED_TEST(DenseInputTest, RefusesShapesThatDoNotAgree) {
  using T = TypeParam;
  const Mat<T> F = Mat<T>::Ones(4, 6);
  const DenseInput<T> input(F);
  Mat<T> out;
  EXPECT_THROW(input.times(Mat<T>::Ones(2, 5), nullptr, out), std::invalid_argument);
  Mat<T> o(2, 4);
  EXPECT_THROW(input.times_transposed(Mat<T>::Ones(2, 5), o, nullptr), std::invalid_argument);
  Mat<T> o2(3, 4);
  EXPECT_THROW(input.times_transposed(Mat<T>::Ones(2, 6), o2, nullptr), std::invalid_argument);
  Mat<T> o3(2, 5);
  EXPECT_THROW(input.times_transposed(Mat<T>::Ones(2, 6), o3, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace sibp
