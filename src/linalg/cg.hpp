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
  /// The systems as one: √Σ_i ‖r_i‖² ≤ tolerance·√Σ_i ‖b_i‖². For the rows of one
  /// layer problem, whose objective is the sum over its rows, this is the inexact
  /// Newton forcing test ‖r‖ ≤ θ‖r⁰‖ of the whole problem (ALGORITHMS.md §3.5):
  /// one badly conditioned row does not hold every other row's solve back.
  RelativeTotal,
  /// Progress per step: stop after the step whose decrease of the quadratic
  /// ½xᵀAx − bᵀx, summed over the systems (½Σ_i α_i‖r_i‖² for CG), is ≤ tolerance × the
  /// first step's. Costs nothing (α and ‖r‖² are at hand) and, unlike a residual test,
  /// is not held back by directions that matter little to the objective: for an
  /// ill-conditioned layer problem the first steps take most of the decrease while the
  /// residual falls slowly (ALGORITHMS.md §3.5). Always takes the first step.
  RelativeDecrease,
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
  /// false: once the last allowed step has moved the iterate, stop without
  /// forming the new residual (in sample space that is a product with K, a fifth
  /// of a 5-step solve's products). The iterate is the same; the report's
  /// `residual` then describes the iterate before the last step and `converged`
  /// is false unless that one had converged. For callers that use the iterate only.
  bool residual_after_last_step = true;
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

/// The one conjugate-gradient iteration of this project, whatever space its vectors
/// live in (ALGORITHMS.md §3.3 c, §4). A `Space` supplies:
///   - `static constexpr bool kIdentityMetric`: true when vectors are the unknowns
///     themselves (parameter space); false when they are coefficients C of C·F̃ᵀ
///     (sample space), whose inner products need M·C = C·K;
///   - `void metric(const Mat<T>& V, Mat<T>& MV)`: MV ← M·V (unused with the identity);
///   - `void apply(const Mat<T>& P, const Mat<T>& MP, Mat<T>& AP)`: AP ← A·P;
///   - `void dots(const Mat<T>& A, const Mat<T>& B, Vec<T>& out)`: one inner product per system;
///   - `void axpy(const Vec<T>& a, const Mat<T>& X, Mat<T>& Y)`: Y += a_i X_i per system;
///   - `void scale_add(const Vec<T>& a, const Mat<T>& Y, Mat<T>& X)`: X_i ← a_i X_i + Y_i
///     per system, in one pass;
///   - optionally `void moved(const Vec<T>& a)`: told after every X += a_i P_i, so a
///     space can keep a linear image of the iterate up to date (LinearImage);
///   - optionally `void apply_and_dot(const Mat<T>& P, const Mat<T>& MP, Mat<T>& AP, Vec<T>& pap)`:
///     apply() and dots(MP, AP, pap) in one pass over the matrices.
/// Each system i follows the iterates it would follow alone (multi-RHS CG, not
/// O'Leary's block CG).
template <typename T>
struct CgVectors {
  Mat<T> R, MR;    ///< residual and its metric image
  Mat<T> P, MP;    ///< direction and its metric image
  Mat<T> AP;       ///< A·P
  Vec<T> rr, rr_new, pap, coef;  ///< per system: ‖r‖²_M, the next one, ⟨p, Ap⟩, α or β
};

