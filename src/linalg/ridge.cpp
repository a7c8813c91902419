#include "linalg/ridge.hpp"

#include <algorithm>
#include <cmath>

#include "core/enum_names.hpp"
#include "core/error.hpp"

namespace sibp {

namespace {
constexpr EnumNames<RidgeMethod, 3> kRidgeMethods{
    {{RidgeMethod::Auto, "auto"}, {RidgeMethod::Cholesky, "cholesky"}, {RidgeMethod::Woodbury, "woodbury"}}};
}  // namespace

RidgeMethod parse_ridge_method(std::string_view name, std::string_view option) {
  return parse_enum(kRidgeMethods, name, option);
}

std::string to_string(RidgeMethod m) { return enum_name(kRidgeMethods, m); }

namespace {

std::string shape(Index r, Index c) { return std::to_string(r) + "x" + std::to_string(c); }

void check_lambda(double lambda) {
  if (!(lambda > 0.0) || !std::isfinite(lambda))
    throw UsageError("ridge: lambda must be finite and > 0 (it keeps the system positive definite), got " +
                     std::to_string(lambda));
}

template <typename T>
void check_shapes(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& R,
                  const Eigen::Ref<const Mat<T>>& W0, Index W_rows, Index W_cols) {
  const Index d = F.rows(), m = F.cols(), d_out = R.rows();
  if (R.cols() != m || W0.rows() != d_out || W0.cols() != d || W_rows != d_out || W_cols != d)
    throw UsageError("ridge: expected F (d, m), R (d_out, m), W0 and W (d_out, d); got F " + shape(d, m) +
                     ", R " + shape(d_out, R.cols()) + ", W0 " + shape(W0.rows(), W0.cols()) + ", W " +
                     shape(W_rows, W_cols));
}

// out = W0 F. ProxProp solves in the shifted unknown θ^k − θ*, so its warm start is
// exactly zero; the test is O(d_out·d), the product it spares O(d_out·d·m).
template <typename T>
void times_input(const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Mat<T>>& F, Mat<T>& out) {
  if (W0.isZero(0))
    out.setZero(W0.rows(), F.cols());
  else
    out.noalias() = W0 * F;
}

}  // namespace

template <typename T>
RidgeMethod RidgeSolver<T>::solve(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& R,
                                  const Eigen::Ref<const Mat<T>>& W0, double lambda, Eigen::Ref<Mat<T>> W) {
  check_lambda(lambda);
  check_shapes<T>(F, R, W0, W.rows(), W.cols());
  const Index d = F.rows(), m = F.cols();
  const T lam = static_cast<T>(lambda);
  const RidgeMethod used = resolve_ridge_method(method_, d, m);

  // Both forms solve for the change from W0, which is small when the prox is
  // strong; that keeps float round-off relative to the step, not to W.
  times_input(W0, F, E_);
  E_ = R - E_;
  if (used == RidgeMethod::Woodbury) {
    // (λI + FFᵀ)⁻¹ pushed through F: (R − W0F)Fᵀ(λI_d + FFᵀ)⁻¹ = (R − W0F)(λI_m + FᵀF)⁻¹Fᵀ.
    K_.setIdentity(m, m);
    K_ *= lam;
    K_.template selfadjointView<Eigen::Lower>().rankUpdate(F.transpose());
    Z_ = E_.transpose();
  } else {
    K_.setIdentity(d, d);
    K_ *= lam;
    K_.template selfadjointView<Eigen::Lower>().rankUpdate(F);
    Z_.noalias() = F * E_.transpose();
  }
  llt_.compute(K_);
  if (llt_.info() == Eigen::Success) {
    llt_.solveInPlace(Z_);
  } else {
    // λ > 0 makes K positive definite in exact arithmetic; in float a huge ‖F‖²/λ can
    // still break LLT, and pivoted LDLT survives that.
    K_.template triangularView<Eigen::StrictlyUpper>() = K_.transpose();
    Eigen::LDLT<Mat<T>> ldlt(K_);
    Z_ = ldlt.solve(Z_).eval();
  }
  W = W0;
  if (used == RidgeMethod::Woodbury)
    W.noalias() += Z_.transpose() * F.transpose();
  else
    W += Z_.transpose();
  return used;
}

template <typename T>
void RidgeSolver<T>::append_ones_row(const Eigen::Ref<const Mat<T>>& F) {
  Ft_.resize(F.rows() + 1, F.cols());
  Ft_.topRows(F.rows()) = F;
  Ft_.row(F.rows()).setOnes();
}

template <typename T>
void RidgeSolver<T>::join(const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Vec<T>>& b0) {
  if (b0.size() != W0.rows())
    throw UsageError("ridge: bias b0 has " + std::to_string(b0.size()) + " entries but W0 has " +
                     std::to_string(W0.rows()) + " rows");
  theta0_.resize(W0.rows(), W0.cols() + 1);
  theta0_.leftCols(W0.cols()) = W0;
  theta0_.col(W0.cols()) = b0;
  theta_.resize(W0.rows(), W0.cols() + 1);
}

template <typename T>
RidgeMethod RidgeSolver<T>::solve_with_bias(const Eigen::Ref<const Mat<T>>& F,
                                            const Eigen::Ref<const Mat<T>>& target,
                                            const Eigen::Ref<const Mat<T>>& W0,
                                            const Eigen::Ref<const Vec<T>>& b0, double lambda,
                                            Eigen::Ref<Mat<T>> W, Eigen::Ref<Vec<T>> b) {
  if (b.size() != W.rows())
    throw UsageError("ridge: bias b has " + std::to_string(b.size()) + " entries but W has " +
                     std::to_string(W.rows()) + " rows");
  append_ones_row(F);
  join(W0, b0);
  const RidgeMethod used = solve(Ft_, target, theta0_, lambda, theta_);
  W = theta_.leftCols(F.rows());
  b = theta_.col(F.rows());
  return used;
}

namespace {

CgOptions cg_options(int iterations, double tolerance) {
  CgOptions options;
  options.max_iterations = iterations;
  options.tolerance = tolerance;
  return options;
}

}  // namespace

template <typename T>
CgReport RidgeSolver<T>::solve_cg(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& R,
                                  const Eigen::Ref<const Mat<T>>& W0, double lambda, int iterations,
                                  Eigen::Ref<Mat<T>> W, double tolerance) {
  return solve_cg(F, R, W0, lambda, cg_options(iterations, tolerance), W);
}

template <typename T>
bool RidgeSolver<T>::cg_in_sample_space(Index d_out, Index d, Index m, const CgOptions& options) const {
  if (method_ != RidgeMethod::Auto) return method_ == RidgeMethod::Woodbury;
  // These CG forms compute the residual after their last step: no BlockEnergy.
  return resolve_cg_space(CgSpace::Auto, d_out, d - 1, m, std::max(options.max_iterations, 1), 1, false) ==
         CgSpace::Sample;
}

template <typename T>
CgReport RidgeSolver<T>::solve_cg(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& R,
                                  const Eigen::Ref<const Mat<T>>& W0, double lambda, const CgOptions& options,
                                  Eigen::Ref<Mat<T>> W) {
  check_lambda(lambda);
  check_shapes<T>(F, R, W0, W.rows(), W.cols());
  options.validate();
  if (cg_in_sample_space(R.rows(), F.rows(), F.cols(), options))
    return solve_cg_in_sample_space(F, R, W0, nullptr, static_cast<T>(lambda), options, W, nullptr);
  const CgReport report = solve_cg_in_parameter_space(DenseInput<T>(F), false, R, W0, static_cast<T>(lambda), options);
  W = X_;
  return report;
}

template <typename T>
CgReport RidgeSolver<T>::solve_cg_in_parameter_space(const LayerInput<T>& A, bool ones,
                                                     const Eigen::Ref<const Mat<T>>& R,
                                                     const Eigen::Ref<const Mat<T>>& theta0, T lam,
                                                     const CgOptions& options) {
  const Index d = A.rows();
  auto row_sums = [&](Mat<T>& M) { return ones ? M.col(d).data() : nullptr; };
  rhs_.resize(R.rows(), theta0.cols());
  A.times_transposed(R, rhs_.leftCols(d), row_sums(rhs_));  // R Ãᵀ
  rhs_ += lam * theta0;
  X_ = theta0;
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) {
    A.times(X.leftCols(d), ones ? X.col(d).data() : nullptr, XF_);  // X Ã
    A.times_transposed(XF_, AX.leftCols(d), row_sums(AX));           // (X Ã) Ãᵀ
    AX += lam * X;
  };
  return cg_.solve(op, rhs_, X_, options, CgSystems::Rows);
}

