// The network's forward pass against a hand-written one, the tape-free
// predict() against the tape, and initialisation reproducibility.
#include <gtest/gtest.h>

#include <limits>

#include "test_support.hpp"

#include "core/error.hpp"
#include "core/rng.hpp"
#include "nn/network.hpp"

namespace sibp {
namespace {

using testing::spec_of;

TEST(Network, ForwardExactOnChosenParameters) {
  // 2-2-1 with ReLU, integer weights: every value is exact.
  Network<double> net(spec_of({2, 2, 1}, Activation::ReLU, Loss::SquaredError));
  net.params(0).W << 1, -1,
                     2, 1;
  net.params(0).b << 0, -10;
  net.params(1).W << 3, 5;
  net.params(1).b << 1;
  Mat<double> X(2, 2);
  X << 4, 1,
       1, 2;
  Tape<double> tape;
  net.forward(X, tape);
  ASSERT_EQ(tape.layers.size(), 2u);
  EXPECT_EQ(tape.batch_size(), 2);
  EXPECT_EQ(tape.input, X);
  EXPECT_EQ(tape.input_of(0), X);
  Mat<double> G1(2, 2);
  G1 << 3, -1,
        -1, -6;
  EXPECT_EQ(tape.layers[0].G, G1);
  Mat<double> F1(2, 2);
  F1 << 3, 0,
        0, 0;
  EXPECT_EQ(tape.layers[0].F, F1);
  EXPECT_EQ(tape.input_of(1), F1);
  EXPECT_EQ(tape.layers[1].G, (Mat<double>(1, 2) << 10, 1).finished());
  EXPECT_EQ(tape.layers[1].F, tape.layers[1].G);  // identity output
  EXPECT_EQ(&tape.output(), &tape.layers[1].F);
}

TEST(Network, PredictEqualsTapeOutputForEveryDepth) {
  // predict() runs on its own work tape; it must return that tape's output,
  // equal to a separate forward pass, for odd and even depths.
  Rng rng(5);
  for (std::vector<Index> widths : {std::vector<Index>{4, 3}, {4, 5, 3}, {4, 5, 6, 3}, {4, 2, 5, 6, 3}}) {
    Network<double> net(spec_of(widths, Activation::Tanh, Loss::SoftmaxCrossEntropy),
                        Initializer::parse("normal:0.5"), rng);
    Mat<double> X(4, 7);
    for (Index i = 0; i < X.size(); ++i) X.data()[i] = rng.normal();
    Tape<double> tape;
    net.forward(X, tape);
    Tape<double> work;
    const Mat<double>& out = net.predict(X, work);
    EXPECT_EQ(&out, &work.output());
    EXPECT_EQ(out, tape.output()) << widths.size() - 1 << " layers";
  }
}

TEST(Network, ShapesAndParameterCount) {
  Rng rng(1);
  Network<float> net(spec_of({784, 500, 10}, Activation::ReLU, Loss::SoftmaxCrossEntropy),
                     Initializer{}, rng);
  ASSERT_EQ(net.num_param_layers(), 2u);
  ASSERT_EQ(net.num_layers(), 2u);
  EXPECT_EQ(net.params(0).W.rows(), 500);
  EXPECT_EQ(net.params(0).W.cols(), 784);
  EXPECT_EQ(net.params(1).b.size(), 10);
  EXPECT_EQ(net.num_parameters(), 784 * 500 + 500 + 500 * 10 + 10);
  EXPECT_EQ(net.activation(0), Activation::ReLU);
  EXPECT_EQ(net.activation(1), Activation::Identity);
}

TEST(Network, NormalInitHasRequestedSpreadAndSeedReproduces) {
  NetworkSpec s = spec_of({200, 100, 10}, Activation::ReLU, Loss::SoftmaxCrossEntropy);
  Rng a(42), b(42), c(43);
  Network<double> n1(s, Initializer::parse("normal:0.05"), a);
  Network<double> n2(s, Initializer::parse("normal:0.05"), b);
  Network<double> n3(s, Initializer::parse("normal:0.05"), c);
  EXPECT_EQ(n1.params(0).W, n2.params(0).W);
  EXPECT_EQ(n1.params(1).b, n2.params(1).b);
  EXPECT_NE(n1.params(0).W, n3.params(0).W);
  // 20 000 draws: the sample std is within 3% of 0.05 with overwhelming
  // probability (its relative standard error is 1/sqrt(2·20000) = 0.5%).
  const auto& W = n1.params(0).W;
  const double mean = W.mean();
  const double sd = std::sqrt((W.array() - mean).square().mean());
  EXPECT_NEAR(mean, 0.0, 0.003);
  EXPECT_NEAR(sd, 0.05, 0.0015);
  // The same seed gives the same parameters in float, rounded.
  Rng d(42);
  Network<float> nf(s, Initializer::parse("normal:0.05"), d);
  EXPECT_EQ(nf.params(0).W, n1.params(0).W.cast<float>());
}

TEST(Network, CastKeepsValues) {
  Rng rng(9);
  Network<double> net(spec_of({3, 4, 2}, Activation::Sigmoid, Loss::SquaredError),
                      Initializer::parse("glorot"), rng);
  const Network<float> f = net.cast<float>();
  EXPECT_EQ(f.params(0).W, net.params(0).W.cast<float>());
  EXPECT_EQ(f.activation(0), Activation::Sigmoid);
  EXPECT_EQ(f.spec().arch_string(), net.spec().arch_string());
  EXPECT_TRUE(f.all_finite());
}

TEST(Network, RejectsBadInputsAndWidths) {
  Network<double> net(spec_of({3, 2}, Activation::ReLU, Loss::SquaredError));
  Tape<double> tape;
  EXPECT_THROW(net.forward(Mat<double>::Zero(4, 2), tape), std::invalid_argument);
  EXPECT_EQ(parse_widths("784-500-10"), (std::vector<Index>{784, 500, 10}));
  EXPECT_THROW(parse_widths("784"), UsageError);
  EXPECT_THROW(parse_widths("784-0-10"), UsageError);
  EXPECT_THROW(parse_widths("784-x-10"), UsageError);
  EXPECT_THROW(Initializer::parse("normal:-1"), UsageError);
  EXPECT_THROW(Initializer::parse("uniform"), UsageError);
}

TEST(Network, AllFiniteDetectsNaN) {
  Network<double> net(spec_of({2, 2}, Activation::ReLU, Loss::SquaredError));
  EXPECT_TRUE(net.all_finite());
  net.params(0).b[1] = std::nan("");
  EXPECT_FALSE(net.all_finite());
}

TEST(Network, AllFiniteDetectsEveryNonFiniteValueAnywhere) {
  // Every position of every tensor, NaN, +Inf and -Inf, in float and double; the
  // largest finite values must still count as finite.
  auto check = [](auto zero) {
    using T = decltype(zero);
    Network<T> net(spec_of({3, 4, 2}, Activation::ReLU, Loss::SquaredError));
    for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
      net.params(l).W.setConstant(std::numeric_limits<T>::max());
      net.params(l).b.setConstant(-std::numeric_limits<T>::max());
    }
    EXPECT_TRUE(net.all_finite());
    const T bad[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                     -std::numeric_limits<T>::infinity()};
    for (std::size_t l = 0; l < net.num_param_layers(); ++l)
      for (T v : bad) {
        for (Index k = 0; k < net.params(l).W.size(); ++k) {
          const T keep = net.params(l).W(k);
          net.params(l).W(k) = v;
          EXPECT_FALSE(net.all_finite()) << "layer " << l << " W entry " << k << " = " << v;
          net.params(l).W(k) = keep;
        }
        for (Index k = 0; k < net.params(l).b.size(); ++k) {
          const T keep = net.params(l).b(k);
          net.params(l).b(k) = v;
          EXPECT_FALSE(net.all_finite()) << "layer " << l << " b entry " << k << " = " << v;
          net.params(l).b(k) = keep;
        }
      }
    EXPECT_TRUE(net.all_finite());
  };
  check(0.0f);
  check(0.0);
}

}  // namespace
}  // namespace sibp
