#pragma once
/// Fast solvers for SIBP's per-layer proximal subproblem (ALGORITHMS.md §3.3 b, c):
///
///     φ(W, b) = ‖σ(W F + b 1ᵀ) − T‖² + λ‖W − W^k‖² + λ‖b − b^k‖²     (no ½, §3)
///
/// - ExactLinearSolver: σ = identity, φ is a ridge regression solved exactly (§3.3 b).
/// - GaussNewtonCgSolver: σ linearised at G^k, the weighted least-squares problem
///   solved by a few steps of block CG warm-started at (W^k, b^k) (§3.3 c).
/// - GaussNewtonExactSolver: the same Gauss–Newton problem solved exactly, row by
///   row, in sample space from the m×m Gram matrix of [F; 1ᵀ] (§3.3 c).
///
/// Gauss–Newton is not in the papers (Liu & Zhang 2020); it is ours to measure
/// against the authors' Fletcher–Reeves solver. Both Gauss–Newton solvers solve
/// for the stacked variable θ = [W b] with input F̃ = [F; 1ᵀ] (a joint update).
///
/// Safeguard (every Gauss–Newton solver): for nonlinear σ the linearised
/// minimiser θ^k + Δ can raise the true φ. The candidate is therefore checked
/// on the true φ and, while φ(θ^k + tΔ) > φ(θ^k), t is halved (t = 1, ½, ¼, …,
/// at most max_backtracks halvings); if no t passes, θ^k is kept. Because
/// P = Δ F̃ is computed once, each trial σ(G^k + t P) is element-wise (§3.2).
/// Since Δ is a descent direction of φ at θ^k (the Gauss–Newton matrix is
/// positive definite), a small enough t always passes unless θ^k is already
/// stationary. LayerDiagnostics::line_search_exponents records the accepted
/// number of halvings k (t = 2^-k), or -1 when θ^k was kept.
#include <vector>

#include "linalg/cg.hpp"
#include "linalg/ridge.hpp"
#include "linalg/sample_space_cg.hpp"
#include "train/prox_solver.hpp"

namespace sibp {

/// Options of ExactLinearSolver.
struct ExactLinearOptions {
  /// false: the authors' block Gauss–Seidel order (W with b^k held, then b with the
  /// new W held, b's solve in closed form); true: one ridge solve on [W b].
  bool joint = false;
  /// Cholesky (d×d), Woodbury (m×m) or Auto (Woodbury when m < d).
  RidgeMethod method = RidgeMethod::Auto;
};

/// Exact prox of a linear (identity) layer (ALGORITHMS.md §3.3 b).
/// Sequential: W ← (λW^k + (T − b^k1ᵀ)Fᵀ)(λI + FFᵀ)⁻¹, then
/// b ← (λb^k + (T − W F)1)/(λ + m). Joint: [W b] ← the ridge solution with F̃.
/// Requires: problem.act == Identity (else UsageError), F, target, G non-null.
/// Ensures: joint — the exact minimiser; sequential — each block exactly
/// minimised in turn, so φ never increases.
template <typename T>
class ExactLinearSolver : public ProxSolver<T> {
 public:
  explicit ExactLinearSolver(const ExactLinearOptions& options = {});
  void solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) override;

 private:
  ExactLinearOptions options_;
  RidgeSolver<T> ridge_;
  Mat<T> F_;   // (d_in, m): F when the input does not hold it (a convolution's im2col)
  Mat<T> R_;   // (d_out, m): T − b^k 1ᵀ, then T − W F
  Mat<T> Wk_;  // (d_out, d_in): W^k, kept only when diagnostics are asked for
  Vec<T> bk_;  // (d_out)
  GatheredProblem<T> gather_;  // R > 1: the whole batch's problem
};

