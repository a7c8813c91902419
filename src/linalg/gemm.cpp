#include "linalg/gemm.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/thread_pool.hpp"

namespace sibp {

GemmChunks gemm_chunks(Index M, Index N, Index K) {
  constexpr double kMinChunkFlops = kParallelGemmFlops / 8;
  constexpr Index kMaxChunks = 8;
  GemmChunks c;
  c.split_cols = N >= M;
  const Index len = c.split_cols ? N : M;
  c.size = std::max<Index>(len, 1);
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  if (flops < kParallelGemmFlops) return c;
  const Index align = c.split_cols ? 8 : 48;
  Index want = std::clamp<Index>(static_cast<Index>(flops / kMinChunkFlops), 1, kMaxChunks);
  want = std::min<Index>(want, std::max<Index>(1, len / align));
  Index size = (len + want - 1) / want;
  size = std::min(len, (size + align - 1) / align * align);
  c.size = std::max<Index>(size, 1);
  c.count = (len + c.size - 1) / c.size;
  return c;
}

namespace {

// out = a·b + beta·out, beta = 0 overwriting (NaNs in out included).
template <typename T, typename A, typename B, typename Out>
void product_into(const A& a, const B& b, Out&& out, T beta) {
  if (beta == T(0)) {
    out.noalias() = a * b;
  } else {
    out *= beta;
    out.noalias() += a * b;
  }
}

}  // namespace

template <typename T>
void gemm(const Eigen::Ref<const Mat<T>>& A, Trans opA, const Eigen::Ref<const Mat<T>>& B, Trans opB,
          Eigen::Ref<Mat<T>> C, T beta) {
  const bool tA = opA == Trans::Yes, tB = opB == Trans::Yes;
  const Index M = tA ? A.cols() : A.rows(), K = tA ? A.rows() : A.cols();
  const Index Kb = tB ? B.cols() : B.rows(), N = tB ? B.rows() : B.cols();
  if (K != Kb || C.rows() != M || C.cols() != N)
    throw std::invalid_argument("gemm: shapes do not agree (" + std::to_string(M) + "x" + std::to_string(K) +
                                " times " + std::to_string(Kb) + "x" + std::to_string(N) + " into " +
                                std::to_string(C.rows()) + "x" + std::to_string(C.cols()) + ")");
  if (M == 0 || N == 0) return;
  const GemmChunks ch = gemm_chunks(M, N, K);
  // Chunk t: its rows of op(A) and columns of op(B), the other operand whole.
  auto chunk = [&](std::int64_t t) {
    const Index s = static_cast<Index>(t) * ch.size;
    const Index len = std::min(ch.size, (ch.split_cols ? N : M) - s);
    const Index r0 = ch.split_cols ? 0 : s, rn = ch.split_cols ? M : len;
    const Index c0 = ch.split_cols ? s : 0, cn = ch.split_cols ? len : N;
    auto out = C.block(r0, c0, rn, cn);
    if (!tA && !tB) product_into<T>(A.middleRows(r0, rn), B.middleCols(c0, cn), out, beta);
    else if (!tA) product_into<T>(A.middleRows(r0, rn), B.middleRows(c0, cn).transpose(), out, beta);
    else if (!tB) product_into<T>(A.middleCols(r0, rn).transpose(), B.middleCols(c0, cn), out, beta);
    else product_into<T>(A.middleCols(r0, rn).transpose(), B.middleRows(c0, cn).transpose(), out, beta);
  };
  if (ch.count == 1) {
    // Exactly the expression the call sites used before this entry point existed.
    if (!tA && !tB) product_into<T>(A, B, C, beta);
    else if (!tA) product_into<T>(A, B.transpose(), C, beta);
    else if (!tB) product_into<T>(A.transpose(), B, C, beta);
    else product_into<T>(A.transpose(), B.transpose(), C, beta);
    return;
  }
  parallel_for(ch.count, chunk);
}

template void gemm<float>(const Eigen::Ref<const Mat<float>>&, Trans, const Eigen::Ref<const Mat<float>>&, Trans,
                          Eigen::Ref<Mat<float>>, float);
template void gemm<double>(const Eigen::Ref<const Mat<double>>&, Trans, const Eigen::Ref<const Mat<double>>&, Trans,
                           Eigen::Ref<Mat<double>>, double);

}  // namespace sibp
