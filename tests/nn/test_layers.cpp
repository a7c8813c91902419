// The layer kinds of src/nn/layers.hpp: layouts (vectors ↔ image, im2col and
// its adjoint col2im) and every layer's forward pass against a literal
// implementation of PyTorch's definitions (Conv2d: cross-correlation with zero
// padding; MaxPool2d with ties to the first maximum in row-major order and NaN
// winning; AvgPool2d; Flatten in (C, H, W) order), ALGORITHMS.md §5.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "test_support.hpp"

#include "core/rng.hpp"
#include "nn/layers.hpp"
#include "nn/network.hpp"

namespace sibp {
namespace {

using testing::random_normal;
using testing::spec_of;

/// Entry (c, y, x) of sample j of an image-layout batch (C, m·H·W).
double& pixel(Mat<double>& img, const Shape& s, Index j, Index c, Index y, Index x) {
  return img(c, (j * s.height + y) * s.width + x);
}
double pixel(const Mat<double>& img, const Shape& s, Index j, Index c, Index y, Index x) {
  return img(c, (j * s.height + y) * s.width + x);
}

WindowGeometry geometry(Index C, Index H, Index W, Index k, Index stride, Index pad) {
  WindowGeometry g;
  g.channels = C;
  g.height = H;
  g.width = W;
  g.kernel = k;
  g.stride = stride;
  g.pad = pad;
  g.out_height = (H + 2 * pad - k) / stride + 1;
  g.out_width = (W + 2 * pad - k) / stride + 1;
  return g;
}

// ------------------------------------------------------------- layouts ----

TEST(Layout, VectorsToImageIsPyTorchsChannelRowColumnOrder) {
  // Entry (c, y, x) of sample j is row (c·H + y)·W + x of column j in the vector
  // layout, and row c of column (j·H + y)·W + x in the image layout. Values are
  // copied, so the comparison is exact.
  std::mt19937 gen(1);
  const Shape s{3, 4, 5};
  const Index m = 2;
  const Mat<double> X = random_normal<double>(s.size(), m, gen);
  Mat<double> img;
  vectors_to_image<double>(X, s, img);
  ASSERT_EQ(img.rows(), 3);
  ASSERT_EQ(img.cols(), m * 20);
  for (Index j = 0; j < m; ++j)
    for (Index c = 0; c < 3; ++c)
      for (Index y = 0; y < 4; ++y)
        for (Index x = 0; x < 5; ++x) EXPECT_EQ(pixel(img, s, j, c, y, x), X((c * 4 + y) * 5 + x, j));
}

TEST(Layout, ImageToVectorsInvertsVectorsToImage) {
  std::mt19937 gen(2);
  for (const Shape s : {Shape{3, 4, 5}, Shape{1, 7, 2}, Shape{6, 1, 1}, Shape{2, 1, 3}}) {
    const Index m = 3;
    const Mat<double> X = random_normal<double>(s.size(), m, gen);
    Mat<double> img, back;
    vectors_to_image<double>(X, s, img);
    image_to_vectors<double>(img, s, m, back);
    EXPECT_EQ(back, X) << s.to_string();
    // ... and the other way round.
    const Mat<double> I = random_normal<double>(s.channels, m * s.pixels(), gen);
    image_to_vectors<double>(I, s, m, back);
    vectors_to_image<double>(back, s, img);
    EXPECT_EQ(img, I) << s.to_string();
  }
}

// --------------------------------------------------------- im2col/col2im ----

// Geometries: stride 1 and 2, padding 0..3 (pad larger than the kernel makes whole
// windows of zeros), stride larger than the kernel (input pixels no window reads),
// kernel 1, several channels.
std::vector<WindowGeometry> geometries() {
  return {geometry(1, 5, 5, 3, 1, 0), geometry(2, 7, 6, 3, 2, 1), geometry(3, 4, 4, 2, 1, 3),
          geometry(2, 9, 9, 2, 3, 0), geometry(4, 3, 5, 1, 1, 0), geometry(2, 6, 5, 5, 2, 2)};
}

TEST(Im2col, EveryEntryIsItsWindowEntryOrZeroInThePadding) {
  // The literal definition, entry by entry: column (j·H' + u)·W' + v, row
  // (c·k + ki)·k + kj holds input (c, u·s + ki − p, v·s + kj − p) of sample j,
  // or 0 outside the input. Copies only, so exact.
  std::mt19937 gen(3);
  for (const WindowGeometry& g : geometries()) {
    const Index m = 2, k = g.kernel;
    const Shape s{g.channels, g.height, g.width};
    const Mat<double> in = random_normal<double>(g.channels, m * g.height * g.width, gen);
    Mat<double> P;
    im2col<double>(in, g, m, P);
    ASSERT_EQ(P.rows(), g.channels * k * k);
    ASSERT_EQ(P.cols(), m * g.out_height * g.out_width);
    for (Index j = 0; j < m; ++j)
      for (Index u = 0; u < g.out_height; ++u)
        for (Index v = 0; v < g.out_width; ++v)
          for (Index c = 0; c < g.channels; ++c)
            for (Index ki = 0; ki < k; ++ki)
              for (Index kj = 0; kj < k; ++kj) {
                const Index y = u * g.stride + ki - g.pad, x = v * g.stride + kj - g.pad;
                const bool inside = y >= 0 && y < g.height && x >= 0 && x < g.width;
                const double expected = inside ? pixel(in, s, j, c, y, x) : 0.0;
                ASSERT_EQ(P((c * k + ki) * k + kj, (j * g.out_height + u) * g.out_width + v), expected)
                    << "kernel " << k << " stride " << g.stride << " pad " << g.pad;
              }
  }
}

TEST(Im2col, Col2imIsItsAdjoint) {
  // ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩ for random x, y. Both sides are sums of
  // the same ~10³ products in different orders: 1e-13 relative to Σ|x||y|-sized
  // terms (‖x‖·‖y‖ bounds them) is rounding; a wrong index is O(1).
  std::mt19937 gen(4);
  for (const WindowGeometry& g : geometries()) {
    const Index m = 3;
    const Mat<double> x = random_normal<double>(g.channels, m * g.height * g.width, gen);
    const Mat<double> y = random_normal<double>(g.channels * g.kernel * g.kernel, m * g.out_height * g.out_width, gen);
    Mat<double> Px, Cy;
    im2col<double>(x, g, m, Px);
    col2im<double>(y, g, m, Cy);
    ASSERT_EQ(Cy.rows(), x.rows());
    ASSERT_EQ(Cy.cols(), x.cols());
    const double lhs = (Px.array() * y.array()).sum();
    const double rhs = (x.array() * Cy.array()).sum();
    EXPECT_NEAR(lhs, rhs, 1e-13 * Px.norm() * y.norm())
        << "kernel " << g.kernel << " stride " << g.stride << " pad " << g.pad;
  }
}

TEST(Im2col, Col2imOfOnesCountsTheWindowsThatReadEachPixel) {
  // col2im(1) = how many window entries copy each input pixel: for 5x5, kernel 3,
  // stride 1, no padding, the corner is read once, the centre 9 times, and
  // (1, 4) by the windows at rows 0 and 1 of the last column: twice.
  const WindowGeometry g = geometry(1, 5, 5, 3, 1, 0);
  Mat<double> counts;
  col2im<double>(Mat<double>::Ones(9, 9), g, 1, counts);
  const Shape s{1, 5, 5};
  EXPECT_EQ(pixel(counts, s, 0, 0, 0, 0), 1.0);
  EXPECT_EQ(pixel(counts, s, 0, 0, 0, 2), 3.0);
  EXPECT_EQ(pixel(counts, s, 0, 0, 2, 2), 9.0);
  EXPECT_EQ(pixel(counts, s, 0, 0, 1, 4), 2.0);
  // Stride 3 > kernel 2: rows and columns 2, 5, 8 are never read.
  const WindowGeometry gaps = geometry(1, 9, 9, 2, 3, 0);
  col2im<double>(Mat<double>::Ones(4, 9), gaps, 1, counts);
  const Shape s9{1, 9, 9};
  EXPECT_EQ(pixel(counts, s9, 0, 0, 2, 0), 0.0);
  EXPECT_EQ(pixel(counts, s9, 0, 0, 0, 5), 0.0);
  EXPECT_EQ(pixel(counts, s9, 0, 0, 4, 4), 1.0);
}

// ------------------------------------------------------- layer forwards ----

/// Fills every parameter of `net` with N(0, scale²) draws.
void randomise(Network<double>& net, std::mt19937& gen, double scale = 0.5) {
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    net.params(i).W = random_normal<double>(net.params(i).W.rows(), net.params(i).W.cols(), gen, scale);
    net.params(i).b = random_normal<double>(net.params(i).b.size(), 1, gen, scale);
  }
}

/// A network of `spec` with randomised parameters (drawn first from `gen`),
/// m random samples X (drawn next) and the tape of its forward pass of X.
struct RandomForward {
  RandomForward(const NetworkSpec& spec, Index m, std::mt19937& gen) : net(spec) {
    randomise(net, gen);
    X = random_normal<double>(spec.input_size(), m, gen);
    net.forward(X, tape);
  }
  Network<double> net;
  Mat<double> X;
  Tape<double> tape;
};

TEST(Conv2dLayer, ForwardIsPyTorchsCrossCorrelation) {
  // out(o, u, v) = b_o + Σ_{c,ki,kj} K[o, c, ki, kj] · in(c, u·s + ki − p, v·s + kj − p)
  // with K[o, c, ki, kj] = W(o, (c·k + ki)·k + kj) (PyTorch's [out, in, kh, kw],
  // last three flattened). Tolerance 1e-13: sums of 3·9 products in another order.
  std::mt19937 gen(5);
  for (const char* arch : {"conv(4,3,stride=2,pad=1) dense(2)", "conv(2,2,pad=3) dense(2)", "conv(3,1) dense(2)"}) {
    SCOPED_TRACE(arch);
    const NetworkSpec spec = spec_of(arch, "3x6x5");
    RandomForward run(spec, 2, gen);
    auto& [net, X, tape] = run;
    const Index m = X.cols();
    const LayerSpec& L = spec.layers[0];
    const Shape& in = spec.shapes[0];
    const Shape& out = spec.shapes[1];
    const Mat<double>& G = tape.layers[0].G;
    ASSERT_EQ(G.rows(), out.channels);
    ASSERT_EQ(G.cols(), m * out.pixels());
    const Params<double>& p = net.params(0);
    const Index k = L.kernel;
    for (Index j = 0; j < m; ++j)
      for (Index o = 0; o < out.channels; ++o)
        for (Index u = 0; u < out.height; ++u)
          for (Index v = 0; v < out.width; ++v) {
            double sum = p.b(o);
            for (Index c = 0; c < in.channels; ++c)
              for (Index ki = 0; ki < k; ++ki)
                for (Index kj = 0; kj < k; ++kj) {
                  const Index y = u * L.stride + ki - L.pad, x = v * L.stride + kj - L.pad;
                  if (y < 0 || y >= in.height || x < 0 || x >= in.width) continue;
                  sum += p.W(o, (c * k + ki) * k + kj) * X((c * in.height + y) * in.width + x, j);
                }
            EXPECT_NEAR(pixel(G, out, j, o, u, v), sum, 1e-13) << j << " " << o << " " << u << " " << v;
          }
    // σ = identity here, so F = G; the patch matrix is kept on the tape.
    EXPECT_EQ(tape.layers[0].F, G);
    EXPECT_EQ(tape.layers[0].P.cols(), G.cols());
    Mat<double> scratch;
    EXPECT_EQ(Mat<double>(net.layer(0).input_operator(tape.input, tape.layers[0])->matrix_or(scratch)), tape.layers[0].P);
  }
}

TEST(PoolLayers, ForwardIsPyTorchsMaxAndAveragePooling) {
  // Windows with stride < kernel (overlapping), = kernel and > kernel, and an
  // input size the stride does not divide (PyTorch floors). Max is exact; the
  // mean of 4 or 9 numbers differs from ours by rounding only (1e-15).
  std::mt19937 gen(6);
  for (const char* pool : {"maxpool", "avgpool"}) {
    for (const char* window : {"(2)", "(3,stride=1)", "(2,stride=3)", "(3,stride=2)"}) {
      const std::string arch = std::string(pool) + window + " flatten dense(2)";
      SCOPED_TRACE(arch);
      const NetworkSpec spec = spec_of(arch, "2x7x8");
      RandomForward run(spec, 2, gen);
      auto& [net, X, tape] = run;
      const Index m = X.cols();
      const LayerSpec& L = spec.layers[0];
      const Shape& in = spec.shapes[0];
      const Shape& out = spec.shapes[1];
      ASSERT_EQ(out.height, (7 - L.kernel) / L.stride + 1);
      const Mat<double>& F = tape.layers[0].F;
      for (Index j = 0; j < m; ++j)
        for (Index c = 0; c < in.channels; ++c)
          for (Index u = 0; u < out.height; ++u)
            for (Index v = 0; v < out.width; ++v) {
              double best = -std::numeric_limits<double>::infinity(), sum = 0;
              for (Index ki = 0; ki < L.kernel; ++ki)
                for (Index kj = 0; kj < L.kernel; ++kj) {
                  const double x = X((c * in.height + u * L.stride + ki) * in.width + v * L.stride + kj, j);
                  best = std::max(best, x);
                  sum += x;
                }
              if (L.kind == LayerKind::MaxPool2d)
                EXPECT_EQ(pixel(F, out, j, c, u, v), best);
              else
                EXPECT_NEAR(pixel(F, out, j, c, u, v), sum / static_cast<double>(L.kernel * L.kernel), 1e-15);
            }
      // Flatten: vectors in (C, H, W) order.
      Mat<double> expected;
      image_to_vectors<double>(F, out, m, expected);
      EXPECT_EQ(tape.layers[1].F, expected);
    }
  }
}

TEST(PoolLayers, MaxPoolTiesGoToTheFirstMaximumAndNaNWins) {
  // One 1x2x4 sample, maxpool(2): windows {a, b, e, f} and {c, d, g, h}.
  // Window 1 is all 5: the arg-max is its first entry in row-major order, (0, 0).
  // Window 2 holds a NaN at (1, 2): the output is NaN and the arg-max points at it.
  const NetworkSpec spec = spec_of("maxpool(2) flatten dense(1)", "1x2x4");
  Network<double> net(spec);
  Mat<double> X(8, 1);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  X << 5, 5, 1, 9,   // row 0
       5, 5, nan, 2;  // row 1
  Tape<double> tape;
  net.forward(X, tape);
  const LayerRecord<double>& rec = tape.layers[0];
  ASSERT_EQ(rec.F.size(), 2);
  EXPECT_EQ(rec.F(0, 0), 5.0);
  EXPECT_TRUE(std::isnan(rec.F(0, 1)));
  ASSERT_EQ(rec.argmax.size(), 2u);
  // Indices into the image-layout input (1, 8): (y, x) → y·4 + x.
  EXPECT_EQ(rec.argmax[0], 0);
  EXPECT_EQ(rec.argmax[1], 6);
  // The adjoint routes each difference to the arg-max only.
  Mat<double> d(1, 2), d_in, work;
  d << 10, 20;
  net.layer(0).backward_input(rec, d, 1, d_in, work);
  Mat<double> expected = Mat<double>::Zero(1, 8);
  expected(0, 0) = 10;
  expected(0, 6) = 20;
  EXPECT_EQ(d_in, expected);
  // A later equal value never takes over: a strict '>' (PyTorch's rule).
  X << 1, 7, 3, 3,
       7, 0, 3, 3;
  net.forward(X, tape);
  EXPECT_EQ(tape.layers[0].argmax[0], 1);
  EXPECT_EQ(tape.layers[0].argmax[1], 2);
}

TEST(PoolLayers, AvgPoolAdjointSpreadsEvenly) {
  // avgpool(2, stride 1) on 1x3x3: the centre pixel is in all 4 windows, so a
  // difference of 1 on every output gives it 4·¼ = 1; a corner gets ¼. Exact.
  const NetworkSpec spec = spec_of("avgpool(2,stride=1) flatten dense(1)", "1x3x3");
  Network<double> net(spec);
  Tape<double> tape;
  net.forward(Mat<double>::Ones(9, 1), tape);
  Mat<double> d_in, work;
  net.layer(0).backward_input(tape.layers[0], Mat<double>::Ones(1, 4), 1, d_in, work);
  const Shape s{1, 3, 3};
  EXPECT_EQ(pixel(d_in, s, 0, 0, 1, 1), 1.0);
  EXPECT_EQ(pixel(d_in, s, 0, 0, 0, 0), 0.25);
  EXPECT_EQ(pixel(d_in, s, 0, 0, 0, 1), 0.5);
}

TEST(Network, FirstConvolutionReadsTheImageLayoutOfTheBatch) {
  // Data come as vectors; the network converts them for a first conv/pool and
  // keeps that on the tape.
  std::mt19937 gen(7);
  const NetworkSpec spec = spec_of("conv(2,3) relu dense(3)", "2x4x5");
  Network<double> net(spec);
  randomise(net, gen);
  const Mat<double> X = random_normal<double>(40, 3, gen);
  Tape<double> tape;
  net.forward(X, tape);
  Mat<double> img;
  vectors_to_image<double>(X, spec.input, img);
  EXPECT_EQ(tape.input, img);
  EXPECT_EQ(tape.batch_size(), 3);
  EXPECT_EQ(tape.output().rows(), 3);
  EXPECT_EQ(tape.output().cols(), 3);
}

TEST(Network, LeadingFlattenOnAnImageInputEqualsNoFlatten) {
  // `flatten dense(3)` on 2x3x3 data is PyTorch's nn.Flatten() + nn.Linear(18, 3):
  // the same outputs as `dense(3)` reading the vectors directly (flatten is a
  // pure copy, so exactly the same).
  std::mt19937 gen(8);
  const NetworkSpec with = spec_of("flatten dense(3)", "2x3x3");
  const NetworkSpec without = spec_of("dense(3)", "2x3x3");
  ASSERT_EQ(with.layers.size(), 2u);
  Network<double> a(with), b(without);
  randomise(b, gen);
  a.params(0) = b.params(0);
  // One sample: were the layout wrong, the flatten would read past the batch, and
  // one sample keeps that read small.
  const Index m = 1;
  const Mat<double> X = random_normal<double>(18, m, gen);
  Tape<double> ta, tb;
  b.forward(X, tb);
  // The flatten layer reads the batch in image layout (C, m·H·W), so the network
  // must hand it that layout as it does for a first conv/pool layer.
  a.forward(X, ta);
  ASSERT_EQ(ta.input.rows(), 2) << "the network passed the (C·H·W, m) vectors to a first flatten layer, which "
                                   "reads (C, m·H·W) images (src/nn/network.cpp, Network::forward)";
  EXPECT_EQ(ta.output(), tb.output());
}

TEST(Network, CopiesAreDeepAndKeepEveryLayer) {
  std::mt19937 gen(9);
  const NetworkSpec spec = spec_of("conv(2,3,pad=1) tanh maxpool(2) avgpool(1) flatten dense(3)", "1x4x4");
  Network<double> a(spec);
  randomise(a, gen);
  Network<double> b = a;
  ASSERT_EQ(b.num_layers(), 5u);
  ASSERT_EQ(b.num_param_layers(), 2u);
  EXPECT_EQ(b.layer_index(0), 0u);
  EXPECT_EQ(b.layer_index(1), 4u);
  EXPECT_EQ(b.activation(0), Activation::Tanh);
  EXPECT_EQ(b.activation(1), Activation::Identity);
  b.params(0).W(0, 0) += 1;
  EXPECT_NE(a.params(0).W(0, 0), b.params(0).W(0, 0)) << "copy shares parameters";
  const Mat<double> X = random_normal<double>(16, 2, gen);
  Tape<double> ta, tb;
  a.forward(X, ta);
  Network<double> c;
  c = a;
  c.forward(X, tb);
  EXPECT_EQ(ta.output(), tb.output());
  EXPECT_EQ(a.num_parameters(), 2 * 9 + 2 + 3 * 8 + 3);
  for (std::size_t k = 0; k < a.num_layers(); ++k) {
    EXPECT_EQ(a.layer(k).input_shape(), spec.shapes[k]);
    EXPECT_EQ(a.layer(k).output_shape(), spec.shapes[k + 1]);
    EXPECT_EQ(a.layer(k).spec(), spec.layers[k]);
    EXPECT_EQ(a.layer(k).params() != nullptr, spec.layers[k].has_parameters());
  }
}

TEST(Network, InitialisationDrawsConvKernelsLikePyTorchsFans) {
  // He: std √(2/fan_in) with fan_in = c_in·k² (PyTorch's count). 32·25 = 800
  // kernel weights of fan_in 1·25: the sample std is within 10% of √(2/25) with
  // overwhelming probability (relative standard error 1/√1600 = 2.5%).
  const NetworkSpec spec = spec_of("conv(32,5) relu flatten dense(2)", "1x6x6");
  Rng rng(3);
  const Network<double> net(spec, Initializer::parse("he"), rng);
  const Mat<double>& W = net.params(0).W;
  ASSERT_EQ(W.rows(), 32);
  ASSERT_EQ(W.cols(), 25);
  const double sd = std::sqrt(W.array().square().mean());
  EXPECT_NEAR(sd, std::sqrt(2.0 / 25.0), 0.1 * std::sqrt(2.0 / 25.0));
  EXPECT_EQ(net.params(0).b, Vec<double>::Zero(32));
  // Glorot: U(±√(6/(fan_in + fan_out))) with fan_out = c_out·k² = 32·25 (PyTorch's
  // count): every weight within the bound, and of 800 uniform draws the largest
  // is within 2% of it (probability of failing below 1e-7).
  Rng g(4);
  const Network<double> glorot(spec, Initializer::parse("glorot"), g);
  const double bound = std::sqrt(6.0 / (25.0 + 32.0 * 25.0));
  EXPECT_LE(glorot.params(0).W.cwiseAbs().maxCoeff(), bound);
  EXPECT_GE(glorot.params(0).W.cwiseAbs().maxCoeff(), 0.98 * bound);
  // A seed fixes every parameter independently of the precision.
  Rng r1(5), r2(5);
  const Network<double> d(spec, Initializer::parse("normal:0.1"), r1);
  const Network<float> f(spec, Initializer::parse("normal:0.1"), r2);
  EXPECT_EQ(f.params(0).W, d.params(0).W.cast<float>());
  EXPECT_EQ(f.params(1).b, d.params(1).b.cast<float>());
}

}  // namespace
}  // namespace sibp