/// Options of the Gauss–Newton solvers.
struct GaussNewtonOptions {
  int cg_iterations = 5;      ///< GnCgStep: block-CG steps (each two GEMMs, or one m×m product)
  /// GnCgStep: the tolerance θ of an inexact solve (ALGORITHMS.md §3.5), tested as
  /// `cg_stop` says, at most cg_iterations steps; 0 = always cg_iterations steps.
  /// θ < 1, so at least one step.
  double cg_tolerance = 0.0;
  /// GnCgStep: how the tolerance is tested: RelativeDecrease (a step's decrease of the
  /// Gauss–Newton model against the first step's) or RelativeTotal (the layer's whole
  /// residual against the first); Relative asks the residual test of every row.
  CgStop cg_stop = CgStop::RelativeDecrease;
  int max_backtracks = 10;    ///< halvings of the step toward θ^k before θ^k is kept
  /// GnCgStep: where CG runs — the same iterates in exact arithmetic either way.
  /// Auto: the cheaper space by gn_cg_cost() for the layer's shapes (a convolution,
  /// whose patch matrix would have to be formed for sample space, always in
  /// parameter space); Sample / Parameter force one.
  CgSpace space = CgSpace::Auto;
  /// Throws UsageError("gauss-newton: ...") for cg_iterations < 1, cg_tolerance outside
  /// [0, 1), max_backtracks < 0.
  void validate() const;
};

/// Where gn-cg's CG runs for a layer of these shapes over n columns: `options.space`,
/// or for Auto parameter space when the input is an operator (a convolution's
/// patches are never formed) and resolve_cg_space() otherwise.
CgSpace choose_cg_space(const GaussNewtonOptions& options, bool input_is_matrix, Index d_out, Index d_in, Index n,
                        int ranks = 1);

/// One layer's problem linearised at G^k (§3.3 c): for each output row j,
///   min_x ‖(x F̃) ⊙ s_j − e_j‖² + λ‖x‖²,   x = row j of Δθ = [ΔW Δb], F̃ = [F; 1ᵀ].
template <typename T>
struct GaussNewtonSystem {
  const LayerInput<T>& F;  ///< (d_in, n): the layer's (unfolded) input, as an operator
  const Mat<T>& S;  ///< (d_out, n): σ'(G^k)
  const Mat<T>& E;  ///< (d_out, n): T − σ(G^k)
  double lambda;
  /// F is a ShardedInput (§6): only parameter-space CG applies (the sample-space
  /// form needs every column's Gram matrix).
  bool sharded = false;
};

/// A Gauss–Newton step Δθ kept in sample space, Δθ = Z F̃ᵀ (Z: d_out×n), as
/// GnExactStep and GnCgStep's sample-space CG produce it: never formed as a
/// d_out×(d_in + 1) matrix, ‖Δθ‖² = Σ (Z ⊙ ZK) from P = Z K, and θ += tΔθ is one
/// product W += (tZ) Fᵀ into W (b += t Z 1).
template <typename T>
struct SampleSpaceStep {
  Mat<T> Z;           ///< (d_out, n)
  double sqnorm = 0;  ///< ‖Δθ‖²
  /// sqnorm ← Σ (Z ⊙ P) for P = Z·K = Δθ F̃.
  void set_norm_from(const Mat<T>& P);
  /// W += t·Z·Fᵀ, b += t·Z·1 (Z is scaled in place when t ≠ 1).
  void apply(T t, const Eigen::Ref<const Mat<T>>& F, Mat<T>& W, Vec<T>& b);
};

/// Gauss–Newton step by block CG from Δθ = 0 (= warm start at θ^k), all rows at once:
/// x ↦ ((x F̃) ⊙ s²) F̃ᵀ + λx = (e ⊙ s) F̃ᵀ. In sample space (options.space, by
/// default chosen by gn_cg_cost()) the iterates are x = z F̃ᵀ
/// (linalg/sample_space_cg.hpp: one n×n product per step, F itself needed, F̃ never
/// formed: K = FᵀF + 1); else each step is the input operator's two products in
/// parameter space (X F̃ and Y F̃ᵀ: for a convolution a forward and a
/// backward-weights convolution, the patch matrix never formed).
///
/// The Step policy of GaussNewtonSolver: compute() finds Δθ and P = Δθ F̃ (d_out, n),
/// squared_norm() is ‖Δθ‖², apply(t, …) adds tΔθ to (W, b).
template <typename T>
class GnCgStep {
 public:
  explicit GnCgStep(const GaussNewtonOptions& options) : options_(options) {}
  /// Returns the CG iterations; P ← Δθ F̃ (both CG forms keep it up to date at the
  /// cost of an axpy per step).
  int compute(const GaussNewtonSystem<T>& sys, Mat<T>& P);
  double squared_norm() const { return sample_ ? z_.sqnorm : static_cast<double>(D_.squaredNorm()); }
  void apply(T t, const LayerInput<T>& F, Mat<T>& W, Vec<T>& b);
  /// The space the last compute() ran in.
  CgSpace last_space() const { return sample_ ? CgSpace::Sample : CgSpace::Parameter; }

