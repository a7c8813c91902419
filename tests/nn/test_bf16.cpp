// bf16 products (src/nn/bf16.hpp, --precision bf16): rounding to bf16, the
// bf16 GEMM, and the dense and convolution layers in bf16 precision.
//
// What a bf16 product must equal: the exact product of the bf16-rounded inputs,
// up to float32 accumulation. So every check computes that exact product in
// double from inputs rounded by float_to_bf16, and bounds the error the way
// test_conv_fast.cpp does for float32: |computed − exact| ≤ (terms + 2)·u·(Σ|a||b|)
// + 4u·|exact|, u = 2⁻²⁴. That bound is a few hundred times tighter than the
// bf16 rounding itself (up to 2⁻⁸ relative per input: 8 significant bits), so
// a product that skipped or botched the rounding, or accumulated in bf16,
// fails it. A second check bounds the distance to the float32 product by the
// rounding of the inputs: |bf16 − f32| ≤ (2·2⁻⁸ + 2⁻¹⁶)·Σ|a||b| + the float32
// bounds, and requires it to be non-zero somewhere.
// The tests skip (saying why) on a CPU without AVX512-BF16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "float_checks.hpp"
#include "scoped_threads.hpp"
#include "test_support.hpp"

#include "core/thread_pool.hpp"
#include "nn/bf16.hpp"
#include "nn/conv_kernels.hpp"
#include "nn/layers.hpp"

namespace sibp {
namespace {

using testing::bitwise_equal;
using testing::expect_within_rounding;  // a bf16 product: exact on the rounded inputs up to float32 sums
using testing::kU;
using testing::spec_of;

#define SKIP_WITHOUT_BF16()                                            \
  do {                                                                 \
    const std::string why = bf16_unsupported_reason();                 \
    if (!why.empty()) GTEST_SKIP() << "no bf16 on this machine: " << why; \
  } while (0)

/// M with every entry rounded to bf16 (and back to the float it stands for), in double.
Mat<double> rounded(const Mat<float>& M) {
  Mat<double> R(M.rows(), M.cols());
  for (Index k = 0; k < M.size(); ++k) R.data()[k] = bf16_to_float(float_to_bf16(M.data()[k]));
  return R;
}

/// got within the inputs' bf16 rounding of the float32 product `exact32` (the
/// exact product of the unrounded inputs, scale32 = Σ|a||b| of them), and not
/// equal to it everywhere (the product was not computed in float32).
void expect_near_f32(const Mat<float>& got, const Mat<double>& exact32, const Mat<double>& scale32, Index terms,
                     const std::string& what) {
  const double rel = 2.0 / 256 + 1.0 / (1 << 16);
  const Mat<double> err = (got.cast<double>() - exact32).cwiseAbs();
  const Mat<double> bound = ((rel * 1.01 + 2 * static_cast<double>(terms + 2) * kU) * scale32).array().max(1e-30).matrix();
  EXPECT_TRUE((err.array() <= bound.array()).all())
      << what << ": largest error / bound " << (err.array() / bound.array()).maxCoeff();
  EXPECT_GT(err.maxCoeff(), 1e-4 * scale32.maxCoeff()) << what << ": as exact as float32, so not bf16";
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xC000);
  // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷: the even one (1) wins.
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  // 1 + 3·2⁻⁸ lies halfway between 1 + 2⁻⁷ and 1 + 2·2⁻⁷: the even one (the latter).
  EXPECT_EQ(float_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  // Just above halfway rounds up.
  EXPECT_EQ(float_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // overflows to inf, as IEEE rounding does
  const std::uint16_t nan = float_to_bf16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bf16_to_float(nan)));
  // A NaN whose payload is in the low 16 bits only must not become inf.
  std::uint32_t bits = 0x7F800001u;
  float low_nan;
  std::memcpy(&low_nan, &bits, 4);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(low_nan))));
  // The array form is the scalar one.
  std::mt19937 gen(3);
  const Mat<float> x = testing::random_normal<float>(37, 3, gen);
  std::vector<std::uint16_t> y(static_cast<std::size_t>(x.size()));
  to_bf16(x.data(), x.size(), y.data());
  for (Index k = 0; k < x.size(); ++k) ASSERT_EQ(y[static_cast<std::size_t>(k)], float_to_bf16(x.data()[k]));
}

