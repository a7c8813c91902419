#pragma once
/// The SIBP authors' proximal solver (ALGORITHMS.md §3.3 a): Fletcher–Reeves
/// nonlinear CG with Armijo backtracking, a fixed number of iterations,
/// W then b (block Gauss–Seidel) or the stacked [W b].
///
/// Liu & Zhang, Semi-Implicit Back Propagation, arXiv 2002.03516 (2020), and
/// their MATLAB FR3.m (hidden layers) / FR4.m (output layer). The quirks of
/// that code are switches in ReferenceQuirks; all off is the clean method.
#include <vector>

#include "train/prox_factory.hpp"
#include "train/prox_solver.hpp"

namespace sibp {

/// One Armijo search, with the columns of the authors' linesearch_trace.bin.
struct LineSearchRecord {
  char block = 'W';          ///< 'W', 'b' (sequential blocks) or 'J' (joint [W b])
  Index rows = 0, cols = 0;  ///< shape of the variable being solved for
  int k = 0;                 ///< 0-based CG iteration
  int m_jump = -1;           ///< exponent after the armijo_jump quirk; -1 when no jump happened
  int m_exit = 0;            ///< exponent m when the search loop ended
  bool accepted = false;     ///< the last trial met the Armijo condition
  bool applied = false;      ///< the step was applied to the variable
  double objective_start = 0;      ///< φ at the start of the iteration
  double objective_last_trial = 0; ///< φ at the last trial point
  double sigma_gd = 0;             ///< c·⟨g, d⟩ (negative for a descent direction)
};

/// Fletcher–Reeves CG on φ(X) = ‖σ(X A + B) − T‖² + λ‖X − X^k‖² for each
/// block X ∈ {W, b, [W b]} with its input A ∈ {F, 1ᵀ, [F; 1ᵀ]} and fixed
/// offset B, started at X^k, exactly `iters` iterations (fewer only if the
/// gradient is exactly zero):
///   g = 2[(σ(Z) − T) ⊙ σ'(Z)] Aᵀ + 2λ(X − X^k),  Z = X A + B,
///   trial steps ρ^m, ρ = 0.6, accepted when φ(X + ρ^m d) < φ(X) + 0.1 ρ^m ⟨g,d⟩, m < 50,
///   d ← −g⁺ + (‖g⁺‖²/‖g‖²) d, restarted at −g⁺ if not a descent direction.
/// Cost per iteration: one product d·A, one product S·Aᵀ; each trial step is
/// element-wise on (d_out, m) (§3.2).
/// Ensures (no quirks): φ(W, b) ≤ φ(W^k, b^k).
template <typename T>
class ReferenceProxSolver : public ProxSolver<T> {
 public:
  static constexpr double kRho = 0.6;        ///< backtracking factor ρ
  static constexpr double kArmijoC = 0.1;    ///< sufficient-decrease constant
  static constexpr int kMaxExponent = 50;    ///< trial exponents m < 50

  /// Uses options.iters, options.mode and options.quirks.
  /// Requires: options.validate() passes (throws UsageError otherwise).
  explicit ReferenceProxSolver(const SolverOptions& options);

  void solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) override;

  /// When not null, every line search appends one record to `*trace`
  /// (in call order: W then b, iteration by iteration).
  void set_trace(std::vector<LineSearchRecord>* trace) { trace_ = trace; }
  const SolverOptions& options() const { return options_; }

 private:
  enum class Block { W, b, Joint };
  struct Work {
    Mat<T> X0;  // X^k, shape of the variable
    Mat<T> g;   // gradient, shape of the variable
    Mat<T> d;   // search direction, shape of the variable
  };

  /// Runs the CG on X; Z_ holds X A + B on entry and on exit.
  void run_cg(Block block, const ProxProblem<T>& p, Eigen::Ref<Mat<T>> X, Work& work, LayerDiagnostics* diag);
  /// out = D · A for the block's input A.
  void apply_input(Block block, const Mat<T>& F, const Eigen::Ref<const Mat<T>>& D, Mat<T>& out) const;
  /// g = 2 S Aᵀ + 2λ(X − X0).
  void gradient(Block block, const Mat<T>& F, const Eigen::Ref<const Mat<T>>& X, double lambda, Work& work) const;

  SolverOptions options_;
  std::vector<LineSearchRecord>* trace_ = nullptr;
  Mat<T> Z_;   // (d_out, m) σ's argument at the current iterate
  Mat<T> PA_;  // (d_out, m) direction times the input, d·A
  Mat<T> S_;   // (d_out, m) (σ(Z) − T) ⊙ σ'(Z)
  Mat<T> XJ_;  // (d_out, d_in + 1) the stacked [W b] (joint mode)
  Work work_W_, work_b_;
};

/// Σ (σ(Z) − T)² and, if S is not null, S = (σ(Z) − T) ⊙ σ'(Z) (sized by the caller).
/// Accumulates in double. Exposed for tests and other solvers.
template <typename T>
double prox_data_term(Activation act, const Mat<T>& Z, const Mat<T>& target, Mat<T>* S);

/// φ(W, b) of `problem` at (W, b) relative to (Wk, bk) (one GEMM; for tests and diagnostics).
template <typename T>
double prox_objective(const ProxProblem<T>& problem, const Mat<T>& W, const Vec<T>& b, const Mat<T>& Wk,
                      const Vec<T>& bk);

}  // namespace sibp
