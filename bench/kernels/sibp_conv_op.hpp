#pragma once
/// SIBP's Gauss–Newton operator on a convolution layer (REPORT.md, question
/// 2): X ↦ ((X·P̃) ⊙ S)·P̃ᵀ + λX, X (c_out, c_in·kh·kw + 1) = [K̄ b],
/// P̃ = [P; 1ᵀ] (d + 1, n), S (c_out, n) the per-output curvature weights.
#include <Eigen/Core>

#include "dnnl_ops.hpp"
#include "parallel_gemm.hpp"

namespace sibp::kernels {

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;

/// With the patch matrix formed: two GEMMs. Y (c_out, n) is workspace.
/// Requires: Pt (d + 1, n) with its last row all ones.
inline void sibp_conv_operator_explicit(ThreadPool* pool, const MatF& X, const MatF& Pt, const MatF& S, float lambda,
                                        MatF& Y, MatF& Z) {
  parallel_gemm(pool, X, Op::N, Pt, Op::N, Y);
  Y.array() *= S.array();
  parallel_gemm(pool, Y, Op::N, Pt, Op::T, Z);
  Z += lambda * X;
}

/// Without P: a forward convolution with X as kernel and bias, then the
/// backward-weights convolution with diff_dst = Y ⊙ S, which returns
/// (Y ⊙ S)·Pᵀ and its row sums (the bias column). `conv` must already hold
/// the layer's input (conv.in_src). Y (c_out, n), Xk/Zk (c_out, d), Xb/Zb
/// (c_out, 1) are workspace.
inline void sibp_conv_operator_dnnl(DnnlConv& conv, const MatF& X, const MatF& S, float lambda, MatF& Y, MatF& Xk,
                                    MatF& Xb, MatF& Zk, MatF& Zb, MatF& Z) {
  const Eigen::Index d = X.cols() - 1;
  Xk = X.leftCols(d);
  Xb = X.col(d);
  conv.in_weights(Xk.data(), Xb.data());
  conv.forward(Y.data());
  conv.out_dst();
  Y.array() *= S.array();
  conv.in_diff_dst(Y.data());
  conv.backward_weights(Zk.data(), Zb.data());
  conv.out_diff_weights();
  Z.leftCols(d) = Zk + lambda * Xk;
  Z.col(d) = Zb + lambda * Xb;
}

}  // namespace sibp::kernels