TEST(Bf16, GemmIsTheExactProductOfRoundedInputsForEveryTranspose) {
  SKIP_WITHOUT_BF16();
  std::mt19937 gen(7);
  // Small and MLP-sized shapes, and one above gemm()'s parallel threshold (chunked).
  const Index shapes[][3] = {{5, 7, 3}, {10, 100, 500}, {500, 100, 784}, {64, 3000, 300}};
  for (const auto& s : shapes) {
    const Index M = s[0], N = s[1], K = s[2];
    for (Trans oa : {Trans::No, Trans::Yes})
      for (Trans ob : {Trans::No, Trans::Yes}) {
        const std::string what = std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
                                 (oa == Trans::Yes ? " A^T" : " A") + (ob == Trans::Yes ? " B^T" : " B");
        const Mat<float> A = oa == Trans::No ? testing::random_normal<float>(M, K, gen) : testing::random_normal<float>(K, M, gen);
        const Mat<float> B = ob == Trans::No ? testing::random_normal<float>(K, N, gen) : testing::random_normal<float>(N, K, gen);
        Mat<float> C(M, N);
        gemm_bf16(A, oa, B, ob, C);
        const Mat<double> a = oa == Trans::No ? rounded(A) : Mat<double>(rounded(A).transpose());
        const Mat<double> b = ob == Trans::No ? rounded(B) : Mat<double>(rounded(B).transpose());
        expect_within_rounding(C, a * b, a.cwiseAbs() * b.cwiseAbs(), K, what);
        const Mat<double> a32 = oa == Trans::No ? A.cast<double>() : Mat<double>(A.cast<double>().transpose());
        const Mat<double> b32 = ob == Trans::No ? B.cast<double>() : Mat<double>(B.cast<double>().transpose());
        expect_near_f32(C, a32 * b32, a32.cwiseAbs() * b32.cwiseAbs(), K, what);
      }
  }
}

TEST(Bf16, GemmIntoABlockAndFromBlocks) {
  SKIP_WITHOUT_BF16();
  std::mt19937 gen(8);
  const Mat<float> Abig = testing::random_normal<float>(40, 30, gen), Bbig = testing::random_normal<float>(30, 50, gen);
  Mat<float> Cbig = Mat<float>::Constant(60, 70, 123.f);
  const auto A = Abig.block(3, 2, 20, 25);  // outer stride 40, not 20
  const auto B = Bbig.block(1, 4, 25, 33);
  gemm_bf16(A, Trans::No, B, Trans::No, Cbig.block(5, 6, 20, 33));
  const Mat<double> a = rounded(Mat<float>(A)), b = rounded(Mat<float>(B));
  expect_within_rounding(Mat<float>(Cbig.block(5, 6, 20, 33)), a * b, a.cwiseAbs() * b.cwiseAbs(), 25, "blocks");
  // Nothing outside the block was written.
  Mat<float> untouched = Cbig;
  untouched.block(5, 6, 20, 33).setConstant(123.f);
  EXPECT_TRUE((untouched.array() == 123.f).all());
}

TEST(Bf16, GemmBitIdenticalForAnyThreadCount) {
  SKIP_WITHOUT_BF16();
  std::mt19937 gen(9);
  // Both above the parallel threshold: cut into chunks along columns, then rows.
  for (const auto& s : {std::array<Index, 3>{500, 1000, 784}, std::array<Index, 3>{3000, 200, 300}}) {
    const Mat<float> A = testing::random_normal<float>(s[0], s[2], gen), B = testing::random_normal<float>(s[2], s[1], gen);
    ASSERT_GT(gemm_chunks(s[0], s[1], s[2]).count, 1);
    Mat<float> C1(s[0], s[1]), C2(s[0], s[1]), C3(s[0], s[1]);
    {
      testing::ScopedThreads t(1);
      gemm_bf16(A, Trans::No, B, Trans::No, C1);
    }
    {
      testing::ScopedThreads t(2);
      gemm_bf16(A, Trans::No, B, Trans::No, C2);
    }
    {
      testing::ScopedThreads t(3);
      gemm_bf16(A, Trans::No, B, Trans::No, C3);
    }
    EXPECT_TRUE(bitwise_equal(C1, C2));
    EXPECT_TRUE(bitwise_equal(C1, C3));
  }
}

