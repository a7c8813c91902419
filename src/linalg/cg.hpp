#pragma once
/// Matrix-free conjugate gradient for symmetric positive definite operators,
/// single and many right-hand sides (ALGORITHMS.md §3.3 c, §4 `cgN`).
///
/// The block form solves many independent SPD systems that share one
/// operator application: the unknowns are the rows (or columns) of X, and
/// op(X) must act on each row (column) separately. Then every iteration is
/// one call of op — for the ridge problems of this project two GEMMs — while
/// the CG scalars α, β are kept per system, so each system follows exactly
/// the iterates it would follow alone (this is "multi-RHS" CG, not O'Leary's
/// block CG, which couples the systems and can break down when they become
/// linearly dependent).
#include <functional>

#include "core/types.hpp"

namespace sibp {

/// When a CG solve stops before max_iterations.
enum class CgStop {
  /// Every system has ‖r_i‖ ≤ tolerance·‖b_i‖ (relative to its right-hand side).
  Relative,
  /// The ProxProp reference's `conjugate_gradient_block`: max_i ‖r_i‖² < tolerance² ·
  /// mean_i ‖r_i⁰‖², the worst system against the mean initial residual (its tol = 1e-2).
  ProxPropReference,
};

/// Options of a CG solve.
struct CgOptions {
  /// Upper bound on operator applications; 0 returns the warm start.
  int max_iterations = 100;
  /// Threshold of the stopping test. 0 runs exactly max_iterations (ProxProp's
  /// fixed-`N` mode) unless r becomes exactly 0.
  double tolerance = 1e-6;
  CgStop stop = CgStop::Relative;
  /// Added to the denominators of α = rᵀr/(pᵀAp + eps) and β = r'ᵀr'/(rᵀr + eps), as the
  /// ProxProp reference does (1e-6 there). It shortens steps of systems whose residual
  /// is near eps; 0 is textbook CG.
  double denominator_eps = 0.0;
  /// Throws UsageError("cg: ...") for max_iterations < 0, or tolerance or
  /// denominator_eps < 0 / NaN.
  void validate() const;
};

/// Which slices of X are independent systems.
enum class CgSystems {
  Rows,     ///< op(X) = X·A_i row by row, e.g. X ↦ X(λI + FFᵀ): the systems are X's rows
  Columns,  ///< op(X) = A_i·X column by column: the systems are X's columns
};

/// Outcome of a solve, without the solution (the in-place solver writes it).
struct CgReport {
  int iterations = 0;    ///< operator applications made (the warm-start residual is not counted)
  double residual = 0;   ///< max over systems of ‖r_i‖/‖b_i‖ (‖r_i‖ when b_i = 0)
  bool converged = false;  ///< every system met the tolerance
};

/// Outcome of a solve, with the solution (the convenience functions return it).
template <typename T>
struct CgResult {
  Mat<T> x;  ///< the last iterate; a vector solve gives an (n, 1) matrix
  int iterations = 0;
  double residual = 0;
  bool converged = false;
};

namespace cg_detail {
/// out_i = A_i · B_i over the rows of column-major A and B, column by column (a
/// row-wise reduction would stride through memory).
template <typename T>
void row_dots(const Mat<T>& A, const Mat<T>& B, Vec<T>& out);
/// out_i = num_i / (den_i + eps) where that denominator is > 0, else 0: CG's α and β,
/// shared by BlockCg and SampleSpaceCg so both follow one definition.
template <typename T>
void ratio(const Vec<T>& num, const Vec<T>& den, double eps, Vec<T>& out);
/// Sets report.residual (max_i ‖r_i‖/scale_i) and report.converged (options.stop's test)
/// from the squared residuals rr; mean_rr0 is the mean of the first ones.
template <typename T>
void check_stop(const CgOptions& options, const Vec<T>& rr, const Vec<T>& scale, double mean_rr0,
                CgReport& report);
}  // namespace cg_detail

/// AX ← op(X). AX arrives sized like X and must be overwritten (not accumulated).
/// Requires: op is linear, symmetric positive definite on each system of X.
template <typename T>
using BlockOperator = std::function<void(const Mat<T>& X, Mat<T>& AX)>;

/// Multi-RHS conjugate gradient with its workspace kept between solves, so
/// solving the same shapes again allocates nothing.
template <typename T>
class BlockCg {
 public:
  /// Solves op(X) = B for every system of X, starting from X's value (warm start).
  /// Requires: B and X have the same shape; options valid.
  /// Ensures: X holds the last iterate; the report says whether every system converged.
  CgReport solve(const BlockOperator<T>& op, const Eigen::Ref<const Mat<T>>& B, Mat<T>& X,
                 const CgOptions& options, CgSystems systems = CgSystems::Rows);

 private:
  Mat<T> R_, P_, AP_;       // residual, direction, op(direction); shaped like X
  Vec<T> rr_, rr_new_, pap_, alpha_, beta_, bnorm_;  // one entry per system
};

/// Solves A x = b for one SPD operator, starting from x0 (warm start).
/// `op` receives (n, 1) matrices. Allocates; use BlockCg in per-batch loops.
template <typename T>
CgResult<T> conjugate_gradient(const BlockOperator<T>& op, const Eigen::Ref<const Vec<T>>& b,
                               const Eigen::Ref<const Vec<T>>& x0, const CgOptions& options);

/// Solves op(X) = B for every system of X from the warm start X0. Allocates.
template <typename T>
CgResult<T> block_conjugate_gradient(const BlockOperator<T>& op, const Eigen::Ref<const Mat<T>>& B,
                                     const Eigen::Ref<const Mat<T>>& X0, const CgOptions& options,
                                     CgSystems systems = CgSystems::Rows);

}  // namespace sibp
