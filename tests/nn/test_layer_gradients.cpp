// Back propagation through every layer kind (ALGORITHMS.md §2, §5) against
// central finite differences of the batch-mean loss, in double: the gradient
// w.r.t. every parameter (backprop_gradients) and w.r.t. the input (every
// layer's adjoint, Layer::backward_input, chained down to the data), for
// networks with strided and padded convolutions over several input channels,
// overlapping and gapped max and average pooling, flatten and dense layers,
// every activation and both losses.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_support.hpp"

#include "core/rng.hpp"
#include "nn/network.hpp"
#include "train/backprop.hpp"

namespace sibp {
namespace {

using testing::random_normal;
using testing::input_gradient;
using testing::mean_loss;
using testing::spec_of;

// Three networks; "ACT" is replaced by the activation under test.
//  0: conv with stride 2, padding 1, 2 input channels; flatten; dense.
//  1: conv over 3 channels, max pool, conv without padding, overlapping average
//     pool (stride 1 < kernel 2), implied flatten, two dense layers.
//  2: a first average pool with stride 2 ≠ kernel 3, conv with padding 2 larger
//     than half its kernel and stride 2, overlapping max pool, flatten, dense.
struct Net {
  const char* arch;
  const char* input;
};
const Net kNets[] = {
    {"conv(3,3,stride=2,pad=1) ACT flatten dense(4)", "2x7x7"},
    {"conv(4,3,pad=1) ACT maxpool(2) conv(3,2) ACT avgpool(2,stride=1) dense(5) ACT dense(3)", "3x8x8"},
    {"avgpool(3,stride=2) conv(2,3,stride=2,pad=2) ACT maxpool(2,stride=1) flatten dense(3)", "2x9x9"},
};

std::string with_activation(std::string arch, Activation act) {
  const std::string word = act == Activation::LeakyReLU ? "leaky_relu" : to_string(act);
  for (std::size_t at; (at = arch.find("ACT")) != std::string::npos;) arch.replace(at, 3, word);
  return arch;
}

Mat<double> random_targets(Index C, Index m, Loss loss, Rng& rng) {
  if (loss == Loss::SquaredError) return random_normal(C, m, rng);
  Mat<double> Y = Mat<double>::Zero(C, m);
  for (Index j = 0; j < m; ++j) Y(static_cast<Index>(rng.below(static_cast<std::uint64_t>(C))), j) = 1;
  return Y;
}

// The smallest distance of a (leaky) ReLU pre-activation from its kink, and of
// a max-pool window's maximum from its runner-up: finite differences are only
// valid when no perturbation crosses either. Exact ties at 0 (ReLU outputs of
// negative pre-activations, which are themselves away from the kink) are
// harmless: σ' = 0 there, so no difference flows through them either way.
double distance_to_nonsmooth_points(const Network<double>& net, const Mat<double>& X) {
  Tape<double> tape;
  net.forward(X, tape);
  double d = std::numeric_limits<double>::infinity();
  const NetworkSpec& spec = net.spec();
  for (std::size_t k = 0; k < net.num_layers(); ++k) {
    const LayerSpec& L = spec.layers[k];
    if (L.has_parameters() && (L.act == Activation::ReLU || L.act == Activation::LeakyReLU))
      d = std::min(d, tape.layers[k].G.cwiseAbs().minCoeff());
    if (L.kind != LayerKind::MaxPool2d || L.kernel == 1) continue;
    const Mat<double>& in = tape.input_of(k);
    const Shape& s = spec.shapes[k];
    const Shape& o = spec.shapes[k + 1];
    std::vector<double> window;
    for (Index j = 0; j < tape.batch_size(); ++j)
      for (Index c = 0; c < s.channels; ++c)
        for (Index u = 0; u < o.height; ++u)
          for (Index v = 0; v < o.width; ++v) {
            window.clear();
            for (Index ki = 0; ki < L.kernel; ++ki)
              for (Index kj = 0; kj < L.kernel; ++kj)
                window.push_back(in(c, (j * s.height + u * L.stride + ki) * s.width + v * L.stride + kj));
            std::partial_sort(window.begin(), window.begin() + 2, window.end(), std::greater<>());
            if (window[0] == 0 && window[1] == 0) continue;
            d = std::min(d, window[0] - window[1]);
          }
  }
  return d;
}

struct GradCase {
  int net;
  Activation act;
  Loss loss;
};

std::string case_name(const ::testing::TestParamInfo<GradCase>& info) {
  std::string name = "net" + std::to_string(info.param.net) + "_" + to_string(info.param.act) + "_" +
                     to_string(info.param.loss);
  for (char& ch : name)
    if (ch == '-') ch = '_';
  return name;
}

class LayerGradientCheck : public ::testing::TestWithParam<GradCase> {};

TEST_P(LayerGradientCheck, ParametersAndInputMatchCentralDifferences) {
  const GradCase c = GetParam();
  const std::string arch = with_activation(kNets[c.net].arch, c.act);
  SCOPED_TRACE(arch + " on " + kNets[c.net].input);
  const NetworkSpec spec = spec_of(arch, kNets[c.net].input, c.loss);
  // h = 1e-5: truncation O(h²)·|ℓ'''| ≈ 1e-10 and rounding 1e-16·|ℓ|/h ≈ 1e-11,
  // far below the 1e-6 bound on ‖g−ĝ‖/‖g+ĝ‖ (mlpack's measure), while a wrong
  // index, layout or factor in any layer gives O(1e-2) or more.
  const double h = 1e-5;
  const Index m = 3;
  Rng rng(500 + 100 * static_cast<std::uint64_t>(c.net) + 10 * static_cast<std::uint64_t>(c.act) +
          static_cast<std::uint64_t>(c.loss));
  Network<double> net;
  Mat<double> X, Y;
  // Redraw until every ReLU kink and max-pool near-tie is 1e-3 away: a
  // perturbation of h moves a pre-activation or a pooled value by at most ~h·10.
  for (int attempt = 0;; ++attempt) {
    ASSERT_LT(attempt, 200) << "could not draw a network away from kinks and ties";
    net = Network<double>(spec, Initializer::parse("normal:0.4"), rng);
    X = random_normal(spec.input_size(), m, rng);
    Y = random_targets(spec.output_size(), m, c.loss, rng);
    if (distance_to_nonsmooth_points(net, X) > 1e-3) break;
  }

  Tape<double> tape;
  Gradients<double> grads;
  BackpropWork<double> work;
  net.forward(X, tape);
  const double loss = backprop_gradients<double>(net, tape, Y, grads, work);
  EXPECT_NEAR(loss, mean_loss(net, X, Y), 1e-14 * std::max(1.0, loss));
  ASSERT_EQ(grads.dW.size(), net.num_param_layers());

  double diff2 = 0, sum2 = 0;
  auto central = [&](double& p) {
    const double saved = p;
    p = saved + h;
    const double up = mean_loss(net, X, Y);
    p = saved - h;
    const double down = mean_loss(net, X, Y);
    p = saved;
    return (up - down) / (2 * h);
  };
  auto accumulate = [](double analytic, double numeric, double& d2, double& s2) {
    d2 += (analytic - numeric) * (analytic - numeric);
    s2 += (analytic + numeric) * (analytic + numeric);
  };
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    Params<double>& p = net.params(i);
    double layer_d2 = 0, layer_s2 = 0;
    for (Index e = 0; e < p.W.size(); ++e)
      accumulate(grads.dW[i].data()[e], central(p.W.data()[e]), layer_d2, layer_s2);
    for (Index e = 0; e < p.b.size(); ++e)
      accumulate(grads.db[i].data()[e], central(p.b.data()[e]), layer_d2, layer_s2);
    ASSERT_GT(layer_s2, 0) << "parametrised layer " << i << " has a zero gradient: the check would be vacuous";
    EXPECT_LE(std::sqrt(layer_d2 / layer_s2), 1e-6) << "parametrised layer " << i;
    diff2 += layer_d2;
    sum2 += layer_s2;
  }
  EXPECT_LE(std::sqrt(diff2 / sum2), 1e-6);

