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
  Mat<T> R_;   // (d_out, m): T − b^k 1ᵀ, then T − W F
  Mat<T> Wk_;  // (d_out, d_in): W^k, kept only when diagnostics are asked for
  Vec<T> bk_;  // (d_out)
};

/// Options of the Gauss–Newton solvers.
struct GaussNewtonOptions {
  int cg_iterations = 5;      ///< GaussNewtonCgSolver: block-CG steps (each two GEMMs)
  double cg_tolerance = 0.0;  ///< GaussNewtonCgSolver: relative residual to stop early; 0 = never
  int max_backtracks = 10;    ///< halvings of the step toward θ^k before θ^k is kept
  /// GaussNewtonCgSolver: run CG in sample space (SampleSpaceCg) when the batch is
  /// smaller than d_in + 1 — the same iterates, cheaper; false forces parameter space.
  bool cg_in_sample_space = true;
  /// Throws UsageError("gauss-newton: ...") for cg_iterations < 1, cg_tolerance < 0,
  /// max_backtracks < 0.
  void validate() const;
};

/// Work shared by both Gauss–Newton solvers: linearisation and the safeguarded step.
template <typename T>
class GaussNewtonBase : public ProxSolver<T> {
 public:
  explicit GaussNewtonBase(const GaussNewtonOptions& options);
  void solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) final;

 protected:
  /// Sets D_ (d_out, d_in + 1) to the Gauss–Newton step Δθ, given Ft_ = [F; 1ᵀ],
  /// S_ = σ'(G^k) and E_ = T − σ(G^k). May also set P_ = Δθ F̃ (returns true) to
  /// spare the safeguard that GEMM. Returns the iteration count through `iterations`.
  virtual bool compute_step(double lambda, Activation act, int& iterations) = 0;

  GaussNewtonOptions options_;
  Mat<T> Ft_;     // (d_in + 1, m): [F; 1ᵀ]
  Mat<T> S_;      // (d_out, m): σ'(G^k)
  Mat<T> E_;      // (d_out, m): T − σ(G^k)
  Mat<T> D_;      // (d_out, d_in + 1): Δθ
  Mat<T> P_;      // (d_out, m): Δθ F̃, the change of G per unit step
  Mat<T> Fk_;     // (d_out, m): σ(G^k)
  Mat<T> Gt_;     // (d_out, m): trial pre-activation / activation
};

/// Gauss–Newton step by block CG (ALGORITHMS.md §3.3 c): for each output row j,
/// CG on  x ↦ ((x F̃) ⊙ s_j²) F̃ᵀ + λx = (e_j ⊙ s_j) F̃ᵀ  from x = 0 (= warm start at θ^k),
/// all rows at once. With m < d_in + 1 the iterates are computed in sample space
/// (x = z F̃ᵀ, see linalg/sample_space_cg.hpp: one m×m product per step), else each
/// step is two GEMMs in parameter space. Then the safeguard above.
template <typename T>
class GaussNewtonCgSolver : public GaussNewtonBase<T> {
 public:
  explicit GaussNewtonCgSolver(const GaussNewtonOptions& options = {});

 private:
  bool compute_step(double lambda, Activation act, int& iterations) override;
  BlockCg<T> cg_;
  SampleSpaceCg<T> sample_cg_;
  Mat<T> K_;    // (m, m): F̃ᵀF̃ (sample space)
  Mat<T> Z_;    // (d_out, m): Δθ = Z F̃ᵀ (sample space)
  Vec<T> bnorm_;  // (d_out): ‖(e_j ⊙ s_j) F̃ᵀ‖ (sample space)
  Mat<T> S2_;   // (d_out, m): s²
  Mat<T> RHS_;  // (d_out, d_in + 1)
  Mat<T> XF_;   // (d_out, m)
};

/// Exact Gauss–Newton step, per row in sample space (ALGORITHMS.md §3.3 c). With
/// K = F̃ᵀF̃ (m×m, once per solve) and s = σ'(g_j), e = t_j − σ(g_j), row j's
/// minimiser of ‖(x F̃) ⊙ s − e‖² + λ‖x‖² is x = (z ⊙ s) F̃ᵀ with
/// (diag(s) K diag(s) + λI) z = e. Samples with s_i = 0 drop out, so for ReLU
/// only row j's active samples enter (an m_j×m_j Cholesky). All rows together:
/// Δθ = Z F̃ᵀ, one GEMM, and P = Z K without touching F again. Rows are spread
/// over OpenMP threads.
template <typename T>
class GaussNewtonExactSolver : public GaussNewtonBase<T> {
 public:
  explicit GaussNewtonExactSolver(const GaussNewtonOptions& options = {});

 private:
  bool compute_step(double lambda, Activation act, int& iterations) override;
  Mat<T> K_;  // (m, m): F̃ᵀF̃
  Mat<T> Z_;  // (d_out, m)
  struct ThreadWork {
    Mat<T> M;  // (m, m): the row's system, top-left m_j×m_j used
    Vec<T> u;  // (m)
    Vec<T> s;  // (m)
    std::vector<Index> idx;
  };
  std::vector<ThreadWork> work_;
};

}  // namespace sibp