TEST(Bf16, GemmRefusesMismatchedShapes) {
  Mat<float> A(3, 4), B(5, 2), C(3, 2);
  EXPECT_THROW(gemm_bf16(A, Trans::No, B, Trans::No, C), std::invalid_argument);
}

// ------------------------------------------------------------- the layers ----

struct LayerCase {
  const char* arch;
  const char* input;
  Index m;
};

/// Every parametrised layer kind: dense, and convolutions across oneDNN's
/// sub-batches (10 samples), with stride and padding.
const LayerCase kLayerCases[] = {
    {"dense(30) relu", "40", 17},
    {"conv(16,5,pad=2) relu", "1x12x12", 23},
    {"conv(8,3,stride=2,pad=1) tanh", "6x9x9", 10},
};

TEST(Bf16, LayersComputeTheExactProductsOfRoundedInputs) {
  SKIP_WITHOUT_BF16();
  std::mt19937 gen(11);
  for (const LayerCase& c : kLayerCases) {
    for (ConvBackend backend : {ConvBackend::Fast, ConvBackend::Reference}) {
      SCOPED_TRACE(std::string(c.arch) + " on " + c.input + (backend == ConvBackend::Fast ? ", fast" : ", reference"));
      ScopedConvBackend scoped(backend);
      const NetworkSpec spec = spec_of(std::string(c.arch) + " dense(2)", c.input);
      auto layer = make_layer<float>(spec.layers[0], spec.shapes[0], spec.shapes[1]);
      layer->set_precision(Precision::BF16);
      ASSERT_EQ(layer->precision(), Precision::BF16);
      Params<float>& p = *layer->params();
      p.W = testing::random_normal<float>(p.W.rows(), p.W.cols(), gen, 0.3);
      p.b = testing::random_normal<float>(p.b.size(), 1, gen, 0.3);
      const Shape& in = spec.shapes[0];
      const bool conv = spec.layers[0].kind == LayerKind::Conv2d;
      const Mat<float> X = conv ? testing::random_normal<float>(in.channels, c.m * in.pixels(), gen) : testing::random_normal<float>(in.size(), c.m, gen);
      LayerRecord<float> rec;
      layer->forward(X, c.m, rec);

      // The patch matrix of the rounded input (the input itself for dense).
      Mat<float> P;
      if (conv) im2col<float>(X, window_geometry(spec.layers[0], spec.shapes[0], spec.shapes[1]), c.m, P);
      else P = X;
      const Mat<double> P16 = rounded(P), W16 = rounded(p.W), P32 = P.cast<double>(), W32 = p.W.cast<double>();
      const Index d = P.rows(), n = P.cols();
      const Mat<double> G = (W16 * P16).colwise() + p.b.cast<double>();
      expect_within_rounding(rec.G, G, W16.cwiseAbs() * P16.cwiseAbs() + p.b.cast<double>().cwiseAbs().replicate(1, n),
                          d + 1, "forward");
      expect_near_f32(rec.G, (W32 * P32).colwise() + p.b.cast<double>(),
                      W32.cwiseAbs() * P32.cwiseAbs() + p.b.cast<double>().cwiseAbs().replicate(1, n), d + 1,
                      "forward vs f32");

      // Gradient [dW db] = D·[P; 1]ᵀ for a difference D on G.
      const Mat<float> D = testing::random_normal<float>(rec.G.rows(), rec.G.cols(), gen);
      const Mat<double> D16 = rounded(D), D32 = D.cast<double>();
      Mat<float> dW(p.W.rows(), p.W.cols());
      Vec<float> db(p.b.size());
      layer->weight_gradient(X, rec, D, dW, db.data());
      expect_within_rounding(dW, D16 * P16.transpose(), D16.cwiseAbs() * P16.cwiseAbs().transpose(), n,
                          "weight gradient");
      expect_near_f32(dW, D32 * P32.transpose(), D32.cwiseAbs() * P32.cwiseAbs().transpose(), n,
                      "weight gradient vs f32");
      // The bias gradient sums D in float32: D itself on the GEMM paths, the
      // bf16 copy of D that oneDNN's backward-weights convolution reads on the fast
      // convolution path (as PyTorch's autocast, whose conv gradients are bf16).
      const bool dnnl_conv = conv && backend == ConvBackend::Fast;
      const Mat<double>& Dsum = dnnl_conv ? D16 : D32;
      expect_within_rounding(Mat<float>(db), Dsum.rowwise().sum(), Dsum.cwiseAbs().rowwise().sum(), n, "bias gradient");

      // The input's part of the adjoint: Uᵀ(Wᵀ D).
      Mat<float> d_in, work;
      layer->backward_input(rec, D, c.m, d_in, work);
      const Mat<double> WtD = W16.transpose() * D16, WtDabs = W16.cwiseAbs().transpose() * D16.cwiseAbs();
      if (conv) {
        // col2im of the exact product, and of its absolute values for the bound.
        const WindowGeometry g = window_geometry(spec.layers[0], spec.shapes[0], spec.shapes[1]);
        Mat<double> exact, scale;
        col2im<double>(WtD, g, c.m, exact);
        col2im<double>(WtDabs, g, c.m, scale);
        expect_within_rounding(d_in, exact, scale, rec.G.rows() * g.kernel * g.kernel, "backward_input");
      } else {
        expect_within_rounding(d_in, WtD, WtDabs, rec.G.rows(), "backward_input");
      }
    }
  }
}