// From the warm start θ0 the first residual is (R − θ0F̃)F̃ᵀ, so SampleSpaceCg applies
// with w = 1 (see sample_space_cg.hpp). With b0/b given, F̃ = [F; 1ᵀ] and θ = [W b]
// without forming either.
template <typename T>
CgReport RidgeSolver<T>::solve_cg_in_sample_space(const Eigen::Ref<const Mat<T>>& F,
                                                  const Eigen::Ref<const Mat<T>>& R,
                                                  const Eigen::Ref<const Mat<T>>& W0,
                                                  const Eigen::Ref<const Vec<T>>* b0, T lam,
                                                  const CgOptions& options, Eigen::Ref<Mat<T>> W,
                                                  Eigen::Ref<Vec<T>>* b) {
  gram_of_columns<T>(F, b0 != nullptr, K_);
  times_input(W0, F, XF_);  // θ0F̃
  if (b0) XF_.colwise() += *b0;
  // ‖rhs_i‖² = λ²‖θ0_i‖² + 2λ (θ0F̃)_i·R_i + R_i K R_iᵀ: the stopping test's scale,
  // without forming the d_out×d right-hand side λθ0 + RF̃ᵀ.
  E_.noalias() = R * K_;  // scratch: RK
  cg_detail::row_dots<T>(E_, R, cg_bnorm_);
  cg_detail::row_dots<T>(XF_, R, cg_cross_);
  cg_bnorm_.noalias() += T(2) * lam * cg_cross_;
  cg_bnorm_.noalias() += lam * lam * W0.rowwise().squaredNorm();
  if (b0) cg_bnorm_.noalias() += lam * lam * b0->cwiseAbs2();
  cg_bnorm_ = cg_bnorm_.cwiseMax(T(0)).cwiseSqrt();

  E_ = R - XF_;
  const CgReport report = sample_cg_.solve(K_, nullptr, lam, E_, cg_bnorm_, options, Z_);
  // θ = θ0 + Z F̃ᵀ. W may alias W0: W0 is not read after W is written.
  if (b) *b = *b0 + Z_.rowwise().sum();
  if (W.data() != W0.data()) W = W0;
  W.noalias() += Z_ * F.transpose();
  return report;
}

