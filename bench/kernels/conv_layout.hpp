#pragma once
/// Convolution and 2×2 max-pool kernels in sibp's planned layout for image
/// batches: a column-major matrix (C, m·H·W), channels as rows, one column
/// per (sample, row, col) pixel, columns sample-major then row then col, so
/// memory is NHWC. A flat vector layer is (d, m).
///
/// A convolution is G = K̄·P + b with the patch matrix P = im2col(X) of shape
/// (c_in·kh·kw, m·H'·W') and K̄ = PyTorch's [out, in, kh, kw] weight reshaped
/// to (c_out, c_in·kh·kw) (PatchOrder::ChannelMajor). PatchOrder::ChannelMinor
/// orders P's rows (ky, kx, ci) instead, which makes im2col a copy of c_in
/// contiguous floats per tap; K̄'s columns must then be permuted to match
/// (permute_kernel_columns).
///
/// Every function may take a ThreadPool; work is cut per sample (fixed
/// boundaries), so results do not depend on the thread count.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "thread_pool.hpp"

namespace sibp::kernels {

using Index = Eigen::Index;

/// A 2-D convolution's geometry (stride 1 or more, symmetric zero padding).
struct ConvShape {
  Index c_in = 1, h = 1, w = 1;  // input channels, height, width
  Index c_out = 1, kh = 1, kw = 1;
  Index pad = 0, stride = 1;
  Index h_out() const { return (h + 2 * pad - kh) / stride + 1; }
  Index w_out() const { return (w + 2 * pad - kw) / stride + 1; }
  Index patch_rows() const { return c_in * kh * kw; }
  /// Throws std::invalid_argument naming the bad field.
  void validate() const {
    if (c_in < 1 || h < 1 || w < 1 || c_out < 1 || kh < 1 || kw < 1 || pad < 0 || stride < 1 ||
        h + 2 * pad < kh || w + 2 * pad < kw)
      throw std::invalid_argument("ConvShape: invalid geometry (c_in " + std::to_string(c_in) + ", " +
                                  std::to_string(h) + "x" + std::to_string(w) + ", kernel " + std::to_string(kh) +
                                  "x" + std::to_string(kw) + ", pad " + std::to_string(pad) + ")");
  }
};

enum class PatchOrder {
  ChannelMajor,  ///< row ci·kh·kw + ky·kw + kx: PyTorch's weight reshaped
  ChannelMinor,  ///< row (ky·kw + kx)·c_in + ci: contiguous copies from NHWC
};

namespace detail {
template <class F>
void for_samples(ThreadPool* pool, Index m, F&& f) {
  if (pool && pool->threads() > 1 && m > 1) {
    // Fixed groups of samples (independent of the thread count).
    const Index group = std::max<Index>(1, (m + 63) / 64);
    const Index tasks = (m + group - 1) / group;
    pool->run(tasks, [&](std::int64_t t) {
      const Index n1 = std::min<Index>(m, (t + 1) * group);
      for (Index n = t * group; n < n1; ++n) f(n);
    });
  } else {
    for (Index n = 0; n < m; ++n) f(n);
  }
}
}  // namespace detail

/// P = im2col(X). X: (c_in, m·h·w) column-major; P: (patch_rows, m·h_out·w_out),
/// every entry written (zeros where the window leaves the padded image).
/// In NHWC the kw taps of one kernel row are kw·c_in contiguous floats, so
/// ChannelMinor is one copy per (output pixel, ky); ChannelMajor scatters the
/// same run with stride kh·kw inside the (L1-resident) column.
template <class Scalar>
void im2col(const ConvShape& s, Index m, const Scalar* X, Scalar* P, PatchOrder order, ThreadPool* pool = nullptr) {
  const Index ho = s.h_out(), wo = s.w_out(), d = s.patch_rows(), kk = s.kh * s.kw, ci_n = s.c_in;
  const bool minor = order == PatchOrder::ChannelMinor || ci_n == 1;  // the same order when c_in = 1
  detail::for_samples(pool, m, [&](Index n) {
    const Scalar* Xn = X + ci_n * s.h * s.w * n;
    Scalar* col = P + d * ho * wo * n;
    for (Index oy = 0; oy < ho; ++oy) {
      const Index iy0 = oy * s.stride - s.pad;
      for (Index ox = 0; ox < wo; ++ox, col += d) {
        const Index ix0 = ox * s.stride - s.pad;
        const Index kx_lo = std::max<Index>(0, -ix0), kx_hi = std::min<Index>(s.kw, s.w - ix0);  // valid taps
        for (Index ky = 0; ky < s.kh; ++ky) {
          const Index iy = iy0 + ky;
          const bool row_valid = iy >= 0 && iy < s.h && kx_lo < kx_hi;
          if (minor) {
            Scalar* dst = col + ky * s.kw * ci_n;
            if (!row_valid) {
              std::fill(dst, dst + s.kw * ci_n, Scalar(0));
              continue;
            }
            std::fill(dst, dst + kx_lo * ci_n, Scalar(0));
            const Scalar* src = Xn + ci_n * (iy * s.w + ix0 + kx_lo);
            const Index len = (kx_hi - kx_lo) * ci_n;
            for (Index i = 0; i < len; ++i) dst[kx_lo * ci_n + i] = src[i];
            std::fill(dst + kx_hi * ci_n, dst + s.kw * ci_n, Scalar(0));
          } else {
            Scalar* dst = col + ky * s.kw;
            for (Index kx = 0; kx < s.kw; ++kx) {
              const bool valid = row_valid && kx >= kx_lo && kx < kx_hi;
              const Scalar* src = Xn + ci_n * (iy * s.w + ix0 + kx);
              if (valid)
                for (Index ci = 0; ci < ci_n; ++ci) dst[kx + ci * kk] = src[ci];
              else
                for (Index ci = 0; ci < ci_n; ++ci) dst[kx + ci * kk] = Scalar(0);
            }
          }
        }
      }
    }
  });
}

/// dX = col2im(dP): the adjoint of im2col, summing every patch entry back
/// into its pixel. dP as P; dX: (c_in, m·h·w), overwritten.
template <class Scalar>
void col2im(const ConvShape& s, Index m, const Scalar* dP, Scalar* dX, PatchOrder order, ThreadPool* pool = nullptr) {
  const Index ho = s.h_out(), wo = s.w_out(), d = s.patch_rows(), kk = s.kh * s.kw, ci_n = s.c_in;
  const bool minor = order == PatchOrder::ChannelMinor || ci_n == 1;
  detail::for_samples(pool, m, [&](Index n) {
    Scalar* Xn = dX + ci_n * s.h * s.w * n;
    std::fill(Xn, Xn + ci_n * s.h * s.w, Scalar(0));
    const Scalar* col = dP + d * ho * wo * n;
    for (Index oy = 0; oy < ho; ++oy) {
      const Index iy0 = oy * s.stride - s.pad;
      for (Index ox = 0; ox < wo; ++ox, col += d) {
        const Index ix0 = ox * s.stride - s.pad;
        const Index kx_lo = std::max<Index>(0, -ix0), kx_hi = std::min<Index>(s.kw, s.w - ix0);
        if (kx_lo >= kx_hi) continue;
        for (Index ky = 0; ky < s.kh; ++ky) {
          const Index iy = iy0 + ky;
          if (iy < 0 || iy >= s.h) continue;
          Scalar* dst = Xn + ci_n * (iy * s.w + ix0 + kx_lo);
          if (minor) {
            const Scalar* src = col + (ky * s.kw + kx_lo) * ci_n;
            const Index len = (kx_hi - kx_lo) * ci_n;
            for (Index i = 0; i < len; ++i) dst[i] += src[i];
          } else {
            for (Index kx = kx_lo; kx < kx_hi; ++kx, dst += ci_n) {
              const Scalar* src = col + ky * s.kw + kx;
              for (Index ci = 0; ci < ci_n; ++ci) dst[ci] += src[ci * kk];
            }
          }
        }
      }
    }
  });
}

/// K̄ with columns in ChannelMajor order (PyTorch's) to ChannelMinor order, or
/// back (inverse = true). K, Kout: (c_out, c_in·kh·kw) column-major.
template <class Scalar>
void permute_kernel_columns(const ConvShape& s, const Scalar* K, Scalar* Kout, bool inverse = false) {
  const Index kk = s.kh * s.kw;
  for (Index ci = 0; ci < s.c_in; ++ci)
    for (Index t = 0; t < kk; ++t) {
      const Index major = ci * kk + t, minor = t * s.c_in + ci;
      const Index from = inverse ? minor : major, to = inverse ? major : minor;
      std::memcpy(Kout + s.c_out * to, K + s.c_out * from, sizeof(Scalar) * s.c_out);
    }
}

namespace detail {
// conv_cin1_forward's pixel loop; CO > 0 fixes c_out at compile time so the
// accumulator stays in registers (c_out/16 zmm), CO = 0 is the generic loop.
template <Index CO, class Scalar>
void conv_cin1_forward_sample(const ConvShape& s, const Scalar* Xn, const Scalar* K, const Scalar* b, Scalar* g) {
  const Index ho = s.h_out(), wo = s.w_out(), co = CO > 0 ? CO : s.c_out;
  constexpr Index kBuf = CO > 0 ? CO : 1;
  for (Index oy = 0; oy < ho; ++oy) {
    const Index iy0 = oy * s.stride - s.pad;
    const Index ky_lo = std::max<Index>(0, -iy0), ky_hi = std::min<Index>(s.kh, s.h - iy0);
    for (Index ox = 0; ox < wo; ++ox, g += co) {
      const Index ix0 = ox * s.stride - s.pad;
      const Index kx_lo = std::max<Index>(0, -ix0), kx_hi = std::min<Index>(s.kw, s.w - ix0);
      if constexpr (CO > 0) {
        Scalar acc[kBuf];
        for (Index c = 0; c < CO; ++c) acc[c] = b[c];
        for (Index ky = ky_lo; ky < ky_hi; ++ky)
          for (Index kx = kx_lo; kx < kx_hi; ++kx) {
            const Scalar x = Xn[(iy0 + ky) * s.w + ix0 + kx];
            const Scalar* k = K + CO * (ky * s.kw + kx);
            for (Index c = 0; c < CO; ++c) acc[c] += k[c] * x;
          }
        for (Index c = 0; c < CO; ++c) g[c] = acc[c];
      } else {
        for (Index c = 0; c < co; ++c) g[c] = b[c];
        for (Index ky = ky_lo; ky < ky_hi; ++ky)
          for (Index kx = kx_lo; kx < kx_hi; ++kx) {
            const Scalar x = Xn[(iy0 + ky) * s.w + ix0 + kx];
            const Scalar* k = K + co * (ky * s.kw + kx);
            for (Index c = 0; c < co; ++c) g[c] += k[c] * x;
          }
      }
    }
  }
}

// Stride-1 fixed-size kernels over one zero-padded sample image (hp × wp):
// no bounds checks, the taps unroll and the c_out accumulators stay in
// registers.
template <Index CO, Index KH, Index KW, class Scalar>
void conv_cin1_forward_padded(Index ho, Index wo, Index wp, const Scalar* Xp, const Scalar* K, const Scalar* b,
                              Scalar* g) {
  using Vec = Eigen::Matrix<Scalar, CO, 1>;  // fixed size: Eigen keeps it in registers
  const Eigen::Map<const Vec> bias(b);
  for (Index oy = 0; oy < ho; ++oy)
    for (Index ox = 0; ox < wo; ++ox, g += CO) {
      Vec acc = bias;
      for (Index ky = 0; ky < KH; ++ky)
        for (Index kx = 0; kx < KW; ++kx)
          acc += Eigen::Map<const Vec>(K + CO * (ky * KW + kx)) * Xp[(oy + ky) * wp + ox + kx];
      Eigen::Map<Vec> out(g);
      out = acc;
    }
}

template <Index CO, Index KH, Index KW, class Scalar>
void conv_cin1_backward_weights_padded(Index ho, Index wo, Index wp, const Scalar* Xp, const Scalar* d, Scalar* acc) {
  // acc (CO, KH·KW + 1): taps then bias, kept in L1 (416 floats for 16×25).
  using Vec = Eigen::Matrix<Scalar, CO, 1>;
  for (Index oy = 0; oy < ho; ++oy)
    for (Index ox = 0; ox < wo; ++ox, d += CO) {
      const Vec dv = Eigen::Map<const Vec>(d);
      for (Index ky = 0; ky < KH; ++ky)
        for (Index kx = 0; kx < KW; ++kx)
          Eigen::Map<Vec>(acc + CO * (ky * KW + kx)) += dv * Xp[(oy + ky) * wp + ox + kx];
      Eigen::Map<Vec>(acc + CO * KH * KW) += dv;
    }
}

// Copies sample image x (h × w) into the zero-padded buffer xp.
template <class Scalar>
void pad_image(const ConvShape& s, const Scalar* x, Scalar* xp) {
  const Index wp = s.w + 2 * s.pad, hp = s.h + 2 * s.pad;
  std::fill(xp, xp + hp * wp, Scalar(0));
  for (Index y = 0; y < s.h; ++y) std::copy(x + y * s.w, x + (y + 1) * s.w, xp + (y + s.pad) * wp + s.pad);
}

// Runs f.template operator()<CO, KH, KW>() for the fixed sizes we unroll;
// false if the shape is not one of them.
template <class F>
bool dispatch_cin1(const ConvShape& s, F&& f) {
  if (s.stride != 1) return false;
  if (s.kh == 5 && s.kw == 5 && s.c_out == 16) return f.template operator()<16, 5, 5>(), true;
  if (s.kh == 5 && s.kw == 5 && s.c_out == 32) return f.template operator()<32, 5, 5>(), true;
  if (s.kh == 3 && s.kw == 3 && s.c_out == 16) return f.template operator()<16, 3, 3>(), true;
  if (s.kh == 3 && s.kw == 3 && s.c_out == 32) return f.template operator()<32, 3, 3>(), true;
  return false;
}
}  // namespace detail

/// Direct convolution for one input channel (a network's first layer on
/// grey images), where im2col + GEMM is poor: a GEMM of depth kh·kw = 25.
/// G (c_out, m·h_out·w_out) = K̄·im2col(X) + b without forming P: every output
/// pixel accumulates c_out-vectors K̄(:, tap)·x. K̄ (c_out, kh·kw) column-major.
/// Requires: s.c_in == 1.
template <class Scalar>
void conv_cin1_forward(const ConvShape& s, Index m, const Scalar* X, const Scalar* K, const Scalar* b, Scalar* G,
                       ThreadPool* pool = nullptr) {
  if (s.c_in != 1) throw std::invalid_argument("conv_cin1_forward: c_in must be 1, got " + std::to_string(s.c_in));
  const Index pix = s.h_out() * s.w_out(), hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad;
  detail::for_samples(pool, m, [&](Index n) {
    const Scalar* Xn = X + s.h * s.w * n;
    Scalar* g = G + s.c_out * pix * n;
    thread_local std::vector<Scalar> xp;
    xp.resize(static_cast<std::size_t>(hp * wp));
    detail::pad_image(s, Xn, xp.data());
    if (detail::dispatch_cin1(s, [&]<Index CO, Index KH, Index KW>() {
          detail::conv_cin1_forward_padded<CO, KH, KW>(s.h_out(), s.w_out(), wp, xp.data(), K, b, g);
        }))
      return;
    switch (s.c_out) {
      case 16: detail::conv_cin1_forward_sample<16>(s, Xn, K, b, g); break;
      case 32: detail::conv_cin1_forward_sample<32>(s, Xn, K, b, g); break;
      default: detail::conv_cin1_forward_sample<0>(s, Xn, K, b, g);
    }
  });
}

/// The weight and bias gradients of conv_cin1_forward: dK̄ = δ·Pᵀ (c_out, kh·kw)
/// and db = δ·1, without forming P. Partial sums per fixed group of samples
/// are added in group order, so the result does not depend on the thread
/// count. Requires: s.c_in == 1.
template <class Scalar>
void conv_cin1_backward_weights(const ConvShape& s, Index m, const Scalar* X, const Scalar* D, Scalar* dK, Scalar* db,
                                ThreadPool* pool = nullptr) {
  if (s.c_in != 1)
    throw std::invalid_argument("conv_cin1_backward_weights: c_in must be 1, got " + std::to_string(s.c_in));
  const Index ho = s.h_out(), wo = s.w_out(), co = s.c_out, kk = s.kh * s.kw;
  const Index group = 4, groups = (m + group - 1) / group;  // fixed: independent of threads
  const Index len = co * (kk + 1);                                // (c_out, kk + 1): taps, then bias
  std::vector<Scalar> partial(static_cast<std::size_t>(groups * len));
  auto work = [&](std::int64_t t) {
    // Accumulate in a buffer of this thread's own (the partials of two groups
    // share cache lines: summing there would bounce them between cores).
    thread_local std::vector<Scalar> local;
    local.assign(static_cast<std::size_t>(len), Scalar(0));
    Scalar* acc = local.data();
    const Index hp = s.h + 2 * s.pad, wp = s.w + 2 * s.pad;
    thread_local std::vector<Scalar> xp;
    xp.resize(static_cast<std::size_t>(hp * wp));
    for (Index n = t * group; n < std::min<Index>(m, (t + 1) * group); ++n) {
      const Scalar* Xn = X + s.h * s.w * n;
      const Scalar* d = D + co * ho * wo * n;
      detail::pad_image(s, Xn, xp.data());
      if (detail::dispatch_cin1(s, [&]<Index CO, Index KH, Index KW>() {
            detail::conv_cin1_backward_weights_padded<CO, KH, KW>(ho, wo, wp, xp.data(), d, acc);
          }))
        continue;
      for (Index oy = 0; oy < ho; ++oy) {
        const Index iy0 = oy * s.stride - s.pad;
        const Index ky_lo = std::max<Index>(0, -iy0), ky_hi = std::min<Index>(s.kh, s.h - iy0);
        for (Index ox = 0; ox < wo; ++ox, d += co) {
          const Index ix0 = ox * s.stride - s.pad;
          const Index kx_lo = std::max<Index>(0, -ix0), kx_hi = std::min<Index>(s.kw, s.w - ix0);
          for (Index ky = ky_lo; ky < ky_hi; ++ky)
            for (Index kx = kx_lo; kx < kx_hi; ++kx) {
              const Scalar x = Xn[(iy0 + ky) * s.w + ix0 + kx];
              Scalar* a = acc + co * (ky * s.kw + kx);
              for (Index c = 0; c < co; ++c) a[c] += d[c] * x;
            }
          Scalar* a = acc + co * kk;
          for (Index c = 0; c < co; ++c) a[c] += d[c];
        }
      }
    }
    std::copy(acc, acc + len, partial.data() + t * len);
  };
  if (pool) pool->run(groups, work);
  else
    for (Index t = 0; t < groups; ++t) work(t);
  for (Index i = 0; i < co * kk; ++i) dK[i] = Scalar(0);
  for (Index c = 0; c < co; ++c) db[c] = Scalar(0);
  for (Index t = 0; t < groups; ++t) {
    const Scalar* acc = partial.data() + t * len;
    for (Index i = 0; i < co * kk; ++i) dK[i] += acc[i];
    for (Index c = 0; c < co; ++c) db[c] += acc[co * kk + c];
  }
}

namespace detail {

// One output pixel of the 2×2 max-pool over C channels: y = max of the four
// inputs, a = the winner's position (first of equals). The scalar loop
// does not vectorise for C = 16 (GCC sizes its vectors by the uint8 argmax:
// 64 lanes), so AVX-512 does blocks of 16 channels by hand.
template <class Scalar>
inline void pool4_forward(const Scalar* x0, const Scalar* x1, const Scalar* x2, const Scalar* x3, Scalar* y,
                          std::uint8_t* a, Index C) {
  Index c = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<Scalar, float>) {
    const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2), three = _mm512_set1_epi32(3);
    for (; c + 16 <= C; c += 16) {
      __m512 best = _mm512_loadu_ps(x0 + c);
      __m512i k = _mm512_setzero_si512();
      __m512 v = _mm512_loadu_ps(x1 + c);
      __mmask16 gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
      best = _mm512_mask_mov_ps(best, gt, v);
      k = _mm512_mask_mov_epi32(k, gt, one);
      v = _mm512_loadu_ps(x2 + c);
      gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
      best = _mm512_mask_mov_ps(best, gt, v);
      k = _mm512_mask_mov_epi32(k, gt, two);
      v = _mm512_loadu_ps(x3 + c);
      gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
      best = _mm512_mask_mov_ps(best, gt, v);
      k = _mm512_mask_mov_epi32(k, gt, three);
      _mm512_storeu_ps(y + c, best);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(a + c), _mm512_cvtepi32_epi8(k));
    }
  }
