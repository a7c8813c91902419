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

/// Where ReferenceProxSolver keeps its CG vectors; the method is the same.
enum class ReferenceSpace {
  Auto,       ///< per block, whichever prefers_sample_space() says is cheaper
  Parameter,  ///< (d_out, d_in) matrices, as in the authors' code
  Sample,     ///< (d_out, m) coefficients C with X − X^k = C Aᵀ (any shape; for tests when m ≥ d_in)
};

/// Fletcher–Reeves CG on φ(X) = ‖σ(X A + B) − T‖² + λ‖X − X^k‖² for each
/// block X ∈ {W, b, [W b]} with its input A ∈ {F, 1ᵀ, [F; 1ᵀ]} and fixed
/// offset B, started at X^k, exactly `iters` iterations (fewer only if the
/// gradient is exactly zero):
///   g = 2[(σ(Z) − T) ⊙ σ'(Z)] Aᵀ + 2λ(X − X^k),  Z = X A + B,
///   trial steps ρ^m, ρ = 0.6, accepted when φ(X + ρ^m d) < φ(X) + 0.1 ρ^m ⟨g,d⟩, m < 50
///   (rejected earlier once ρ^m|⟨g,d⟩| is below the rounding error of φ, see armijo()),
///   d ← −g⁺ + (‖g⁺‖²/‖g‖²) d, restarted at −g⁺ if not a descent direction.
/// Cost per iteration in parameter space: one product d·A, one product S·Aᵀ
/// (the layer input's operator products: convolutions through oneDNN);
/// each trial step is element-wise on (d_out, m) (§3.2).
///
/// Sample space. Started at X^k, every gradient, every direction and X − X^k
/// lie in {C Aᵀ : C ∈ R^{d_out×m}}, so for an input wider than the batch the
/// CG can run on the coefficients C instead: with K = AᵀA (m×m, once per
/// solve), d·A = C_d K and ⟨C₁Aᵀ, C₂Aᵀ⟩ = Σ (C₁K) ⊙ C₂, and X = X^k + C_x Aᵀ
/// is formed by one product at the end. The iterates, the Armijo decisions
/// and the quirks are those of the parameter-space method (in exact
/// arithmetic); an iteration costs one (d_out, m, m) product instead of two
/// (d_out, d_in, m) ones. ReferenceSpace picks or forces the representation.
/// Ensures (no quirks): φ(W, b) ≤ φ(W^k, b^k).
template <typename T>
class ReferenceProxSolver : public ProxSolver<T> {
 public:
  static constexpr double kRho = 0.6;        ///< backtracking factor ρ
  static constexpr double kArmijoC = 0.1;    ///< sufficient-decrease constant
  static constexpr int kMaxExponent = 50;    ///< trial exponents m < 50

  /// Uses options.iters, options.mode and options.quirks.
  /// Requires: options.validate() passes (throws UsageError otherwise).
  explicit ReferenceProxSolver(const SolverOptions& options, ReferenceSpace space = ReferenceSpace::Auto);

  /// True when a block with `d_out` rows and an input A of `d_in` rows and
  /// `m` columns is cheaper in sample space: only when m < d_in, and only if
  /// forming K = AᵀA (m²·d_in/2) and X (d_out·m·d_in) once costs less than
  /// the d_in-sized products it saves (about 2·iters·d_out·m·d_in), which
  /// fails for narrow outputs (d_out below about m / (2·iters)).
  static bool prefers_sample_space(Index d_out, Index d_in, Index m, int iters);

  void solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) override;

  /// When not null, every line search appends one record to `*trace`
  /// (in call order: W then b, iteration by iteration).
  void set_trace(std::vector<LineSearchRecord>* trace) { trace_ = trace; }
  const SolverOptions& options() const { return options_; }
  /// As given to the constructor (Auto decides per block and shape).
  ReferenceSpace space() const { return space_; }

 private:
  enum class Block { W, b, Joint };
  struct Work {
    Mat<T> X0;  // X^k, shape of the variable
    Mat<T> g;   // gradient, shape of the variable
    Mat<T> d;   // search direction, shape of the variable
  };

  /// Runs the CG on X in the space `space_` chooses for its shape; Z_ holds
  /// X A + B on entry and on exit. Returns ‖X − X^k‖² on exit if `diag` is
  /// not null (for objective_after), 0 otherwise.
  double run_block(Block block, const ProxProblem<T>& p, Eigen::Ref<Mat<T>> X, Work& work, LayerDiagnostics* diag);
  /// The one Fletcher–Reeves + Armijo iteration, on the vectors of `space`
  /// (prox_reference.cpp: the unknowns themselves, or their coefficients in
  /// sample space, where X stays X^k until the last line adds C_x Aᵀ).
  template <typename Space>
  void fletcher_reeves(Block block, const ProxProblem<T>& p, Space& space, Index rows, Index cols,
                       LayerDiagnostics* diag);
  /// The Armijo search of iteration k along PA_ from Z_, given φ(X), c⟨g,d⟩
  /// and the penalty terms ‖X − X^k‖², ⟨X − X^k, d⟩, ‖d‖²; fills every field of
  /// the record but block, rows, cols and k. Stops early, rejected, once the
  /// first-order decrease t|⟨g,d⟩| of the trial is below `noise`, a bound on
  /// the rounding error of evaluating φ (no trial can then be told from φ(X)).
  LineSearchRecord armijo(const ProxProblem<T>& p, double phi, double gsearch, double xx, double xd, double dd,
                          double noise) const;
  /// Labels the search with its block, shape and iteration k and appends it to the
  /// diagnostics and the trace.
  void record(LineSearchRecord rec, Block block, Index rows, Index cols, int k, LayerDiagnostics* diag);
  /// out = D · A for the block's input A.
  void apply_input(Block block, const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& D, Mat<T>& out) const;
  /// g = 2 S Aᵀ + 2λ(X − X0).
  void gradient(Block block, const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& X, double lambda,
                Work& work) const;

  SolverOptions options_;
  std::vector<LineSearchRecord>* trace_ = nullptr;
  Mat<T> Z_;   // (d_out, m) σ's argument at the current iterate
  Mat<T> PA_;  // (d_out, m) direction times the input, d·A
  Mat<T> S_;   // (d_out, m) (σ(Z) − T) ⊙ σ'(Z)
  Mat<T> XJ_;  // (d_out, d_in + 1) the stacked [W b] (joint mode)
  GatheredProblem<T> gather_;  // R > 1: the whole batch's problem (§6)
  Work work_W_, work_b_;
  ReferenceSpace space_;
  // Sample space (run_cg_sample): coefficients C of X − X^k, g and d, each
  // (d_out, m), and their products with K.
  Mat<T> Fx_;  // (d_in, m) F when the input does not hold it (sample space only)
  Mat<T> K_;   // (m, m) AᵀA
  Mat<T> Cx_;  // (d_out, m) X − X^k = Cx_ Aᵀ
  Mat<T> Cg_;  // (d_out, m) g = Cg_ Aᵀ
  Mat<T> Cd_;  // (d_out, m) d = Cd_ Aᵀ
  Mat<T> XK_;  // (d_out, m) Cx_ K = (X − X^k) A
  Mat<T> GK_;  // (d_out, m) Cg_ K = g A
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