template <typename T>
CgReport RidgeSolver<T>::solve_with_bias_cg(const Eigen::Ref<const Mat<T>>& F,
                                            const Eigen::Ref<const Mat<T>>& target,
                                            const Eigen::Ref<const Mat<T>>& W0,
                                            const Eigen::Ref<const Vec<T>>& b0, double lambda,
                                            int iterations, Eigen::Ref<Mat<T>> W, Eigen::Ref<Vec<T>> b,
                                            double tolerance) {
  return solve_with_bias_cg(F, target, W0, b0, lambda, cg_options(iterations, tolerance), W, b);
}

template <typename T>
CgReport RidgeSolver<T>::solve_with_bias_cg(const Eigen::Ref<const Mat<T>>& F,
                                            const Eigen::Ref<const Mat<T>>& target,
                                            const Eigen::Ref<const Mat<T>>& W0,
                                            const Eigen::Ref<const Vec<T>>& b0, double lambda,
                                            const CgOptions& options, Eigen::Ref<Mat<T>> W,
                                            Eigen::Ref<Vec<T>> b) {
  if (b.size() != W.rows())
    throw UsageError("ridge: bias b has " + std::to_string(b.size()) + " entries but W has " +
                     std::to_string(W.rows()) + " rows");
  if (b0.size() != W0.rows())
    throw UsageError("ridge: bias b0 has " + std::to_string(b0.size()) + " entries but W0 has " +
                     std::to_string(W0.rows()) + " rows");
  if (cg_in_sample_space(target.rows(), F.rows() + 1, F.cols(), options)) {
    check_lambda(lambda);
    check_shapes<T>(F, target, W0, W.rows(), W.cols());
    options.validate();
    return solve_cg_in_sample_space(F, target, W0, &b0, static_cast<T>(lambda), options, W, &b);
  }
  append_ones_row(F);
  join(W0, b0);
  const CgReport report = solve_cg(Ft_, target, theta0_, lambda, options, theta_);
  W = theta_.leftCols(F.rows());
  b = theta_.col(F.rows());
  return report;
}

template <typename T>
CgReport RidgeSolver<T>::solve_with_bias_cg(const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& target,
                                            const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Vec<T>>& b0,
                                            double lambda, const CgOptions& options, Eigen::Ref<Mat<T>> W,
                                            Eigen::Ref<Vec<T>> b, CgSpace space) {
  // A held matrix (dense layers) keeps the explicit [F; 1ᵀ] of the overload above,
  // and with it the numbers of every run made before input operators existed.
  const bool sample = space == CgSpace::Auto
                          ? F.holds_matrix() || cg_in_sample_space(target.rows(), F.rows() + 1, F.cols(), options)
                          : space == CgSpace::Sample;
  if (sample)
    return solve_with_bias_cg(F.matrix_or(Fx_), target, W0, b0, lambda, options, W, b);
  check_lambda(lambda);
  options.validate();
  const Index d = F.rows(), d_out = target.rows();
  if (target.cols() != F.cols() || W0.rows() != d_out || W0.cols() != d || W.rows() != d_out || W.cols() != d ||
      b0.size() != d_out || b.size() != d_out)
    throw UsageError("ridge: expected an input (d, m), target (d_out, m), W0 and W (d_out, d), b0 and b (d_out); "
                     "got input " + shape(d, F.cols()) + ", target " + shape(d_out, target.cols()) + ", W0 " +
                     shape(W0.rows(), W0.cols()) + ", W " + shape(W.rows(), W.cols()) + ", b0 " +
                     std::to_string(b0.size()) + ", b " + std::to_string(b.size()));
  join(W0, b0);
  const CgReport report =
      solve_cg_in_parameter_space(F, true, target, theta0_, static_cast<T>(lambda), options);
  W = X_.leftCols(d);
  b = X_.col(d);
  return report;
}

template class RidgeSolver<float>;
template class RidgeSolver<double>;

}  // namespace sibp