TEST(Bf16, TheSolversOperatorStaysFloat32) {
  SKIP_WITHOUT_BF16();
  // input_operator() is what SIBP's and ProxProp's solvers multiply with: it must
  // not follow the layer's bf16 precision (their residuals would stall near 1e-3).
  std::mt19937 gen(12);
  for (const LayerCase& c : kLayerCases) {
    SCOPED_TRACE(c.arch);
    const NetworkSpec spec = spec_of(std::string(c.arch) + " dense(2)", c.input);
    auto f32 = make_layer<float>(spec.layers[0], spec.shapes[0], spec.shapes[1]);
    f32->params()->W = testing::random_normal<float>(f32->params()->W.rows(), f32->params()->W.cols(), gen, 0.3);
    f32->params()->b.setZero();
    auto bf16 = f32->clone();
    bf16->set_precision(Precision::BF16);
    const Shape& in = spec.shapes[0];
    const bool conv = spec.layers[0].kind == LayerKind::Conv2d;
    const Mat<float> X = conv ? testing::random_normal<float>(in.channels, c.m * in.pixels(), gen) : testing::random_normal<float>(in.size(), c.m, gen);
    LayerRecord<float> r32, r16;
    f32->forward(X, c.m, r32);
    bf16->forward(X, c.m, r16);
    EXPECT_FALSE(bitwise_equal(r32.G, r16.G));
    const Mat<float> Y = testing::random_normal<float>(r32.G.rows(), r32.G.cols(), gen);
    Mat<float> a(r32.G.rows(), f32->params()->W.cols()), b(a.rows(), a.cols());
    f32->input_operator(X, r32)->times_transposed(Y, a, nullptr);
    bf16->input_operator(X, r16)->times_transposed(Y, b, nullptr);
    EXPECT_TRUE(bitwise_equal(a, b));
  }
}

TEST(Bf16, DoubleLayersRefuseBf16) {
  const NetworkSpec spec = spec_of("dense(3)", "4");
  auto layer = make_layer<double>(spec.layers[0], spec.shapes[0], spec.shapes[1]);
  EXPECT_THROW(layer->set_precision(Precision::BF16), std::invalid_argument);
  EXPECT_NO_THROW(layer->set_precision(Precision::F32));
}

}  // namespace
}  // namespace sibp
