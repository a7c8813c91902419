// Activations σ and σ' (ALGORITHMS.md §1), checked against finite
// differences the way dlib's test_layer does: a random upstream gradient U
// turns the element-wise derivative into one scalar, ⟨U, σ(G)⟩, whose
// gradient with respect to G must be U ⊙ σ'(G).
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "nn/activation.hpp"
#include "expect_error.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using testing::random_normal;

const Activation kAll[] = {Activation::ReLU, Activation::LeakyReLU, Activation::Tanh,
                           Activation::Sigmoid, Activation::Identity};

// ‖a−b‖/‖a+b‖, mlpack's gradient-check measure.
double relative_error(const Mat<double>& a, const Mat<double>& b) {
  return (a - b).norm() / (a + b).norm();
}

TEST(Activation, DerivativeMatchesFiniteDifferencesAgainstRandomUpstreamGradient) {
  // Central differences with h = 1e-6 in double: truncation O(h²) ≈ 1e-12,
  // rounding ≈ 1e-16/h = 1e-10, so 1e-7 relative error leaves a wide margin
  // while a wrong derivative (e.g. a missing factor) gives O(1).
  const double h = 1e-6;
  Rng rng(7);
  for (Activation a : kAll) {
    SCOPED_TRACE(to_string(a));
    Mat<double> G = random_normal(5, 7, rng, 2.0);
    // Keep away from the kink of (leaky) ReLU, where σ' is not defined.
    for (Index i = 0; i < G.size(); ++i)
      if (std::abs(G.data()[i]) < 10 * h) G.data()[i] = 0.5;
    const Mat<double> U = random_normal(5, 7, rng);
    Mat<double> F(5, 7), S(5, 7);
    activate<double>(a, G, F);
    activation_derivative<double>(a, G, F, S);
    const Mat<double> analytic = U.cwiseProduct(S);

    Mat<double> numeric(5, 7), Fp(5, 7), Fm(5, 7);
    for (Index i = 0; i < G.size(); ++i) {
      Mat<double> Gp = G, Gm = G;
      Gp.data()[i] += h;
      Gm.data()[i] -= h;
      activate<double>(a, Gp, Fp);
      activate<double>(a, Gm, Fm);
      numeric.data()[i] = (U.cwiseProduct(Fp).sum() - U.cwiseProduct(Fm).sum()) / (2 * h);
    }
    EXPECT_LE(relative_error(analytic, numeric), 1e-7);

    // multiply_by_derivative is the same product, in place.
    Mat<double> D = U;
    multiply_by_derivative<double>(a, G, F, D);
    EXPECT_LE((D - analytic).cwiseAbs().maxCoeff(), 1e-15);
  }
}

TEST(Activation, ExactValuesOnChosenInputs) {
  Mat<double> G(1, 4);
  G << -2.0, 0.0, 0.5, 3.0;
  Mat<double> F(1, 4), S(1, 4);

  activate<double>(Activation::ReLU, G, F);
  EXPECT_EQ(F, (Mat<double>(1, 4) << 0.0, 0.0, 0.5, 3.0).finished());
  activation_derivative<double>(Activation::ReLU, G, F, S);
  // σ'(0) = 0 for ReLU, as ALGORITHMS.md §1 and PyTorch define it.
  EXPECT_EQ(S, (Mat<double>(1, 4) << 0.0, 0.0, 1.0, 1.0).finished());

  activate<double>(Activation::LeakyReLU, G, F);
  EXPECT_EQ(F, (Mat<double>(1, 4) << -0.02, 0.0, 0.5, 3.0).finished());
  activation_derivative<double>(Activation::LeakyReLU, G, F, S);
  EXPECT_EQ(S, (Mat<double>(1, 4) << 0.01, 0.01, 1.0, 1.0).finished());

  activate<double>(Activation::Sigmoid, G, F);
  EXPECT_EQ(F(0, 1), 0.5);
  activation_derivative<double>(Activation::Sigmoid, G, F, S);
  EXPECT_EQ(S(0, 1), 0.25);

  activate<double>(Activation::Tanh, G, F);
  EXPECT_EQ(F(0, 1), 0.0);
  activation_derivative<double>(Activation::Tanh, G, F, S);
  EXPECT_EQ(S(0, 1), 1.0);

  activate<double>(Activation::Identity, G, F);
  EXPECT_EQ(F, G);
  activation_derivative<double>(Activation::Identity, G, F, S);
  EXPECT_EQ(S, Mat<double>::Ones(1, 4));
}

TEST(Activation, SigmoidAndTanhSaturateWithoutNaN) {
  Mat<float> G(1, 4);
  G << -1000.f, -90.f, 90.f, 1000.f;
  Mat<float> F(1, 4), S(1, 4);
  activate<float>(Activation::Sigmoid, G, F);
  ASSERT_TRUE(F.allFinite());
  EXPECT_EQ(F(0, 0), 0.f);
  EXPECT_EQ(F(0, 3), 1.f);
  activation_derivative<float>(Activation::Sigmoid, G, F, S);
  EXPECT_TRUE(S.allFinite());
  activate<float>(Activation::Tanh, G, F);
  EXPECT_EQ(F(0, 0), -1.f);
  EXPECT_EQ(F(0, 3), 1.f);
}

TEST(Activation, ActivateInPlaceAliasing) {
  Rng rng(3);
  const Mat<double> G = random_normal(3, 4, rng);
  for (Activation a : kAll) {
    Mat<double> expected(3, 4);
    activate<double>(a, G, expected);
    Mat<double> inplace = G;
    activate<double>(a, inplace, inplace);
    EXPECT_EQ(inplace, expected) << to_string(a);
  }
}

TEST(Activation, ParseRoundTripsAndRejectsUnknownNames) {
  for (Activation a : kAll) EXPECT_EQ(parse_activation(to_string(a)), a);
  EXPECT_EQ(parse_activation("leaky_relu"), Activation::LeakyReLU);
  EXPECT_EQ(parse_activation("linear"), Activation::Identity);
  testing::expect_mentions(testing::error_message<UsageError>([] { (void)parse_activation("softplus"); }),
                           {"softplus", "relu"});
}

}  // namespace
}  // namespace sibp
