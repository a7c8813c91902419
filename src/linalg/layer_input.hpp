#pragma once
/// A layer's input as the proximal solvers see it (ALGORITHMS.md §3.3, §4, §5):
/// the matrix F (d, n) that a layer's weights multiply — a dense layer's input
/// F_{l-1}, or a convolution's patch matrix P — together with the row of ones
/// that multiplies the bias, F̃ = [F; 1ᵀ] (d + 1, n), known through its products
///
///     X·F̃ = X_W·F + x_b·1ᵀ          (r, n)       the change of G for a step [X_W x_b]
///     Y·F̃ᵀ = [Y·Fᵀ, Y·1]            (r, d + 1)   a gradient, or a CG operator's second half
///
/// A convolution computes them as a forward convolution with X_W as its kernel
/// and as the backward-weights convolution of Y, without ever forming P
/// (31 MB for the reference CNN's second layer at batch 100, and 4× slower
/// through it: docs/kernels-report.md, question 2). Paths that need F itself
/// (the sample-space solvers' Gram matrix FᵀF, the exact ridge solve's FFᵀ)
/// ask for matrix_or(), which a dense layer answers with the matrix it holds
/// and a convolution by forming P.
#include "core/types.hpp"

namespace sibp {

/// The input F (d, n) of a parametrised layer, with F̃ = [F; 1ᵀ] implicit.
/// Instances are views: they refer to buffers of the forward tape and are valid
/// while those are unchanged.
template <typename T>
class LayerInput {
 public:
  virtual ~LayerInput() = default;
  /// d: rows of F (F̃ has d + 1).
  virtual Index rows() const = 0;
  /// n: columns (samples, or sample-pixels of a convolution).
  virtual Index cols() const = 0;

  /// out (r, n) ← X·F, plus b·1ᵀ when `b` is not null (b: r entries), i.e. [X b]·F̃.
  /// Requires: X (r, d). `out` is resized; it must not alias X or b.
  virtual void times(const Eigen::Ref<const Mat<T>>& X, const T* b, Mat<T>& out) const = 0;

  /// out (r, d) ← Y·Fᵀ and, when `ones` is not null, ones (r entries) ← Y·1, i.e.
  /// [out ones] = Y·F̃ᵀ. Requires: Y (r, n); out sized (r, d); neither aliases Y.
  virtual void times_transposed(const Eigen::Ref<const Mat<T>>& Y, Eigen::Ref<Mat<T>> out, T* ones) const = 0;

  /// True when F is held in memory (a dense layer's input): matrix_or() is then free.
  virtual bool holds_matrix() const = 0;

  /// F itself (d, n): the matrix held, or F formed into `scratch` (a convolution's
  /// im2col) and a view of it. Valid while the held matrix or `scratch` is.
  virtual Eigen::Ref<const Mat<T>> matrix_or(Mat<T>& scratch) const = 0;
};

/// F held as a matrix (a dense layer's input, or any explicit F): the products
/// are Eigen GEMMs through gemm() (linalg/gemm.hpp), so their results are
/// exactly those of `X * F` and `Y * F.transpose()` below its parallel threshold.
template <typename T>
class DenseInput final : public LayerInput<T> {
 public:
  /// Refers to F's storage, which must outlive this view.
  explicit DenseInput(const Eigen::Ref<const Mat<T>>& F) : F_(F) {}
  Index rows() const override { return F_.rows(); }
  Index cols() const override { return F_.cols(); }
  void times(const Eigen::Ref<const Mat<T>>& X, const T* b, Mat<T>& out) const override;
  void times_transposed(const Eigen::Ref<const Mat<T>>& Y, Eigen::Ref<Mat<T>> out, T* ones) const override;
  bool holds_matrix() const override { return true; }
  Eigen::Ref<const Mat<T>> matrix_or(Mat<T>&) const override { return F_; }

 private:
  Eigen::Ref<const Mat<T>> F_;
};

}  // namespace sibp