 private:
  GaussNewtonOptions options_;
  bool sample_ = false;  // the last compute() ran in sample space
  BlockCg<T> cg_;
  SampleSpaceCg<T> sample_cg_;
  SampleSpaceStep<T> z_;  // sample space: Δθ = Z F̃ᵀ
  Mat<T> D_;      // (d_out, d_in + 1): Δθ (parameter space)
  Mat<T> Fx_;     // (d_in, n): F when the input does not hold it (sample space only)
  Mat<T> K_;      // (n, n): F̃ᵀF̃ (sample space)
  Mat<T> S2_;     // (d_out, n): s²
  Mat<T> RHS_;    // (d_out, d_in + 1)
  Mat<T> XF_;     // (d_out, n): the operator's X F̃ (first (e ⊙ s), the right-hand side's coefficients)
  Mat<T> XS_;     // (d_out, n): (X F̃) ⊙ s²
  Vec<T> xx_;     // (d_out): ‖x_i‖² of the last step's direction (BlockEnergy)
};

/// Exact Gauss–Newton step, per row in sample space. With K = F̃ᵀF̃ (n×n, once
/// per solve) and s = σ'(g_j), e = t_j − σ(g_j), row j's minimiser of
/// ‖(x F̃) ⊙ s − e‖² + λ‖x‖² is x = (z ⊙ s) F̃ᵀ with (diag(s) K diag(s) + λI) z = e.
/// Samples with s_i = 0 drop out, so for ReLU only row j's active samples enter
/// (an n_j×n_j Cholesky). All rows together: Δθ = Z F̃ᵀ (SampleSpaceStep), and
/// P = Z K without touching F again. Rows are spread over the thread pool. The n×n
/// matrices make it a solver for dense layers (n = the batch size), not for
/// convolutions (n = batch × output pixels).
template <typename T>
class GnExactStep {
 public:
  explicit GnExactStep(const GaussNewtonOptions&) {}
  int compute(const GaussNewtonSystem<T>& sys, Mat<T>& P);
  double squared_norm() const { return z_.sqnorm; }
  void apply(T t, const LayerInput<T>& F, Mat<T>& W, Vec<T>& b) { z_.apply(t, F.matrix_or(Fx_), W, b); }

 private:
  Mat<T> Fx_;  // (d_in, n): F when the input does not hold it
  Mat<T> K_;   // (n, n): F̃ᵀF̃
  SampleSpaceStep<T> z_;
};

/// The Gauss–Newton prox solver: linearises σ at G^k, asks its `Step` policy
/// (GnCgStep or GnExactStep) for Δθ, then applies the safeguard above on the true φ.
template <typename T, typename Step>
class GaussNewtonSolver final : public ProxSolver<T> {
 public:
  explicit GaussNewtonSolver(const GaussNewtonOptions& options = {});
  void solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) override;
  /// The step policy (tests and benchmarks ask it which space it chose).
  const Step& step() const { return step_; }

 private:
  GaussNewtonOptions options_;
  Step step_;
  Mat<T> S_;   // (d_out, n): σ'(G^k)
  Mat<T> E_;   // (d_out, n): T − σ(G^k)
  Mat<T> P_;   // (d_out, n): Δθ F̃, the change of G per unit step
  Mat<T> Fk_;  // (d_out, n): σ(G^k), when the problem does not bring it
  Mat<T> Gt_;  // (d_out, n): trial pre-activation / activation
  std::vector<double> parts_;  // per column chunk: partial sums of φ's data term
  GatheredProblem<T> gather_;  // R > 1, sample-space steps: the whole batch's problem
};

template <typename T>
using GaussNewtonCgSolver = GaussNewtonSolver<T, GnCgStep<T>>;
template <typename T>
using GaussNewtonExactSolver = GaussNewtonSolver<T, GnExactStep<T>>;

}  // namespace sibp