#endif
  for (; c < C; ++c) {
    Scalar best = x0[c];
    std::uint8_t k = 0;
    if (x1[c] > best) { best = x1[c]; k = 1; }
    if (x2[c] > best) { best = x2[c]; k = 2; }
    if (x3[c] > best) { best = x3[c]; k = 3; }
    y[c] = best;
    a[c] = k;
  }
}

template <class Scalar>
inline void pool4_backward(const Scalar* dy, const std::uint8_t* a, Scalar* x0, Scalar* x1, Scalar* x2, Scalar* x3,
                           Index C) {
  Index c = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<Scalar, float>) {
    for (; c + 16 <= C; c += 16) {
      const __m512i k = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + c)));
      const __m512 g = _mm512_loadu_ps(dy + c);
      _mm512_storeu_ps(x0 + c, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(0)), g));
      _mm512_storeu_ps(x1 + c, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(1)), g));
      _mm512_storeu_ps(x2 + c, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(2)), g));
      _mm512_storeu_ps(x3 + c, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(3)), g));
    }
  }
#endif
  for (; c < C; ++c) {
    x0[c] = a[c] == 0 ? dy[c] : Scalar(0);
    x1[c] = a[c] == 1 ? dy[c] : Scalar(0);
    x2[c] = a[c] == 2 ? dy[c] : Scalar(0);
    x3[c] = a[c] == 3 ? dy[c] : Scalar(0);
  }
}

}  // namespace detail

