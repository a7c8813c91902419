// The network's forward pass against a hand-written one, the tape-free
// predict() against the tape, and initialisation reproducibility.
#include <gtest/gtest.h>

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
  net.layer(0).W << 1, -1,
                    2, 1;
  net.layer(0).b << 0, -10;
  net.layer(1).W << 3, 5;
  net.layer(1).b << 1;
  Mat<double> X(2, 2);
  X << 4, 1,
       1, 2;
  Tape<double> tape;
  net.forward(X, tape);
  ASSERT_EQ(tape.num_layers(), 2u);
  EXPECT_EQ(tape.batch_size(), 2);
  EXPECT_EQ(tape.F[0], X);
  Mat<double> G1(2, 2);
  G1 << 3, -1,
        -1, -6;
  EXPECT_EQ(tape.G[1], G1);
  Mat<double> F1(2, 2);
  F1 << 3, 0,
        0, 0;
  EXPECT_EQ(tape.F[1], F1);
  EXPECT_EQ(tape.G[2], (Mat<double>(1, 2) << 10, 1).finished());
  EXPECT_EQ(tape.F[2], tape.G[2]);  // identity output
}

TEST(Network, PredictEqualsTapeOutputForEveryDepth) {
  // predict() ping-pongs between two buffers; the parity logic differs for
  // odd and even depths, so test both.
  Rng rng(5);
  for (std::vector<Index> widths : {std::vector<Index>{4, 3}, {4, 5, 3}, {4, 5, 6, 3}, {4, 2, 5, 6, 3}}) {
    Network<double> net(spec_of(widths, Activation::Tanh, Loss::SoftmaxCrossEntropy),
                        Initializer::parse("normal:0.5"), rng);
    Mat<double> X(4, 7);
    for (Index i = 0; i < X.size(); ++i) X.data()[i] = rng.normal();
    Tape<double> tape;
    net.forward(X, tape);
    Mat<double> out, scratch;
    net.predict(X, out, scratch);
    EXPECT_EQ(out, tape.F.back()) << widths.size() - 1 << " layers";
  }
}

TEST(Network, ShapesAndParameterCount) {
  Rng rng(1);
  Network<float> net(spec_of({784, 500, 10}, Activation::ReLU, Loss::SoftmaxCrossEntropy),
                     Initializer{}, rng);
  ASSERT_EQ(net.num_layers(), 2u);
  EXPECT_EQ(net.layer(0).W.rows(), 500);
  EXPECT_EQ(net.layer(0).W.cols(), 784);
  EXPECT_EQ(net.layer(1).b.size(), 10);
  EXPECT_EQ(net.num_parameters(), 784 * 500 + 500 + 500 * 10 + 10);
  EXPECT_EQ(net.layer(0).act, Activation::ReLU);
  EXPECT_EQ(net.layer(1).act, Activation::Identity);
}

TEST(Network, NormalInitHasRequestedSpreadAndSeedReproduces) {
  NetworkSpec s = spec_of({200, 100, 10}, Activation::ReLU, Loss::SoftmaxCrossEntropy);
  Rng a(42), b(42), c(43);
  Network<double> n1(s, Initializer::parse("normal:0.05"), a);
  Network<double> n2(s, Initializer::parse("normal:0.05"), b);
  Network<double> n3(s, Initializer::parse("normal:0.05"), c);
  EXPECT_EQ(n1.layer(0).W, n2.layer(0).W);
  EXPECT_EQ(n1.layer(1).b, n2.layer(1).b);
  EXPECT_NE(n1.layer(0).W, n3.layer(0).W);
  // 20 000 draws: the sample std is within 3% of 0.05 with overwhelming
  // probability (its relative standard error is 1/sqrt(2·20000) = 0.5%).
  const auto& W = n1.layer(0).W;
  const double mean = W.mean();
  const double sd = std::sqrt((W.array() - mean).square().mean());
  EXPECT_NEAR(mean, 0.0, 0.003);
  EXPECT_NEAR(sd, 0.05, 0.0015);
  // The same seed gives the same parameters in float, rounded.
  Rng d(42);
  Network<float> nf(s, Initializer::parse("normal:0.05"), d);
  EXPECT_EQ(nf.layer(0).W, n1.layer(0).W.cast<float>());
}

TEST(Network, CastKeepsValues) {
  Rng rng(9);
  Network<double> net(spec_of({3, 4, 2}, Activation::Sigmoid, Loss::SquaredError),
                      Initializer::parse("glorot"), rng);
  const Network<float> f = net.cast<float>();
  EXPECT_EQ(f.layer(0).W, net.layer(0).W.cast<float>());
  EXPECT_EQ(f.spec().hidden, Activation::Sigmoid);
  EXPECT_TRUE(f.all_finite());
}

TEST(Network, RejectsBadInputsAndWidths) {
  Network<double> net(spec_of({3, 2}, Activation::ReLU, Loss::SquaredError));
  Tape<double> tape;
  EXPECT_THROW(net.forward(Mat<double>::Zero(4, 2), tape), std::invalid_argument);
  EXPECT_EQ(NetworkSpec::parse_widths("784-500-10"), (std::vector<Index>{784, 500, 10}));
  EXPECT_THROW(NetworkSpec::parse_widths("784"), UsageError);
  EXPECT_THROW(NetworkSpec::parse_widths("784-0-10"), UsageError);
  EXPECT_THROW(NetworkSpec::parse_widths("784-x-10"), UsageError);
  EXPECT_THROW(Initializer::parse("normal:-1"), UsageError);
  EXPECT_THROW(Initializer::parse("uniform"), UsageError);
}

TEST(Network, AllFiniteDetectsNaN) {
  Network<double> net(spec_of({2, 2}, Activation::ReLU, Loss::SquaredError));
  EXPECT_TRUE(net.all_finite());
  net.layer(0).b[1] = std::nan("");
  EXPECT_FALSE(net.all_finite());
}

}  // namespace
}  // namespace sibp
