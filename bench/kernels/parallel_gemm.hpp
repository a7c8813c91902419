#pragma once
/// C = op(A)·op(B) (+ beta·C) on a ThreadPool, bit-identical for any thread
/// count: the output is cut into FIXED chunks (boundaries a function of the
/// shape only, never of the thread count), each chunk is one single-threaded
/// Eigen GEMM, and the pool hands chunks out dynamically. Each output element
/// is therefore computed by the same Eigen call with the same blocking
/// whichever thread runs it.
///
/// Requires Eigen::nbThreads() == 1 (else every chunk would start an OpenMP
/// team of its own): call Eigen::setNbThreads(1) once, or build without
/// -fopenmp.
#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "thread_pool.hpp"

namespace sibp::kernels {

/// How an output of rows×cols is cut: along rows or columns, in chunks of
/// `size` (the last one shorter). A function of the GEMM's shape only.
struct GemmChunks {
  bool split_cols = true;
  Eigen::Index size = 0;   // rows or columns per chunk
  Eigen::Index count = 1;  // number of chunks
};

/// The chunking used by parallel_gemm for an (M×K)·(K×N) product.
/// Cutting columns repacks op(A) (M·K) once per chunk, cutting rows repacks
/// op(B) (K·N): cut the output's longer side. Chunks hold at least
/// `min_chunk_flops` and there are at most `max_chunks` of them (enough for
/// dynamic balancing on a few threads), aligned to Eigen's AVX-512 register
/// blocks (48 rows, 8 columns) so no chunk ends in a partial micro-tile.
inline GemmChunks gemm_chunks(Eigen::Index M, Eigen::Index N, Eigen::Index K, double min_chunk_flops = 4e6,
                              Eigen::Index max_chunks = 8) {
  GemmChunks c;
  c.split_cols = N >= M;
  const Eigen::Index len = c.split_cols ? N : M;
  const Eigen::Index align = c.split_cols ? 8 : 48;
  const double flops = 2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  Eigen::Index want = std::clamp<Eigen::Index>(static_cast<Eigen::Index>(flops / min_chunk_flops), 1, max_chunks);
  want = std::min<Eigen::Index>(want, std::max<Eigen::Index>(1, len / align));
  Eigen::Index size = (len + want - 1) / want;
  size = std::min(len, (size + align - 1) / align * align);
  c.size = std::max<Eigen::Index>(size, 1);
  c.count = (len + c.size - 1) / c.size;
  return c;
}

enum class Op { N, T };

/// C = op(A)·op(B) + beta·C (beta 0 ignores C's old contents), chunked as
/// gemm_chunks(M, N, K) on `pool` (nullptr: the chunks run in order on this
/// thread, the same arithmetic). Requires: shapes agree; C does not alias
/// A or B; Eigen::nbThreads() == 1.
template <class MatA, class MatB, class MatC>
void parallel_gemm(ThreadPool* pool, const MatA& A, Op opA, const MatB& B, Op opB, MatC& C,
                   typename MatC::Scalar beta = 0) {
  const Eigen::Index M = opA == Op::N ? A.rows() : A.cols();
  const Eigen::Index K = opA == Op::N ? A.cols() : A.rows();
  const Eigen::Index Kb = opB == Op::N ? B.rows() : B.cols();
  const Eigen::Index N = opB == Op::N ? B.cols() : B.rows();
  if (K != Kb || C.rows() != M || C.cols() != N)
    throw std::invalid_argument("parallel_gemm: shapes do not agree (" + std::to_string(M) + "x" +
                                std::to_string(K) + " times " + std::to_string(Kb) + "x" + std::to_string(N) +
                                " into " + std::to_string(C.rows()) + "x" + std::to_string(C.cols()) + ")");
  if (M == 0 || N == 0) return;
  if (pool && pool->threads() > 1 && Eigen::nbThreads() != 1)
    throw std::logic_error("parallel_gemm: call Eigen::setNbThreads(1) first (Eigen would start OpenMP teams "
                           "inside every chunk), got Eigen::nbThreads() = " + std::to_string(Eigen::nbThreads()));
  const GemmChunks ch = gemm_chunks(M, N, K);
  auto task = [&](std::int64_t t) {
    const Eigen::Index s = static_cast<Eigen::Index>(t) * ch.size;
    const Eigen::Index len = std::min(ch.size, (ch.split_cols ? N : M) - s);
    const Eigen::Index r0 = ch.split_cols ? 0 : s, rn = ch.split_cols ? M : len;
    const Eigen::Index c0 = ch.split_cols ? s : 0, cn = ch.split_cols ? len : N;
    auto out = C.block(r0, c0, rn, cn);
    // The chunk's rows of op(A) and columns of op(B), the other operand whole.
    auto run = [&](const auto& a, const auto& b) {
      if (beta == 0) {
        out.noalias() = a * b;
      } else {
        out *= beta;
        out.noalias() += a * b;
      }
    };
    if (opA == Op::N && opB == Op::N) run(A.block(r0, 0, rn, K), B.block(0, c0, K, cn));
    else if (opA == Op::N) run(A.block(r0, 0, rn, K), B.block(c0, 0, cn, K).transpose());
    else if (opB == Op::N) run(A.block(0, r0, K, rn).transpose(), B.block(0, c0, K, cn));
    else run(A.block(0, r0, K, rn).transpose(), B.block(c0, 0, cn, K).transpose());
  };
  if (pool) pool->run(ch.count, task);
  else
    for (Eigen::Index t = 0; t < ch.count; ++t) task(t);
}

}  // namespace sibp::kernels
