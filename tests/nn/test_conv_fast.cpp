// The fast convolution and pooling paths (src/nn/conv_kernels.hpp, the
// convolution's LayerInput in src/nn/layers.cpp) against the plain reference
// code on the same weights and inputs, in float:
// - the convolution's operator (X·P̃ and Y·P̃ᵀ through oneDNN, P never formed)
//   against products with the explicit patch matrix P = im2col(X), and its
//   matrix_or() against im2col;
// - Conv2d and MaxPool2d forward and backward_input on the Fast backend against
//   the Reference backend (shapes with stride, padding, odd sizes, channel
//   counts off the AVX-512 width, batches that cross oneDNN's sub-batch size);
// - the fast paths bit-identical for 1, 2 and 3 threads;
// - conv_backend() read from SIBP_CONV_BACKEND.
// Tolerances are the worst case of float rounding for the sums involved:
// |computed − exact| ≤ terms·u·(the same sum of absolute values), u = 2⁻²⁴,
// with the exact value computed in double from the same float inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "float_checks.hpp"
#include "scoped_threads.hpp"
#include "scoped_env.hpp"
#include "test_support.hpp"

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "nn/activation.hpp"
#include "nn/layers.hpp"

namespace sibp {
namespace {

using testing::bitwise_equal;
using testing::expect_within_rounding;
using testing::kU;
using testing::spec_of;

/// A convolution or pooling layer as the first layer of `arch` on `input`.
struct FirstLayer {
  NetworkSpec spec;
  std::unique_ptr<Layer<float>> layer;
  WindowGeometry g;
  FirstLayer(const std::string& arch, const std::string& input, std::mt19937& gen)
      : spec(spec_of(arch + " flatten dense(2)", input)),
        layer(make_layer<float>(spec.layers[0], spec.shapes[0], spec.shapes[1])),
        g(window_geometry(spec.layers[0], spec.shapes[0], spec.shapes[1])) {
    if (Params<float>* p = layer->params()) {
      p->W = testing::random_normal<float>(p->W.rows(), p->W.cols(), gen, 0.5);
      p->b = testing::random_normal<float>(p->b.size(), 1, gen, 0.5);
    }
  }
  const Shape& in() const { return spec.shapes[0]; }
  const Shape& out() const { return spec.shapes[1]; }
  /// A batch of m inputs in image layout (C, m·H·W).
  Mat<float> batch(Index m, std::mt19937& gen) const { return testing::random_normal<float>(in().channels, m * in().pixels(), gen); }
};

struct ConvCase {
  const char* arch;
  const char* input;
  Index m;  // sub-batches of DnnlConv2d::samples_per_task() = 10: one, one short, several
};

const ConvCase kConvCases[] = {
    {"conv(4,3,pad=1) relu", "1x8x8", 1},
    {"conv(5,3,stride=2,pad=1) tanh", "3x7x5", 10},
    {"conv(16,5,pad=2) sigmoid", "2x9x9", 23},
    {"conv(3,2,stride=2) leaky_relu", "4x6x6", 21},
    {"conv(8,3)", "16x5x5", 11},
    {"conv(6,1) relu", "3x4x4", 12},
    {"conv(7,3,stride=3,pad=2) tanh", "5x10x11", 13},
};

// ------------------------------------------------------ the conv operator ----

TEST(ConvInput, ProductsAgreeWithTheExplicitPatchMatrix) {
  ASSERT_EQ(DnnlConv2d::samples_per_task(), 10);
  std::mt19937 gen(31);
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE(std::string(c.arch) + " on " + c.input + ", m " + std::to_string(c.m));
    const FirstLayer L(c.arch, c.input, gen);
    const Mat<float> X = L.batch(c.m, gen);
    LayerRecord<float> rec;
    {
      ScopedConvBackend fast(ConvBackend::Fast);
      L.layer->forward(X, c.m, rec);
    }
    ASSERT_EQ(rec.P.size(), 0) << "the fast forward kept a patch matrix";
    const std::unique_ptr<LayerInput<float>> op = L.layer->input_operator(X, rec);
    EXPECT_FALSE(op->holds_matrix());
    Mat<float> P;
    im2col<float>(X, L.g, c.m, P);
    const Index d = P.rows(), n = P.cols(), c_out = L.layer->params()->W.rows();
    ASSERT_EQ(op->rows(), d);
    ASSERT_EQ(op->cols(), n);
    Mat<float> scratch;
    EXPECT_TRUE(bitwise_equal(Mat<float>(op->matrix_or(scratch)), P));

    const Mat<double> Pd = P.cast<double>(), Pa = Pd.cwiseAbs();
    // X·P̃ with the layer's row count (oneDNN), another one (through P), and X a
    // block with gaps between its columns (copied before oneDNN reads it).
    for (Index r : {c_out, c_out + 1}) {
      const Mat<float> Xw = testing::random_normal<float>(r, d, gen), xb = testing::random_normal<float>(r, 1, gen);
      Mat<float> out;
      op->times(Xw, xb.data(), out);
      const Mat<double> exact = (Xw.cast<double>() * Pd).colwise() + xb.col(0).cast<double>();
      const Mat<double> scale = (Xw.cast<double>().cwiseAbs() * Pa).colwise() + xb.col(0).cast<double>().cwiseAbs();
      expect_within_rounding(out, exact, scale, d + 1, "times, " + std::to_string(r) + " rows");
      op->times(Xw, nullptr, out);
      expect_within_rounding(out, Xw.cast<double>() * Pd, Xw.cast<double>().cwiseAbs() * Pa, d,
                             "times without bias");
      const Mat<float> wide = testing::random_normal<float>(r + 3, d, gen);
      op->times(wide.topRows(r), xb.data(), out);
      const Mat<double> exact2 = (wide.topRows(r).cast<double>() * Pd).colwise() + xb.col(0).cast<double>();
      expect_within_rounding(out, exact2, (wide.topRows(r).cast<double>().cwiseAbs() * Pa).colwise() +
                                               xb.col(0).cast<double>().cwiseAbs(),
                             d + 1, "times of a block");
    }
    // [Y·Pᵀ, Y·1]: into leftCols (written in place), into a block with an outer
    // stride (copied out), without the ones, and with another row count.
    for (Index r : {c_out, c_out + 2}) {
      const Mat<float> Y = testing::random_normal<float>(r, n, gen);
      const Mat<double> exact = Y.cast<double>() * Pd.transpose();
      const Mat<double> scale = Y.cast<double>().cwiseAbs() * Pa.transpose();
      const Mat<double> ones = Y.cast<double>().rowwise().sum();
      const Mat<double> ones_scale = Y.cast<double>().cwiseAbs().rowwise().sum();
      Mat<float> out = Mat<float>::Constant(r, d + 1, std::numeric_limits<float>::quiet_NaN());
      op->times_transposed(Y, out.leftCols(d), out.col(d).data());
      expect_within_rounding(out.leftCols(d), exact, scale, n, "times_transposed, " + std::to_string(r) + " rows");
      expect_within_rounding(out.col(d), ones, ones_scale, n, "times_transposed ones");
      Mat<float> big = Mat<float>::Zero(r + 4, d + 2);
      op->times_transposed(Y, big.block(1, 2, r, d), nullptr);
      expect_within_rounding(big.block(1, 2, r, d), exact, scale, n, "times_transposed into a block");
      big.block(1, 2, r, d).setZero();
      EXPECT_TRUE(big.isZero(0)) << "written outside the block";
      const Mat<float> tall = testing::random_normal<float>(r + 1, n, gen);
      Mat<float> out2(r, d);
      op->times_transposed(tall.topRows(r), out2, nullptr);
      expect_within_rounding(out2, tall.topRows(r).cast<double>() * Pd.transpose(),
                             tall.topRows(r).cast<double>().cwiseAbs() * Pa.transpose(), n,
                             "times_transposed of a block");
    }
  }
}

TEST(ConvInput, SameBitsForOneTwoAndThreeThreads) {
  std::mt19937 gen(32);
  const FirstLayer L("conv(16,5,pad=2) relu", "2x9x9", gen);
  const Index m = 37;  // 4 sub-batches, the last one short
  const Mat<float> X = L.batch(m, gen);
  LayerRecord<float> rec;
  ScopedConvBackend fast(ConvBackend::Fast);
  L.layer->forward(X, m, rec);
  const std::unique_ptr<LayerInput<float>> op = L.layer->input_operator(X, rec);
  const Mat<float> Xw = testing::random_normal<float>(16, op->rows(), gen), xb = testing::random_normal<float>(16, 1, gen), Y = testing::random_normal<float>(16, op->cols(), gen);
  Mat<float> times[3], trans[3];
  for (int t : {1, 2, 3}) {
    testing::ScopedThreads threads(t);
    op->times(Xw, xb.data(), times[t - 1]);
    trans[t - 1].resize(16, op->rows() + 1);
    op->times_transposed(Y, trans[t - 1].leftCols(op->rows()), trans[t - 1].col(op->rows()).data());
  }
  for (int k : {1, 2}) {
    EXPECT_TRUE(bitwise_equal(times[0], times[k])) << k + 1 << " threads";
    EXPECT_TRUE(bitwise_equal(trans[0], trans[k])) << k + 1 << " threads";
  }
}

// ------------------------------------------------- Conv2d: fast vs reference ----

TEST(Conv2dBackends, ForwardAndBackwardInputAgreeWithTheReference) {
  std::mt19937 gen(33);
  for (const ConvCase& c : kConvCases) {
    SCOPED_TRACE(std::string(c.arch) + " on " + c.input + ", m " + std::to_string(c.m));
    const FirstLayer L(c.arch, c.input, gen);
    const Params<float>& p = *L.layer->params();
    const Mat<float> X = L.batch(c.m, gen);
    LayerRecord<float> fast, ref;
    {
      ScopedConvBackend b(ConvBackend::Fast);
      L.layer->forward(X, c.m, fast);
    }
    {
      ScopedConvBackend b(ConvBackend::Reference);
      L.layer->forward(X, c.m, ref);
    }
    ASSERT_EQ(fast.P.size(), 0);
    ASSERT_GT(ref.P.size(), 0);
    const Index d = ref.P.rows(), c_out = p.W.rows();
    const Mat<double> Pd = ref.P.cast<double>();
    const Mat<double> exact = (p.W.cast<double>() * Pd).colwise() + p.b.cast<double>();
    const Mat<double> scale = (p.W.cast<double>().cwiseAbs() * Pd.cwiseAbs()).colwise() + p.b.cast<double>().cwiseAbs();
    expect_within_rounding(fast.G, exact, scale, d + 1, "fast G");
    expect_within_rounding(ref.G, exact, scale, d + 1, "reference G");
    // F = σ(G): σ is 1-Lipschitz for every activation here, so F differs by at
    // most G's difference plus the function's own rounding (a few ulps).
    ASSERT_EQ(fast.F.rows(), ref.F.rows());
    ASSERT_EQ(fast.F.cols(), ref.F.cols());
    const Mat<float> dF = (fast.F - ref.F).cwiseAbs(), dG = (fast.G - ref.G).cwiseAbs();
    EXPECT_TRUE((dF.array() <= dG.array() + 8 * kU * (1 + ref.F.array().abs())).all())
        << "largest F difference " << dF.maxCoeff();

    // backward_input: col2im(Wᵀ·d), each input entry a sum of at most c_out·k² products.
    const Mat<float> dG_in = testing::random_normal<float>(c_out, fast.G.cols(), gen);
    Mat<float> dX_fast, dX_ref, work;
    L.layer->backward_input(fast, dG_in, c.m, dX_fast, work);
    L.layer->backward_input(ref, dG_in, c.m, dX_ref, work);
    Mat<double> col, dX_exact, dX_scale;
    col = p.W.cast<double>().transpose() * dG_in.cast<double>();
    col2im<double>(col, L.g, c.m, dX_exact);
    col = p.W.cast<double>().cwiseAbs().transpose() * dG_in.cast<double>().cwiseAbs();
    col2im<double>(col, L.g, c.m, dX_scale);
    const Index terms = c_out * L.g.kernel * L.g.kernel;
    expect_within_rounding(dX_fast, dX_exact, dX_scale, terms, "fast backward_input");
    expect_within_rounding(dX_ref, dX_exact, dX_scale, terms, "reference backward_input");
  }
}

TEST(Conv2dBackends, FastPathHasTheSameBitsForOneTwoAndThreeThreads) {
  std::mt19937 gen(34);
  const FirstLayer L("conv(8,3,stride=2,pad=1) tanh", "3x12x12", gen);
  const Index m = 45;
  const Mat<float> X = L.batch(m, gen);
  ScopedConvBackend fast(ConvBackend::Fast);
  LayerRecord<float> rec[3];
  Mat<float> dX[3], work;
  Mat<float> dG;
  for (int t : {1, 2, 3}) {
    testing::ScopedThreads threads(t);
    L.layer->forward(X, m, rec[t - 1]);
    if (t == 1) dG = testing::random_normal<float>(8, rec[0].G.cols(), gen);
    L.layer->backward_input(rec[t - 1], dG, m, dX[t - 1], work);
  }
  for (int k : {1, 2}) {
    EXPECT_TRUE(bitwise_equal(rec[0].G, rec[k].G)) << k + 1 << " threads";
    EXPECT_TRUE(bitwise_equal(rec[0].F, rec[k].F)) << k + 1 << " threads";
    EXPECT_TRUE(bitwise_equal(dX[0], dX[k])) << k + 1 << " threads";
  }
}

TEST(Conv2dBackends, DoubleRunsTheReferenceOnEitherBackend) {
  // oneDNN has no f64 convolution: a double layer keeps its patch matrix.
  std::mt19937 gen(35);
  const NetworkSpec spec = spec_of("conv(3,3,pad=1) flatten dense(2)", "2x5x5");
  const auto layer = make_layer<double>(spec.layers[0], spec.shapes[0], spec.shapes[1]);
  ScopedConvBackend fast(ConvBackend::Fast);
  LayerRecord<double> rec;
  const Mat<double> X = testing::random_normal<float>(2, 3 * 25, gen).cast<double>();
  layer->forward(X, 3, rec);
  EXPECT_EQ(rec.P.cols(), 3 * 25);
  EXPECT_TRUE(layer->input_operator(X, rec)->holds_matrix());
}

// ----------------------------------------------- MaxPool2d: fast vs reference ----

/// Inputs with many ties (small integers), NaNs and infinities: the cases where
/// the winner rule (first maximum, NaN wins, a later NaN over an earlier one) matters.
Mat<float> awkward_batch(Index rows, Index cols, std::mt19937& gen) {
  std::uniform_int_distribution<int> v(-3, 3), kind(0, 39);
  Mat<float> X(rows, cols);
  for (Index k = 0; k < X.size(); ++k) {
    const int what = kind(gen);
    X.data()[k] = what == 0   ? std::numeric_limits<float>::quiet_NaN()
                  : what == 1 ? -std::numeric_limits<float>::infinity()
                  : what == 2 ? std::numeric_limits<float>::infinity()
                  : what == 3 ? -0.0f
                              : static_cast<float>(v(gen));
  }
  return X;
}

TEST(MaxPool2dBackends, FastTwoByTwoPoolHasTheReferencesBits) {
  // C: below, at, off and above the AVX-512 width of 16 floats; odd heights and
  // widths leave a row or column outside every window.
  std::mt19937 gen(36);
  int fast_runs = 0;
  for (Index C : {1, 3, 16, 17, 32, 35}) {
    for (const char* hw : {"8x8", "7x5", "5x7", "2x2", "3x3", "6x9"}) {
      for (Index m : {1, 3}) {
        const std::string input = std::to_string(C) + "x" + hw;
        SCOPED_TRACE("maxpool(2) on " + input + ", m " + std::to_string(m));
        const FirstLayer L("maxpool(2)", input, gen);
        const Mat<float> X = awkward_batch(C, m * L.in().pixels(), gen);
        LayerRecord<float> fast, ref;
        {
          ScopedConvBackend b(ConvBackend::Fast);
          L.layer->forward(X, m, fast);
        }
        {
          ScopedConvBackend b(ConvBackend::Reference);
          L.layer->forward(X, m, ref);
        }
        ASSERT_FALSE(fast.window_argmax.empty()) << "the fast pool did not run";
        ASSERT_TRUE(ref.window_argmax.empty());
        EXPECT_TRUE(bitwise_equal(fast.F, ref.F));
        // The adjoint sends each difference to the window's winner: the same
        // winners give the same bits (the odd row and column get zeros).
        const Mat<float> d = testing::random_normal<float>(C, fast.F.cols(), gen);
        Mat<float> dX_fast = Mat<float>::Constant(3, 3, 7.f), dX_ref, work;
        L.layer->backward_input(fast, d, m, dX_fast, work);
        L.layer->backward_input(ref, d, m, dX_ref, work);
        EXPECT_TRUE(bitwise_equal(dX_fast, dX_ref));
        ++fast_runs;
      }
    }
  }
  EXPECT_EQ(fast_runs, 6 * 6 * 2);
}

TEST(MaxPool2dBackends, OtherWindowsFallBackToTheReferenceLoop) {
  std::mt19937 gen(37);
  for (const char* window : {"maxpool(3,stride=2)", "maxpool(2,stride=1)", "maxpool(2,stride=3)", "maxpool(3)"}) {
    SCOPED_TRACE(window);
    const FirstLayer L(window, "17x7x9", gen);
    const Index m = 2;
    const Mat<float> X = awkward_batch(17, m * L.in().pixels(), gen);
    LayerRecord<float> fast, ref;
    {
      ScopedConvBackend b(ConvBackend::Fast);
      L.layer->forward(X, m, fast);
    }
    {
      ScopedConvBackend b(ConvBackend::Reference);
      L.layer->forward(X, m, ref);
    }
    EXPECT_TRUE(fast.window_argmax.empty());
    EXPECT_FALSE(fast.argmax.empty());
    EXPECT_TRUE(bitwise_equal(fast.F, ref.F));
    const Mat<float> d = testing::random_normal<float>(17, fast.F.cols(), gen);
    Mat<float> dX_fast, dX_ref, work;
    L.layer->backward_input(fast, d, m, dX_fast, work);
    L.layer->backward_input(ref, d, m, dX_ref, work);
    EXPECT_TRUE(bitwise_equal(dX_fast, dX_ref));
  }
}

TEST(MaxPool2dBackends, ReusedRecordSwitchesCleanlyBetweenBackends) {
  // A tape is reused batch after batch; switching the backend between two
  // passes must not leave the other path's arg-max behind.
  std::mt19937 gen(38);
  const FirstLayer L("maxpool(2)", "16x6x6", gen);
  const Mat<float> X = awkward_batch(16, 4 * 36, gen), d = testing::random_normal<float>(16, 4 * 9, gen);
  LayerRecord<float> rec, fresh;
  Mat<float> dX, dX_fresh, work;
  for (ConvBackend b : {ConvBackend::Fast, ConvBackend::Reference, ConvBackend::Fast}) {
    ScopedConvBackend scoped(b);
    L.layer->forward(X, 4, rec);
    EXPECT_TRUE(rec.argmax.empty() != rec.window_argmax.empty());
    LayerRecord<float> other;
    L.layer->forward(X, 4, other);
    L.layer->backward_input(rec, d, 4, dX, work);
    L.layer->backward_input(other, d, 4, dX_fresh, work);
    EXPECT_TRUE(bitwise_equal(dX, dX_fresh));
  }
}

// --------------------------------------------------------------- activations ----

TEST(Activation, ChunkedPassesHaveTheSameBitsForOneTwoAndThreeThreads) {
  // (16, 20 000): 5 column chunks of for_column_chunks.
  ASSERT_GT(column_chunks(16, 20000).count, 2);
  std::mt19937 gen(39);
  const Mat<float> G = testing::random_normal<float>(16, 20000, gen, 2.0);
  for (Activation a : {Activation::ReLU, Activation::LeakyReLU, Activation::Tanh, Activation::Sigmoid,
                       Activation::Identity}) {
    SCOPED_TRACE(to_string(a));
    Mat<float> F[3], S[3], D[3];
    for (int t : {1, 2, 3}) {
      testing::ScopedThreads threads(t);
      F[t - 1].resize(16, 20000);
      S[t - 1].resize(16, 20000);
      activate<float>(a, G, F[t - 1]);
      activation_derivative<float>(a, G, F[t - 1], S[t - 1]);
      D[t - 1] = G;
      multiply_by_derivative<float>(a, G, F[t - 1], D[t - 1]);
    }
    for (int k : {1, 2}) {
      EXPECT_TRUE(bitwise_equal(F[0], F[k])) << k + 1 << " threads";
      EXPECT_TRUE(bitwise_equal(S[0], S[k])) << k + 1 << " threads";
      EXPECT_TRUE(bitwise_equal(D[0], D[k])) << k + 1 << " threads";
    }
    // And the values are σ, σ' and d·σ' (to a few ulps of the vectorised σ).
    const Mat<double> g = G.cast<double>();
    Mat<double> f(16, 20000), s(16, 20000);
    for (Index k = 0; k < g.size(); ++k) {
      const testing::ActivationValue v = testing::activation_in_double(a, g.data()[k]);
      f.data()[k] = v.f;
      s.data()[k] = v.df;
    }
    EXPECT_LE((F[0].cast<double>() - f).cwiseAbs().maxCoeff(), 1e-6);
    EXPECT_LE((S[0].cast<double>() - s).cwiseAbs().maxCoeff(), 1e-6);
    EXPECT_LE((D[0].cast<double>() - g.cwiseProduct(s)).cwiseAbs().maxCoeff(), 1e-5);
  }
}

// ------------------------------------------------------- backend selection ----

TEST(ConvBackendSetting, FollowsSibpConvBackendAndTheSetter) {
  // The variable is read once, at the first conv_backend(); the test process
  // may have it set, so the start value is checked against it.
  const char* env = std::getenv("SIBP_CONV_BACKEND");
  const ConvBackend start = conv_backend();
  if (env && std::string(env) == "reference") {
    EXPECT_EQ(start, ConvBackend::Reference);
  } else if (!env || std::string(env).empty() || std::string(env) == "fast") {
    EXPECT_EQ(start, ConvBackend::Fast);
  }
  {
    ScopedConvBackend r(ConvBackend::Reference);
    EXPECT_EQ(conv_backend(), ConvBackend::Reference);
    {
      ScopedConvBackend f(ConvBackend::Fast);
      EXPECT_EQ(conv_backend(), ConvBackend::Fast);
    }
    EXPECT_EQ(conv_backend(), ConvBackend::Reference);
  }
  EXPECT_EQ(conv_backend(), start);
}

TEST(ConvBackendSettingDeathTest, EnvironmentSelectsTheBackendAtStartUp) {
  // The variable is read at the first conv_backend() of a process, which this
  // one has made already: each check runs in a fresh process ("threadsafe"
  // death tests re-execute the test binary), which inherits the variable.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const testing::ScopedEnv backend("SIBP_CONV_BACKEND", "reference");
  EXPECT_EXIT(std::exit(conv_backend() == ConvBackend::Reference ? 5 : 6), ::testing::ExitedWithCode(5), "");
  ::setenv("SIBP_CONV_BACKEND", "fast", 1);
  EXPECT_EXIT(std::exit(conv_backend() == ConvBackend::Fast ? 5 : 6), ::testing::ExitedWithCode(5), "");
  // An unknown value is a usage error naming the variable and the value.
  ::setenv("SIBP_CONV_BACKEND", "sideways", 1);
  EXPECT_EXIT(
      {
        try {
          conv_backend();
        } catch (const UsageError& e) {
          const std::string what = e.what();
          std::exit(what.find("SIBP_CONV_BACKEND") != std::string::npos && what.find("sideways") != std::string::npos
                        ? 3
                        : 4);
        }
        std::exit(0);
      },
      ::testing::ExitedWithCode(3), "");
}

}  // namespace
}  // namespace sibp
