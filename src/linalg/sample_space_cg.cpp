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

template <typename T>
CgReport SampleSpaceCg<T>::solve(const Mat<T>& K, const Mat<T>* w, T lambda, const Mat<T>& S0,
                                 const Vec<T>& bnorm, const CgOptions& options, Mat<T>& Z) {
  options.validate();
  const Index d_out = S0.rows(), m = S0.cols();
  if (K.rows() != m || K.cols() != m || bnorm.size() != d_out || (w && (w->rows() != d_out || w->cols() != m)))
    throw UsageError("sample-space cg: expected K (m, m), w and S0 (d_out, m), bnorm (d_out) with m = " +
                     std::to_string(m) + ", d_out = " + std::to_string(d_out));
  scale_ = (bnorm.array() > T(0)).select(bnorm, T(1));
  Z.setZero(d_out, m);
  ZK_.setZero(d_out, m);
  S_ = S0;
  SK_.noalias() = S_ * K;
  P_ = S_;
  PK_ = SK_;
  row_dots<T>(SK_, S_, rr_);
  rr_ = rr_.cwiseMax(T(0));  // sKsᵀ ≥ 0; round-off must not hand a negative to sqrt

  CgReport report;
  if (d_out == 0) {
    report.converged = true;
    return report;
  }
  const double mean_rr0 = static_cast<double>(rr_.mean());
  cg_detail::check_stop<T>(options, rr_, scale_, mean_rr0, report);
  while (!report.converged && report.iterations < options.max_iterations) {
    ++report.iterations;
    AP_ = PK_;  // op(P F̃ᵀ) = (λP + (PK) ⊙ w) F̃ᵀ
    if (w) AP_.array() *= w->array();
    AP_ += lambda * P_;
    row_dots<T>(PK_, AP_, pap_);
    // A row already at r = 0 has p = 0 and pᵀAp = 0: α = 0 keeps it put.
    cg_detail::ratio<T>(rr_, pap_, options.denominator_eps, coef_);
    Z.noalias() += coef_.asDiagonal() * P_;
    ZK_.noalias() += coef_.asDiagonal() * PK_;
    S_.noalias() -= coef_.asDiagonal() * AP_;
    SK_.noalias() = S_ * K;
    row_dots<T>(SK_, S_, rr_new_);
    rr_new_ = rr_new_.cwiseMax(T(0));
    cg_detail::ratio<T>(rr_new_, rr_, options.denominator_eps, coef_);
    P_ = coef_.asDiagonal() * P_;
    P_ += S_;
    PK_ = coef_.asDiagonal() * PK_;  // (S + βP)K without another product
    PK_ += SK_;
    rr_.swap(rr_new_);
    cg_detail::check_stop<T>(options, rr_, scale_, mean_rr0, report);
  }
  return report;
}

template void gram_of_columns<float>(const Eigen::Ref<const Mat<float>>&, bool, Mat<float>&);
template void gram_of_columns<double>(const Eigen::Ref<const Mat<double>>&, bool, Mat<double>&);
template class SampleSpaceCg<float>;
template class SampleSpaceCg<double>;

}  // namespace sibp
