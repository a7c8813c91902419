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
  double cg_tolerance = 0.0;  ///< GnCgStep: relative residual to stop early; 0 = never
  int max_backtracks = 10;    ///< halvings of the step toward θ^k before θ^k is kept
  /// GnCgStep: run CG in sample space (SampleSpaceCg) when the layer has fewer
  /// columns than unknowns per row (n < d_in + 1) — the same iterates, cheaper;
  /// false forces parameter space.
  bool cg_in_sample_space = true;
  /// Throws UsageError("gauss-newton: ...") for cg_iterations < 1, cg_tolerance < 0,
  /// max_backtracks < 0.
  void validate() const;
};

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

/// Gauss–Newton step by block CG from Δθ = 0 (= warm start at θ^k), all rows at once:
/// x ↦ ((x F̃) ⊙ s²) F̃ᵀ + λx = (e ⊙ s) F̃ᵀ. With n < d_in + 1 the iterates are
/// computed in sample space (x = z F̃ᵀ, linalg/sample_space_cg.hpp: one n×n product
/// per step, F itself needed); else each step is the input operator's two products
/// in parameter space (X F̃ and Y F̃ᵀ: for a convolution a forward and a
/// backward-weights convolution, the patch matrix never formed).
template <typename T>
class GnCgStep {
 public:
  explicit GnCgStep(const GaussNewtonOptions& options) : options_(options) {}
  /// D (d_out, d_in + 1) ← Δθ. Returns the CG iterations; sets `has_P` and P = Δθ F̃
  /// (d_out, n): both CG forms keep it up to date at the cost of an axpy per step.
  int compute(const GaussNewtonSystem<T>& sys, Mat<T>& D, Mat<T>& P, bool& has_P);

 private:
  GaussNewtonOptions options_;
  BlockCg<T> cg_;
  SampleSpaceCg<T> sample_cg_;
  Mat<T> Fx_;     // (d_in, n): F when the input does not hold it (sample space only)
  Mat<T> Ft_;     // (d_in + 1, n): [F; 1ᵀ] (sample space only)
  Mat<T> K_;      // (n, n): F̃ᵀF̃ (sample space)
  Mat<T> Z_;      // (d_out, n): Δθ = Z F̃ᵀ (sample space)
  Vec<T> bnorm_;  // (d_out): ‖(e_j ⊙ s_j) F̃ᵀ‖ (sample space)
  Mat<T> S2_;     // (d_out, n): s²
  Mat<T> RHS_;    // (d_out, d_in + 1)
  Mat<T> XF_;     // (d_out, n): the operator's X F̃ (first (e ⊙ s), the right-hand side's coefficients)
  Mat<T> XS_;     // (d_out, n): (X F̃) ⊙ s²
};

/// Exact Gauss–Newton step, per row in sample space. With K = F̃ᵀF̃ (n×n, once
/// per solve) and s = σ'(g_j), e = t_j − σ(g_j), row j's minimiser of
/// ‖(x F̃) ⊙ s − e‖² + λ‖x‖² is x = (z ⊙ s) F̃ᵀ with (diag(s) K diag(s) + λI) z = e.
/// Samples with s_i = 0 drop out, so for ReLU only row j's active samples enter
/// (an n_j×n_j Cholesky). All rows together: Δθ = Z F̃ᵀ, one GEMM, and P = Z K
/// without touching F again. Rows are spread over the thread pool. The n×n
/// matrices make it a solver for dense layers (n = the batch size), not for
/// convolutions (n = batch × output pixels).
template <typename T>
class GnExactStep {
 public:
  explicit GnExactStep(const GaussNewtonOptions&) {}
  int compute(const GaussNewtonSystem<T>& sys, Mat<T>& D, Mat<T>& P, bool& has_P);

 private:
  Mat<T> Fx_;  // (d_in, n): F when the input does not hold it
  Mat<T> Ft_;  // (d_in + 1, n): [F; 1ᵀ]
  Mat<T> K_;   // (n, n): F̃ᵀF̃
  Mat<T> Z_;   // (d_out, n)
};

/// The Gauss–Newton prox solver: linearises σ at G^k, asks its `Step` policy
/// (GnCgStep or GnExactStep) for Δθ, then applies the safeguard above on the true φ.
template <typename T, typename Step>
class GaussNewtonSolver final : public ProxSolver<T> {
 public:
  explicit GaussNewtonSolver(const GaussNewtonOptions& options = {});
  void solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) override;

 private:
  GaussNewtonOptions options_;
  Step step_;
  Mat<T> S_;   // (d_out, n): σ'(G^k)
  Mat<T> E_;   // (d_out, n): T − σ(G^k)
  Mat<T> D_;   // (d_out, d_in + 1): Δθ
  Mat<T> P_;   // (d_out, n): Δθ F̃, the change of G per unit step
  Mat<T> Fk_;  // (d_out, n): σ(G^k)
  Mat<T> Gt_;  // (d_out, n): trial pre-activation / activation
  std::vector<double> parts_;  // per column chunk: partial sums of φ's data term
  GatheredProblem<T> gather_;  // R > 1, sample-space steps: the whole batch's problem
};

template <typename T>
using GaussNewtonCgSolver = GaussNewtonSolver<T, GnCgStep<T>>;
template <typename T>
using GaussNewtonExactSolver = GaussNewtonSolver<T, GnExactStep<T>>;

}  // namespace sibp