/// 2×2 max-pool, stride 2: X (C, m·H·W) → Y (C, m·(H/2)·(W/2)); argmax gets
/// the winner's position 0..3 (dy·2 + dx; the first of equal values wins, as
/// in PyTorch). Requires: H and W even.
template <class Scalar>
void maxpool2x2_forward(Index C, Index m, Index H, Index W, const Scalar* X, Scalar* Y, std::uint8_t* argmax,
                        ThreadPool* pool = nullptr) {
  if (H % 2 || W % 2) throw std::invalid_argument("maxpool2x2_forward: H and W must be even");
  const Index ho = H / 2, wo = W / 2;
  detail::for_samples(pool, m, [&](Index n) {
    for (Index oy = 0; oy < ho; ++oy)
      for (Index ox = 0; ox < wo; ++ox) {
        const Index o = (n * ho + oy) * wo + ox;
        const Scalar* x0 = X + C * ((n * H + 2 * oy) * W + 2 * ox);
        detail::pool4_forward(x0, x0 + C, x0 + C * W, x0 + C * W + C, Y + C * o, argmax + C * o, C);
      }
  });
}

/// dX = the adjoint of maxpool2x2_forward at `argmax`: each dY entry goes to
/// its window's winner, the other three get 0. dX (C, m·H·W) overwritten.
template <class Scalar>
void maxpool2x2_backward(Index C, Index m, Index H, Index W, const Scalar* dY, const std::uint8_t* argmax, Scalar* dX,
                         ThreadPool* pool = nullptr) {
  const Index ho = H / 2, wo = W / 2;
  detail::for_samples(pool, m, [&](Index n) {
    for (Index oy = 0; oy < ho; ++oy)
      for (Index ox = 0; ox < wo; ++ox) {
        const Index o = (n * ho + oy) * wo + ox;
        Scalar* x0 = dX + C * ((n * H + 2 * oy) * W + 2 * ox);
        detail::pool4_backward(dY + C * o, argmax + C * o, x0, x0 + C, x0 + C * W, x0 + C * W + C, C);
      }
  });
}

}  // namespace sibp::kernels
