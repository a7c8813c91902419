#include "linalg/sample_space_cg.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"

namespace sibp {

using cg_detail::row_dots;

template <typename T>
void gram_of_columns(const Eigen::Ref<const Mat<T>>& F, bool ones_row, Mat<T>& K) {
  // SYRK fills one triangle at half the cost of a GEMM; the products with K read all of it.
  K.setZero(F.cols(), F.cols());
  K.template selfadjointView<Eigen::Lower>().rankUpdate(F.transpose());
  if (ones_row) K.array() += T(1);
  K.template triangularView<Eigen::StrictlyUpper>() = K.transpose();
}

namespace {

/// Sample space: vectors are coefficients C of C·F̃ᵀ; ⟨A F̃ᵀ, B F̃ᵀ⟩_i = (A K)_i · B_i,
/// and the operator maps C to λC + (C K) ⊙ w (sample_space_cg.hpp).
template <typename T>
struct SampleSpace {
  static constexpr bool kIdentityMetric = false;
  const Mat<T>& K;
  const Mat<T>* w;
  T lambda;
  void metric(const Mat<T>& V, Mat<T>& MV) const { MV.noalias() = V * K; }
  void apply(const Mat<T>& P, const Mat<T>& PK, Mat<T>& AP) const {
    AP = PK;
    if (w) AP.array() *= w->array();
    AP += lambda * P;
  }
  void dots(const Mat<T>& A, const Mat<T>& B, Vec<T>& out) const { row_dots<T>(A, B, out); }
  void axpy(const Vec<T>& a, const Mat<T>& X, Mat<T>& Y) const { Y.noalias() += a.asDiagonal() * X; }
  void scale(const Vec<T>& a, Mat<T>& X) const { X = a.asDiagonal() * X; }
};

}  // namespace

template <typename T>
CgReport SampleSpaceCg<T>::solve(const Mat<T>& K, const Mat<T>* w, T lambda, const Mat<T>& S0, const Vec<T>& bnorm,
                                 const CgOptions& options, Mat<T>& Z) {
  options.validate();
  const Index d_out = S0.rows(), m = S0.cols();
  if (K.rows() != m || K.cols() != m || bnorm.size() != d_out || (w && (w->rows() != d_out || w->cols() != m)))
    throw UsageError("sample-space cg: expected K (m, m), w and S0 (d_out, m), bnorm (d_out) with m = " +
                     std::to_string(m) + ", d_out = " + std::to_string(d_out));
  scale_ = (bnorm.array() > T(0)).select(bnorm, T(1));
  Z.setZero(d_out, m);
  ZK_.setZero(d_out, m);
  v_.R = S0;
  SampleSpace<T> space{K, w, lambda};
  return run_cg<T>(space, v_, Z, &ZK_, scale_, options);
}

template void gram_of_columns<float>(const Eigen::Ref<const Mat<float>>&, bool, Mat<float>&);
template void gram_of_columns<double>(const Eigen::Ref<const Mat<double>>&, bool, Mat<double>&);
template class SampleSpaceCg<float>;
template class SampleSpaceCg<double>;

}  // namespace sibp
