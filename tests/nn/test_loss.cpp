// Losses (ALGORITHMS.md §1): values on inputs whose answers are exact or
// known in closed form, gradients against finite differences, and the
// stability of log-softmax for huge logits.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "nn/loss.hpp"

namespace sibp {
namespace {

TEST(Loss, SquaredErrorExactValueAndGradient) {
  // Per sample ½‖f−y‖²: column 0 has residual (1, −2) → 2.5; column 1 (0.5, 0) → 0.125.
  Mat<double> F(2, 2), Y(2, 2);
  F << 1.0, 0.5,
       0.0, 3.0;
  Y << 0.0, 0.0,
       2.0, 3.0;
  Mat<double> D;
  EXPECT_EQ(loss_sum<double>(Loss::SquaredError, F, Y, &D), 2.625);
  EXPECT_EQ(loss_sum<double>(Loss::SquaredError, F, Y), 2.625);
  Mat<double> expected(2, 2);
  expected << 1.0, 0.5,
              -2.0, 0.0;
  EXPECT_EQ(D, expected);  // ∇_f ℓ = f − y, not divided by m
}

TEST(Loss, CrossEntropyOnEqualLogitsIsLogC) {
  // softmax of equal logits is uniform: ℓ = log C for any label; ∇ = 1/C − y.
  Mat<double> F = Mat<double>::Constant(4, 2, 3.0);
  Mat<double> Y = Mat<double>::Zero(4, 2);
  Y(1, 0) = 1;
  Y(3, 1) = 1;
  Mat<double> D;
  // Two samples, each log 4; 1e-15 relative allows log/exp rounding.
  EXPECT_NEAR(loss_sum<double>(Loss::SoftmaxCrossEntropy, F, Y, &D), 2 * std::log(4.0), 1e-15);
  Mat<double> expected = Mat<double>::Constant(4, 2, 0.25) - Y;
  EXPECT_LE((D - expected).cwiseAbs().maxCoeff(), 1e-16);
}

TEST(Loss, CrossEntropyHandComputedTwoClass) {
  // Logits (0, log 3): softmax = (1/4, 3/4). Label 0 → ℓ = log 4; label 1 → log(4/3).
  Mat<double> F(2, 2), Y(2, 2);
  F << 0.0, 0.0,
       std::log(3.0), std::log(3.0);
  Y << 1.0, 0.0,
       0.0, 1.0;
  Mat<double> D;
  const double loss = loss_sum<double>(Loss::SoftmaxCrossEntropy, F, Y, &D);
  EXPECT_NEAR(loss, std::log(4.0) + std::log(4.0 / 3.0), 1e-15);
  EXPECT_NEAR(D(0, 0), 0.25 - 1.0, 1e-15);
  EXPECT_NEAR(D(1, 0), 0.75, 1e-15);
  EXPECT_NEAR(D(0, 1), 0.25, 1e-15);
  EXPECT_NEAR(D(1, 1), 0.75 - 1.0, 1e-15);
}

TEST(Loss, CrossEntropyStableForLogitsOfPlusMinus1000) {
  // Naive exp(1000) overflows. With the max subtracted: logits (1000, −1000, 0),
  // label 0 → ℓ = log(1 + e^-2000 + e^-1000) = 0 exactly in floating point;
  // label 1 → ℓ = 2000; label 2 → 1000.
  for (int precision = 0; precision < 2; ++precision) {
    auto run = [](auto zero) {
      using T = decltype(zero);
      Mat<T> F(3, 3), Y = Mat<T>::Identity(3, 3);
      for (Index j = 0; j < 3; ++j) {
        F(0, j) = T(1000);
        F(1, j) = T(-1000);
        F(2, j) = T(0);
      }
      Mat<T> D;
      const double loss = loss_sum<T>(Loss::SoftmaxCrossEntropy, F, Y, &D);
      EXPECT_TRUE(std::isfinite(loss));
      EXPECT_TRUE(D.allFinite());
      EXPECT_DOUBLE_EQ(loss, 0.0 + 2000.0 + 1000.0);
      // softmax ≈ (1, 0, 0): gradient of sample 1 is (1, −1, 0).
      EXPECT_EQ(D(0, 0), T(0));
      EXPECT_EQ(D(0, 1), T(1));
      EXPECT_EQ(D(1, 1), T(-1));
    };
    if (precision == 0) run(0.0f);
    else run(0.0);
  }
}

TEST(Loss, GradientsMatchFiniteDifferences) {
  // Central differences, h = 1e-6 in double: error ≈ h² + 1e-16/h ≈ 1e-10
  // relative to O(1) gradients; 1e-7 relative error leaves margin.
  Rng rng(11);
  const double h = 1e-6;
  for (Loss loss : {Loss::SoftmaxCrossEntropy, Loss::SquaredError}) {
    SCOPED_TRACE(to_string(loss));
    Mat<double> F(4, 6), Y = Mat<double>::Zero(4, 6);
    for (Index i = 0; i < F.size(); ++i) F.data()[i] = 2 * rng.normal();
    for (Index j = 0; j < 6; ++j) {
      if (loss == Loss::SoftmaxCrossEntropy) Y(static_cast<Index>(rng.below(4)), j) = 1;
      else for (Index c = 0; c < 4; ++c) Y(c, j) = rng.normal();
    }
    Mat<double> D;
    loss_sum<double>(loss, F, Y, &D);
    Mat<double> numeric(4, 6);
    for (Index i = 0; i < F.size(); ++i) {
      Mat<double> Fp = F, Fm = F;
      Fp.data()[i] += h;
      Fm.data()[i] -= h;
      numeric.data()[i] = (loss_sum<double>(loss, Fp, Y) - loss_sum<double>(loss, Fm, Y)) / (2 * h);
    }
    EXPECT_LE((D - numeric).norm() / (D + numeric).norm(), 1e-7);
  }
}

TEST(Loss, ShapeMismatchThrows) {
  Mat<double> F(3, 2), Y(3, 3);
  F.setZero();
  Y.setZero();
  EXPECT_THROW(loss_sum<double>(Loss::SquaredError, F, Y), std::invalid_argument);
}

TEST(Loss, CountCorrectAndPredictClasses) {
  Mat<double> F(3, 4), Y = Mat<double>::Zero(3, 4);
  F << 0.1, 5.0, -1.0, 0.0,
       0.9, 1.0, -2.0, 2.0,
       0.2, 0.0, -0.5, 1.0;
  Y(1, 0) = 1;  // right
  Y(0, 1) = 1;  // right
  Y(0, 2) = 1;  // wrong: arg-max is row 2
  Y(2, 3) = 1;  // wrong: arg-max is row 1
  EXPECT_EQ(count_correct<double>(F, Y), 2);
  EXPECT_EQ(predict_classes<double>(F), (std::vector<int>{1, 0, 2, 1}));
}

TEST(Loss, ParseNames) {
  EXPECT_EQ(parse_loss("cross-entropy"), Loss::SoftmaxCrossEntropy);
  EXPECT_EQ(parse_loss("ce"), Loss::SoftmaxCrossEntropy);
  EXPECT_EQ(parse_loss("mse"), Loss::SquaredError);
  EXPECT_EQ(parse_loss(to_string(Loss::SquaredError)), Loss::SquaredError);
  EXPECT_THROW(parse_loss("hinge"), UsageError);
}

}  // namespace
}  // namespace sibp
