#include "linalg/cg.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"

namespace sibp {

void CgOptions::validate() const {
  if (max_iterations < 0)
    throw UsageError("cg: max_iterations must be >= 0, got " + std::to_string(max_iterations));
  if (!(tolerance >= 0))
    throw UsageError("cg: tolerance must be >= 0, got " + std::to_string(tolerance));
  if (!(denominator_eps >= 0) || !std::isfinite(denominator_eps))
    throw UsageError("cg: denominator eps must be finite and >= 0, got " + std::to_string(denominator_eps));
}

namespace cg_detail {

template <typename T>
void row_dots(const Mat<T>& A, const Mat<T>& B, Vec<T>& out) {
  out.setZero(A.rows());
  for (Index j = 0; j < A.cols(); ++j) out.array() += A.col(j).array() * B.col(j).array();
}

template <typename T>
void ratio(const Vec<T>& num, const Vec<T>& den, double eps, Vec<T>& out) {
  const T e = static_cast<T>(eps);
  out = ((den.array() + e) > T(0)).select(num.array() / (den.array() + e), T(0));
}

template <typename T>
void check_stop(const CgOptions& options, const Vec<T>& rr, const Vec<T>& scale, double mean_rr0,
                CgReport& report) {
  report.residual = 0;
  double max_rr = 0, total_rr = 0, total_scale2 = 0;
  bool all_relative = true;
  for (Index i = 0; i < rr.size(); ++i) {
    const double r2 = static_cast<double>(rr[i]);
    const double r = std::sqrt(r2);
    const double s = static_cast<double>(scale[i]);
    report.residual = std::max(report.residual, r / s);
    max_rr = std::max(max_rr, r2);
    total_rr += r2;
    total_scale2 += s * s;
    if (!(r == 0.0 || r <= options.tolerance * s)) all_relative = false;
  }
  switch (options.stop) {
    case CgStop::Relative:
      report.converged = all_relative;
      break;
    case CgStop::ProxPropReference:  // the reference's `res < tol**2 * tol_scale`, or nothing left to do
      report.converged = max_rr == 0.0 || max_rr < options.tolerance * options.tolerance * mean_rr0;
      break;
    case CgStop::RelativeTotal:
      report.converged = total_rr == 0.0 || total_rr <= options.tolerance * options.tolerance * total_scale2;
      break;
    case CgStop::RelativeDecrease:  // tested on the steps (run_cg); here only "nothing left to do"
      report.converged = total_rr == 0.0;
      break;
  }
}

template void row_dots<float>(const Mat<float>&, const Mat<float>&, Vec<float>&);
template void row_dots<double>(const Mat<double>&, const Mat<double>&, Vec<double>&);
template void ratio<float>(const Vec<float>&, const Vec<float>&, double, Vec<float>&);
template void ratio<double>(const Vec<double>&, const Vec<double>&, double, Vec<double>&);
template void check_stop<float>(const CgOptions&, const Vec<float>&, const Vec<float>&, double, CgReport&);
template void check_stop<double>(const CgOptions&, const Vec<double>&, const Vec<double>&, double, CgReport&);

}  // namespace cg_detail

namespace {

// out_i = <A_i, B_i> over each system i (a row or a column).
template <typename T>
void dot_per_system(const Mat<T>& A, const Mat<T>& B, CgSystems s, Vec<T>& out) {
  if (s == CgSystems::Rows)
    cg_detail::row_dots<T>(A, B, out);  // the largest cost of a CG step on 500×785 unknowns
  else
    out.noalias() = A.cwiseProduct(B).colwise().sum().transpose();
}

// Y += diag(a)·X along the systems (Y_i += a_i X_i).
template <typename T>
void axpy_per_system(const Vec<T>& a, const Mat<T>& X, CgSystems s, Mat<T>& Y) {
  if (s == CgSystems::Rows)
    Y.noalias() += a.asDiagonal() * X;
  else
    Y.noalias() += X * a.asDiagonal();
}

}  // namespace

/// Parameter space: the vectors are the unknowns, the metric is the identity.
template <typename T>
struct ParameterSpace {
  static constexpr bool kIdentityMetric = true;
  const BlockOperator<T>& op;
  CgSystems systems;
  LinearImage<T>* image;
  const BlockEnergy<T>* energy_of = nullptr;
  void metric(const Mat<T>&, Mat<T>&) const {}
  // ⟨p_i, A p_i⟩ without A·P, when the caller gave a way to: false otherwise.
  bool energy(const Mat<T>& P, Vec<T>& pap) const {
    if (!energy_of) return false;
    pap.resize(P.rows());
    (*energy_of)(P, pap);
    return true;
  }
  // The iterate moved by a_i P_i, the last argument of op: its image moves by a_i L(P_i).
  void moved(const Vec<T>& a) const {
    if (image) image->of_iterate->noalias() += a.asDiagonal() * *image->of_argument;
  }
  void apply(const Mat<T>& P, const Mat<T>&, Mat<T>& AP) const {
    AP.resize(P.rows(), P.cols());
    op(P, AP);
  }
  void dots(const Mat<T>& A, const Mat<T>& B, Vec<T>& out) const { dot_per_system<T>(A, B, systems, out); }
  void axpy(const Vec<T>& a, const Mat<T>& X, Mat<T>& Y) const { axpy_per_system<T>(a, X, systems, Y); }
  void scale_add(const Vec<T>& a, const Mat<T>& Y, Mat<T>& X) const {
    if (systems == CgSystems::Rows)
      X = a.asDiagonal() * X + Y;
    else
      X = X * a.asDiagonal() + Y;
  }
};

template <typename T>
CgReport BlockCg<T>::solve(const BlockOperator<T>& op, const Eigen::Ref<const Mat<T>>& B, Mat<T>& X,
                           const CgOptions& options, CgSystems systems, LinearImage<T>* image,
                           const BlockEnergy<T>* energy) {
  options.validate();
  if (image && (systems != CgSystems::Rows || !image->of_argument || !image->of_iterate))
    throw UsageError("cg: a tracked image needs Rows systems and both of its matrices");
  if (energy && systems != CgSystems::Rows) throw UsageError("cg: an energy function needs Rows systems");
  if (B.rows() != X.rows() || B.cols() != X.cols())
    throw UsageError("cg: right-hand side is " + std::to_string(B.rows()) + "x" +
                     std::to_string(B.cols()) + " but the unknown is " + std::to_string(X.rows()) +
                     "x" + std::to_string(X.cols()));
  const ParameterSpace<T> space{op, systems, image, energy};
  // Residual scale per system: ‖b_i‖, or 1 where b_i = 0 so the test is absolute there.
  dot_per_system<T>(B, B, systems, bnorm_);
  bnorm_ = bnorm_.cwiseSqrt();
  bnorm_ = (bnorm_.array() > T(0)).select(bnorm_, T(1));
  // A zero warm start (ProxProp's shifted unknown, a Gauss–Newton step) has op(X) = 0:
  // skipping that application saves a whole CG step's products.
  if (X.isZero(0))
    v_.R = B;
  else {
    space.apply(X, X, v_.AP);
    v_.R = B - v_.AP;
  }
  return run_cg<T>(space, v_, X, nullptr, bnorm_, options);
}

template <typename T>
CgResult<T> conjugate_gradient(const BlockOperator<T>& op, const Eigen::Ref<const Vec<T>>& b,
                               const Eigen::Ref<const Vec<T>>& x0, const CgOptions& options) {
  return block_conjugate_gradient<T>(op, b, x0, options, CgSystems::Columns);
}

template <typename T>
CgResult<T> block_conjugate_gradient(const BlockOperator<T>& op, const Eigen::Ref<const Mat<T>>& B,
                                     const Eigen::Ref<const Mat<T>>& X0, const CgOptions& options,
                                     CgSystems systems) {
  CgResult<T> result;
  result.x = X0;
  BlockCg<T> cg;
  const CgReport r = cg.solve(op, B, result.x, options, systems);
  result.iterations = r.iterations;
  result.residual = r.residual;
  result.converged = r.converged;
  return result;
}

#define SIBP_INSTANTIATE(T)                                                                       \
  template class BlockCg<T>;                                                                      \
  template CgResult<T> conjugate_gradient<T>(const BlockOperator<T>&,                             \
                                             const Eigen::Ref<const Vec<T>>&,                     \
                                             const Eigen::Ref<const Vec<T>>&, const CgOptions&);  \
  template CgResult<T> block_conjugate_gradient<T>(const BlockOperator<T>&,                       \
                                                   const Eigen::Ref<const Mat<T>>&,               \
                                                   const Eigen::Ref<const Mat<T>>&,               \
                                                   const CgOptions&, CgSystems);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