  // The input: every layer's adjoint chained down to the data.
  const Mat<double> dX = input_gradient(net, X, Y);
  ASSERT_EQ(dX.rows(), X.rows());
  ASSERT_EQ(dX.cols(), X.cols());
  double xd2 = 0, xs2 = 0;
  for (Index e = 0; e < X.size(); ++e) accumulate(dX.data()[e], central(X.data()[e]), xd2, xs2);
  ASSERT_GT(xs2, 0);
  EXPECT_LE(std::sqrt(xd2 / xs2), 1e-6) << "input gradient";
}

std::vector<GradCase> all_cases() {
  std::vector<GradCase> cases;
  for (int n = 0; n < 3; ++n)
    for (Activation a :
         {Activation::ReLU, Activation::LeakyReLU, Activation::Tanh, Activation::Sigmoid, Activation::Identity})
      for (Loss l : {Loss::SoftmaxCrossEntropy, Loss::SquaredError}) cases.push_back({n, a, l});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(EveryLayerKindActivationAndLoss, LayerGradientCheck, ::testing::ValuesIn(all_cases()),
                         case_name);

TEST(LayerGradients, FloatAgreesWithDoubleOnACnn) {
  // The float instantiation of every layer computes the same thing: float
  // rounding (6e-8) over sums of ~10² terms gives ~1e-6 relative; 1e-4 catches
  // any real difference.
  const NetworkSpec spec = spec_of(with_activation(kNets[1].arch, Activation::Tanh), kNets[1].input);
  Rng rng(77);
  const Network<double> net(spec, Initializer::parse("normal:0.3"), rng);
  const Mat<double> X = random_normal(spec.input_size(), 5, rng);
  const Mat<double> Y = random_targets(3, 5, Loss::SoftmaxCrossEntropy, rng);
  Tape<double> tape;
  Gradients<double> gd;
  BackpropWork<double> work;
  net.forward(X, tape);
  backprop_gradients<double>(net, tape, Y, gd, work);
  const Network<float> netf = net.cast<float>();
  Tape<float> tapef;
  Gradients<float> gf;
  BackpropWork<float> workf;
  netf.forward(X.cast<float>(), tapef);
  backprop_gradients<float>(netf, tapef, Y.cast<float>(), gf, workf);
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    EXPECT_LE((gf.dW[i].cast<double>() - gd.dW[i]).norm() / gd.dW[i].norm(), 1e-4) << i;
    EXPECT_LE((gf.db[i].cast<double>() - gd.db[i]).norm() / gd.db[i].norm(), 1e-4) << i;
  }
}

TEST(LayerGradients, BackpropReusesItsWorkAcrossBatchSizes) {
  // The same work buffers and tape for batches of 4, then 2, then 4 samples give
  // the gradients a fresh computation gives (bit for bit: the same operations).
  const NetworkSpec spec = spec_of(with_activation(kNets[2].arch, Activation::Sigmoid), kNets[2].input);
  Rng rng(78);
  const Network<double> net(spec, Initializer::parse("normal:0.3"), rng);
  Tape<double> tape;
  Gradients<double> g;
  BackpropWork<double> work;
  for (Index m : {4, 2, 4}) {
    const Mat<double> X = random_normal(spec.input_size(), m, rng);
    const Mat<double> Y = random_targets(3, m, Loss::SoftmaxCrossEntropy, rng);
    net.forward(X, tape);
    const double loss = backprop_gradients<double>(net, tape, Y, g, work);
    Tape<double> fresh_tape;
    Gradients<double> fresh;
    BackpropWork<double> fresh_work;
    net.forward(X, fresh_tape);
    EXPECT_EQ(backprop_gradients<double>(net, fresh_tape, Y, fresh, fresh_work), loss);
    for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
      EXPECT_EQ(g.dW[i], fresh.dW[i]) << "m " << m << " layer " << i;
      EXPECT_EQ(g.db[i], fresh.db[i]) << "m " << m << " layer " << i;
    }
  }
}

}  // namespace
}  // namespace sibp