/// Runs CG from X (its metric image MX, if tracked) with the first residual in
/// v.R. Ensures: X (and MX when `track_MX`) hold the last iterate; the report
/// says how many operator applications were made and whether every system met
/// the stopping test, whose per-system scale is `scale` (0 entries: absolute).
/// With `first_metric_known`, v.MR and v.rr already hold M·R and ⟨r, Mr⟩ of the
/// first residual (the caller needed them for `scale`), so they are not recomputed.
template <typename T, typename Space>
CgReport run_cg(Space& space, CgVectors<T>& v, Mat<T>& X, Mat<T>* MX, const Vec<T>& scale,
                const CgOptions& options, bool first_metric_known = false) {
  const Index n_sys = scale.size();
  const auto metric_of = [&](const Mat<T>& V, Mat<T>& MV) -> const Mat<T>& {
    if constexpr (Space::kIdentityMetric) {
      return V;
    } else {
      space.metric(V, MV);
      return MV;
    }
  };
  if (!first_metric_known) {
    const Mat<T>& MR = metric_of(v.R, v.MR);
    space.dots(MR, v.R, v.rr);
    v.rr = v.rr.cwiseMax(T(0));  // ⟨r, Mr⟩ ≥ 0; round-off must not hand a negative to sqrt
  }
  v.P = v.R;
  if constexpr (!Space::kIdentityMetric) v.MP = v.MR;
  CgReport report;
  if (n_sys == 0) {
    report.converged = true;
    return report;
  }
  const double mean_rr0 = static_cast<double>(v.rr.mean());
  double first_decrease = 0;  // CgStop::RelativeDecrease: the first step's
  cg_detail::check_stop<T>(options, v.rr, scale, mean_rr0, report);
  while (!report.converged && report.iterations < options.max_iterations) {
    ++report.iterations;
    const Mat<T>& MP = Space::kIdentityMetric ? v.P : v.MP;
    // The last allowed step, when its residual is not wanted, needs only ⟨p, Ap⟩ for
    // its α: a space that can form that more cheaply than A·p does so.
    const bool last = !options.residual_after_last_step && report.iterations == options.max_iterations;
    bool energy_only = false;
    if constexpr (requires { space.energy(v.P, v.pap); }) {
      if (last) energy_only = space.energy(v.P, v.pap);
    }
    if (energy_only) {
      // v.pap holds ⟨p, Ap⟩; v.AP is not formed (not needed: the loop ends below).
    } else if constexpr (requires { space.apply_and_dot(v.P, MP, v.AP, v.pap); }) {
      space.apply_and_dot(v.P, MP, v.AP, v.pap);
    } else {
      space.apply(v.P, MP, v.AP);
      space.dots(MP, v.AP, v.pap);
    }
    // A system that has already reached r = 0 has p = 0 and pᵀAp = 0: α = 0 keeps it put.
    cg_detail::ratio<T>(v.rr, v.pap, options.denominator_eps, v.coef);
    // The model's decrease in this step, ½Σ α_i‖r_i‖² (the ½ cancels in the test).
    const double decrease = options.stop == CgStop::RelativeDecrease
                                ? static_cast<double>((v.coef.array() * v.rr.array()).sum())
                                : 0.0;
    space.axpy(v.coef, v.P, X);
    if (MX) space.axpy(v.coef, MP, *MX);
    if constexpr (requires { space.moved(v.coef); }) space.moved(v.coef);
    if (last) break;
    if (options.stop == CgStop::RelativeDecrease) {
      if (report.iterations == 1) {
        first_decrease = decrease;
      } else if (decrease <= options.tolerance * first_decrease) {
        report.converged = true;
        break;
      }
    }
    v.coef = -v.coef;
    space.axpy(v.coef, v.AP, v.R);
    const Mat<T>& MR_new = metric_of(v.R, v.MR);
    space.dots(MR_new, v.R, v.rr_new);
    v.rr_new = v.rr_new.cwiseMax(T(0));
    cg_detail::ratio<T>(v.rr_new, v.rr, options.denominator_eps, v.coef);
    // P ← R + diag(β) P, and its metric image the same way: no product of its own.
    space.scale_add(v.coef, v.R, v.P);
    if constexpr (!Space::kIdentityMetric) space.scale_add(v.coef, v.MR, v.MP);
    v.rr.swap(v.rr_new);
    cg_detail::check_stop<T>(options, v.rr, scale, mean_rr0, report);
  }
  return report;
}

/// AX ← op(X). AX arrives sized like X and must be overwritten (not accumulated).
/// Requires: op is linear, symmetric positive definite on each system of X.
template <typename T>
using BlockOperator = std::function<void(const Mat<T>& X, Mat<T>& AX)>;

/// xAx_i ← ⟨x_i, A x_i⟩ for every row i of X, without forming A·X: what CG's last
/// step needs when its residual is not wanted (CgOptions::residual_after_last_step
/// false). For the layer problems, ⟨x, Ax⟩ = ‖(x F̃) ⊙ s‖² + λ‖x‖² costs one product
/// with F̃ where A·x costs two. Like the operator, it must write the tracked image
/// of its argument (LinearImage::of_argument) when BlockCg keeps one.
template <typename T>
using BlockEnergy = std::function<void(const Mat<T>& X, Vec<T>& xAx)>;

/// A linear image L(X) of the iterate that BlockCg keeps up to date for free when
/// the operator computes L of its argument anyway: a layer problem's operator
/// X ↦ ((X F̃) ⊙ w) F̃ᵀ + λX forms X F̃, and the solver wants Δθ F̃ at the end
/// (SIBP's safeguard, §3.2) without one more product with F̃.
/// Rows systems only: the image has one row per system.
template <typename T>
struct LinearImage {
  /// Written by the operator at every call: L of the matrix it was applied to.
  Mat<T>* of_argument = nullptr;
  /// L(X): must hold L of the warm start on entry; holds L of the last iterate on exit.
  Mat<T>* of_iterate = nullptr;
};

/// Multi-RHS conjugate gradient in parameter space (run_cg with the identity
/// metric), with its workspace kept between solves, so solving the same shapes
/// again allocates nothing.
template <typename T>
class BlockCg {
 public:
  /// Solves op(X) = B for every system of X, starting from X's value (warm start).
  /// Requires: B and X have the same shape; options valid.
  /// Ensures: X holds the last iterate; the report says whether every system converged.
  /// With `image` (Rows systems only, else UsageError): the image of the iterate is
  /// kept as well, one axpy of the image's size per step.
  /// With `energy` (Rows systems only, else UsageError): the last allowed step's
  /// ⟨p, Ap⟩ comes from it instead of the operator, when options.residual_after_last_step
  /// is false. The iterate is the same in exact arithmetic; its rounding differs.
  CgReport solve(const BlockOperator<T>& op, const Eigen::Ref<const Mat<T>>& B, Mat<T>& X,
                 const CgOptions& options, CgSystems systems = CgSystems::Rows, LinearImage<T>* image = nullptr,
                 const BlockEnergy<T>* energy = nullptr);

 private:
  CgVectors<T> v_;
  Vec<T> bnorm_;  // one entry per system
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
