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
template <class Scalar>
void im2col(const ConvShape& s, Index m, const Scalar* X, Scalar* P, PatchOrder order, ThreadPool* pool = nullptr) {
  const Index ho = s.h_out(), wo = s.w_out(), d = s.patch_rows(), kk = s.kh * s.kw, ci_n = s.c_in;
  detail::for_samples(pool, m, [&](Index n) {
    const Scalar* Xn = X + ci_n * s.h * s.w * n;
    Scalar* col = P + d * ho * wo * n;
    for (Index oy = 0; oy < ho; ++oy) {
      for (Index ox = 0; ox < wo; ++ox, col += d) {
        const Index iy0 = oy * s.stride - s.pad, ix0 = ox * s.stride - s.pad;
        const bool interior = iy0 >= 0 && ix0 >= 0 && iy0 + s.kh <= s.h && ix0 + s.kw <= s.w;
        for (Index ky = 0; ky < s.kh; ++ky) {
          const Index iy = iy0 + ky;
          for (Index kx = 0; kx < s.kw; ++kx) {
            const Index ix = ix0 + kx, tap = ky * s.kw + kx;
            const bool valid = interior || (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w);
            const Scalar* src = Xn + ci_n * (iy * s.w + ix);
            if (order == PatchOrder::ChannelMinor) {
              Scalar* dst = col + tap * ci_n;
              if (valid) std::memcpy(dst, src, sizeof(Scalar) * ci_n);
              else std::fill(dst, dst + ci_n, Scalar(0));
            } else {
              Scalar* dst = col + tap;
              if (valid)
                for (Index ci = 0; ci < ci_n; ++ci) dst[ci * kk] = src[ci];
              else
                for (Index ci = 0; ci < ci_n; ++ci) dst[ci * kk] = Scalar(0);
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
  detail::for_samples(pool, m, [&](Index n) {
    Scalar* Xn = dX + ci_n * s.h * s.w * n;
    std::fill(Xn, Xn + ci_n * s.h * s.w, Scalar(0));
    const Scalar* col = dP + d * ho * wo * n;
    for (Index oy = 0; oy < ho; ++oy) {
      for (Index ox = 0; ox < wo; ++ox, col += d) {
        const Index iy0 = oy * s.stride - s.pad, ix0 = ox * s.stride - s.pad;
        for (Index ky = 0; ky < s.kh; ++ky) {
          const Index iy = iy0 + ky;
          if (iy < 0 || iy >= s.h) continue;
          for (Index kx = 0; kx < s.kw; ++kx) {
            const Index ix = ix0 + kx, tap = ky * s.kw + kx;
            if (ix < 0 || ix >= s.w) continue;
            Scalar* dst = Xn + ci_n * (iy * s.w + ix);
            if (order == PatchOrder::ChannelMinor) {
              const Scalar* src = col + tap * ci_n;
              for (Index ci = 0; ci < ci_n; ++ci) dst[ci] += src[ci];
            } else {
              const Scalar* src = col + tap;
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
        const Scalar* x1 = x0 + C;
        const Scalar* x2 = x0 + C * W;
        const Scalar* x3 = x2 + C;
        Scalar* y = Y + C * o;
        std::uint8_t* a = argmax + C * o;
#pragma omp simd
        for (Index c = 0; c < C; ++c) {
          Scalar best = x0[c];
          std::uint8_t k = 0;
          if (x1[c] > best) { best = x1[c]; k = 1; }
          if (x2[c] > best) { best = x2[c]; k = 2; }
          if (x3[c] > best) { best = x3[c]; k = 3; }
          y[c] = best;
          a[c] = k;
        }
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
        Scalar* x1 = x0 + C;
        Scalar* x2 = x0 + C * W;
        Scalar* x3 = x2 + C;
        const Scalar* dy = dY + C * o;
        const std::uint8_t* a = argmax + C * o;
#pragma omp simd
        for (Index c = 0; c < C; ++c) {
          x0[c] = a[c] == 0 ? dy[c] : Scalar(0);
          x1[c] = a[c] == 1 ? dy[c] : Scalar(0);
          x2[c] = a[c] == 2 ? dy[c] : Scalar(0);
          x3[c] = a[c] == 3 ? dy[c] : Scalar(0);
        }
      }
  });
}

}  // namespace sibp::kernels
