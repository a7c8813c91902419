#include "linalg/sample_space_cg.hpp"

#include <cmath>
#include <string>

#include "core/enum_names.hpp"
#include "core/error.hpp"

namespace sibp {

using cg_detail::row_dots;

namespace {
constexpr EnumNames<CgSpace, 3> kCgSpaces{
    {{CgSpace::Auto, "auto"}, {CgSpace::Sample, "sample"}, {CgSpace::Parameter, "parameter"}}};
}  // namespace

CgSpace parse_cg_space(std::string_view name, std::string_view option) { return parse_enum(kCgSpaces, name, option); }

std::string to_string(CgSpace space) { return enum_name(kCgSpaces, space); }

// ---------------------------------------------------------------- cost model (ALGORITHMS.md §3.3 d)

LayerCgCost layer_cg_cost(Index d_out, Index d_in, Index n, int iterations, bool last_step_energy) {
  const double o = static_cast<double>(d_out), d = static_cast<double>(d_in + 1), m = static_cast<double>(n),
               k = static_cast<double>(iterations);
  LayerCgCost c;
  // Sample space: SYRK n²d/2, k products (d_out×n)(n×n) — the first residual's
  // metric product and k − 1 more, the last step's residual is skipped — and the
  // update W += Z F̃ᵀ. Passes: about 20 element reads/writes per d_out×n entry and
  // CG step (operator and its dot, three axpys, a dot, two direction updates),
  // plus 8 to set up (s², e ⊙ s, the first residual, ‖Δθ‖²).
  c.sample = 2.0 * (m * m * d / 2 + k * o * m * m + o * m * d) + kElementCost * o * m * (20 * k + 8);
  // Parameter space: the right-hand side (d_out×n)(n×d), two products per step but
  // one for the last when its α comes from ⟨p, Ap⟩ = ‖(pF̃) ⊙ s‖² + λ‖p‖² (BlockEnergy),
  // θ += tΔθ. Passes: about 16 per d_out×d entry and step (CG
  // vectors), 6 per d_out×n entry and step (the weights, the tracked image of G), 3
  // for the update.
  const double products = last_step_energy ? 2 * k : 1 + 2 * k;
  c.parameter = 2.0 * (o * m * d * products) + kElementCost * (o * d * (16 * k + 3) + o * m * (6 * k + 4));
  return c;
}

CgSpace resolve_cg_space(CgSpace space, Index d_out, Index d_in, Index n, int iterations, int ranks,
                         bool last_step_energy) {
  if (space != CgSpace::Auto) return space;
  const LayerCgCost c = layer_cg_cost(d_out, d_in, n, iterations, last_step_energy);
  // Across R ranks parameter-space CG splits its products, while a sample-space
  // solve is gathered and repeated whole on every rank (communication not counted).
  return c.sample < c.parameter / static_cast<double>(ranks) ? CgSpace::Sample : CgSpace::Parameter;
}

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
    if (w)
      AP = PK.cwiseProduct(*w) + lambda * P;
    else
      AP = PK + lambda * P;
  }
  // AP and ⟨PK_i, AP_i⟩ column by column, while the column is in registers: the
  // coefficient matrices are only d_out×m, so passes over them cost as much as
  // the m×m products at MNIST's shapes.
  void apply_and_dot(const Mat<T>& P, const Mat<T>& PK, Mat<T>& AP, Vec<T>& pap) const {
    AP.resize(P.rows(), P.cols());
    pap.setZero(P.rows());
    for (Index j = 0; j < P.cols(); ++j) {
      if (w)
        AP.col(j) = PK.col(j).cwiseProduct(w->col(j)) + lambda * P.col(j);
      else
        AP.col(j) = PK.col(j) + lambda * P.col(j);
      pap.array() += PK.col(j).array() * AP.col(j).array();
    }
  }
  void dots(const Mat<T>& A, const Mat<T>& B, Vec<T>& out) const { row_dots<T>(A, B, out); }
  void axpy(const Vec<T>& a, const Mat<T>& X, Mat<T>& Y) const { Y.noalias() += a.asDiagonal() * X; }
  void scale_add(const Vec<T>& a, const Mat<T>& Y, Mat<T>& X) const { X = a.asDiagonal() * X + Y; }
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

template <typename T>
CgReport SampleSpaceCg<T>::solve_from_zero(const Mat<T>& K, const Mat<T>* w, T lambda, const Mat<T>& S0,
                                           const CgOptions& options, Mat<T>& Z) {
  options.validate();
  const Index d_out = S0.rows(), m = S0.cols();
  if (K.rows() != m || K.cols() != m || (w && (w->rows() != d_out || w->cols() != m)))
    throw UsageError("sample-space cg: expected K (m, m), w and S0 (d_out, m) with m = " + std::to_string(m) +
                     ", d_out = " + std::to_string(d_out));
  Z.setZero(d_out, m);
  ZK_.setZero(d_out, m);
  v_.R = S0;
  v_.MR.noalias() = v_.R * K;
  row_dots<T>(v_.MR, v_.R, v_.rr);
  v_.rr = v_.rr.cwiseMax(T(0));
  // ‖b_i‖ = ‖r⁰_i‖; a zero right-hand side makes that row's test absolute, as in solve().
  scale_ = v_.rr.cwiseSqrt();
  scale_ = (scale_.array() > T(0)).select(scale_, T(1));
  SampleSpace<T> space{K, w, lambda};
  return run_cg<T>(space, v_, Z, &ZK_, scale_, options, /*first_metric_known=*/true);
}

template void gram_of_columns<float>(const Eigen::Ref<const Mat<float>>&, bool, Mat<float>&);
template void gram_of_columns<double>(const Eigen::Ref<const Mat<double>>&, bool, Mat<double>&);
template class SampleSpaceCg<float>;
template class SampleSpaceCg<double>;

}  // namespace sibp
