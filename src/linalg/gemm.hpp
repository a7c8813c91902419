#pragma once
/// The matrix product of the hot call sites: one Eigen GEMM on the calling
/// thread for small products, fixed chunks on the thread pool for large ones.
///
/// Small products stay on one thread because handing work to a sleeping
/// thread costs ~140 µs on the project machine and a batch-100 MLP's products
/// take 5–700 µs (docs/kernels-report.md, question 4); a product of
/// kParallelGemmFlops or more (≈ 1 ms) is cut into chunks of the output whose
/// boundaries depend on the shape only, each one single-threaded Eigen GEMM.
/// Every output element is therefore computed by the same Eigen call with the
/// same blocking whichever thread runs it, and the result is bit-identical for
/// any thread count. Below the threshold the result is exactly Eigen's
/// `C.noalias() = op(A) * op(B)`, so code moved onto this entry point keeps its
/// numbers.
#include "core/types.hpp"

namespace sibp {

/// Whether an operand is used as stored or transposed.
enum class Trans { No, Yes };

/// 2·M·N·K at or above which gemm() splits the product over the thread pool.
inline constexpr double kParallelGemmFlops = 1e8;

/// How gemm() cuts an M×N output: along columns (`split_cols`) or rows, in
/// chunks of `size` (the last one shorter), `count` chunks. A function of the
/// product's shape only.
struct GemmChunks {
  bool split_cols = true;
  Index size = 0;
  Index count = 1;
};

/// The chunking of an (M×K)·(K×N) product. One chunk below kParallelGemmFlops;
/// above it at most 8 chunks of at least 12.5 MFLOP, cut along the longer side
/// of C (cutting columns repacks op(A) once per chunk, cutting rows op(B)) and
/// aligned to Eigen's AVX-512 register blocks (48 rows, 8 columns) so no chunk
/// ends in a partial micro-tile.
GemmChunks gemm_chunks(Index M, Index N, Index K);

/// C = op(A)·op(B) + beta·C (beta = 0 ignores C's old contents, NaNs included).
/// Requires: C sized M×N for the product's shapes, not aliasing A or B
/// (std::invalid_argument on a shape mismatch).
/// Ensures: bit-identical results for any num_threads().
template <typename T>
void gemm(const Eigen::Ref<const Mat<T>>& A, Trans opA, const Eigen::Ref<const Mat<T>>& B, Trans opB,
          Eigen::Ref<Mat<T>> C, T beta = T(0));

}  // namespace sibp
