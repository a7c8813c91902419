#pragma once
/// Semi-Implicit Back Propagation (ALGORITHMS.md §3).
///
/// R. Liu, X. Zhang, Semi-Implicit Back Propagation, arXiv 2002.03516 (2020).
#include <memory>
#include <string>
#include <vector>

#include "train/algorithm.hpp"
#include "train/prox_factory.hpp"
#include "train/prox_solver.hpp"

namespace sibp {

/// Options of one SIBP run.
struct SibpOptions {
  double eta = 0.1;                   ///< neuron step η > 0
  std::vector<double> lambda{1.0};    ///< λ_l > 0: one value for every layer, or one per layer (1..L)
  SolverSpec solver;                  ///< solver of the output layer and of the hidden layers
  /// Iterations of iterative solvers (at most, with solver_tol); 0: each
  /// solver's default (default_solver_iters: 5 for reference, 3 for gn-cg on
  /// dense layers and 5 on convolutions).
  int solver_iters = 0;
  /// gn-cg: tolerance θ ∈ [0, 1) of the inexact solve (ALGORITHMS.md §3.5), tested as
  /// solver_stop says; 0: always solver_iters steps.
  double solver_tol = 0.0;
  /// gn-cg: RelativeDecrease stops a layer's CG after the step whose decrease of the
  /// Gauss–Newton model is ≤ θ × the first step's; RelativeTotal once its residual is
  /// ≤ θ × the first one.
  CgStop solver_stop = CgStop::RelativeDecrease;
  /// Iterations of iterative solvers on convolution layers; 0: solver_iters. A
  /// convolution's prox sums over batch × output pixels (ALGORITHMS.md §5), so
  /// it is better conditioned per unknown and each iteration costs two
  /// convolutions: it may want fewer than a dense layer (README, SIBP on CNNs).
  int conv_solver_iters = 0;
  UpdateMode mode = UpdateMode::Sequential;
  ReferenceQuirks quirks;             ///< reference solver only (§3.3 a)
  /// gn-cg: the space of its CG on each layer; Auto (the default) by the cost
  /// model of prox_fast.hpp (gn_cg_cost), Sample / Parameter force one.
  CgSpace cg_space = CgSpace::Auto;
  /// The units of λ (ALGORITHMS.md §3.4). The data term φ sums over the m
  /// samples of a batch, so a fixed λ weighs less against the data as m grows.
  /// false (the authors' convention): λ_l is used as given. true: λ_l is per
  /// sample, and the step uses m·λ_l, so the step of a layer whose λ dominates
  /// is the same at every batch size (the small-step limit is SGD on the *mean*
  /// loss with learning rate η/λ_l).
  bool lambda_per_sample = false;

  /// Throws OptionError naming eta, lambda, solver_iters or conv_solver_iters for
  /// a value out of range, and naming solver when quirks are asked of a solver
  /// other than the reference one.
  void validate() const;
  /// λ of parametrised layer `l` (0-based) in a network of `L` of them.
  /// Throws OptionError if `lambda` has neither 1 nor L values.
  double lambda_for(std::size_t l, std::size_t L) const;
  /// The λ a step on a batch of `m` samples uses for layer `l`: lambda_for(l, L),
  /// times m when lambda_per_sample.
  double step_lambda(std::size_t l, std::size_t L, Index m) const;
  /// Iterations of `solver` on a layer of kind `kind`: conv_solver_iters on a
  /// convolution when set, else solver_iters when set, else the solver's default.
  int iterations(LayerKind kind, SolverKind solver) const;
  /// The per-solver options these imply for a layer of kind `kind` solved by `solver`.
  SolverOptions solver_options(LayerKind kind = LayerKind::Dense, SolverKind solver = SolverKind::GnCg) const;
};

/// Parses "1" or "1,0.5,0.1" (one λ per parametrised layer). Throws OptionError("lambda").
std::vector<double> parse_lambda_list(const std::string& text);

/// One SIBP step per batch (§3, §5): forward, D_L = ∇ℓ per sample (not /m),
/// then down the list of layers: at a dense or conv layer l, the target
/// T_l = F_l − η D_l, a proximal update of (W_l, b_l) towards T_l with the layer's
/// unfolded input P_l in place of F_{l-1}, and D below = the layer's adjoint of
/// σ_l'(G_l^k) ⊙ D_l through the *updated* W_l (for a dense layer
/// (W_l^{k+1})ᵀ(σ' ⊙ D_l)); a pooling or flatten layer passes D through its adjoint.
template <typename T>
class Sibp : public TrainingAlgorithm<T> {
 public:
  /// Builds one proximal solver per parametrised layer of `spec`.
  /// Throws UsageError if options.validate() fails, λ has neither 1 nor one value
  /// per parametrised layer, or a solver cannot solve its layer (`exact` on a
  /// nonlinear layer).
  /// `comm`: the ranks that hold the other shards of every batch (ALGORITHMS.md §6);
  /// each layer's prox is then solved on the whole batch (README, "Across processes",
  /// says which solver communicates what).
  Sibp(const SibpOptions& options, const NetworkSpec& spec, Communicator& comm = single_process());

  /// Ensures: report.loss is the batch mean loss before the step;
  /// report.finite is false if it or any new parameter is NaN/Inf (then the
  /// parameters may be partly updated).
  StepReport step(Network<T>& net, const Batch<T>& batch) override;
  std::string name() const override { return "sibp"; }
  void set_diagnostics(bool on) override { diagnostics_ = on; }
  /// Scales the neuron step η (the targets T = F − η D); λ stays as given, so
  /// the step's small-step learning rate η/λ (ALGORITHMS.md §3.1) scales with it.
  void set_step_factor(double factor) override { step_factor_ = factor; }

  /// The targets of the last step: last_targets()[i] = T of parametrised layer i,
  /// (d_out, n). Every target but the last uses the updated weights above it.
  const std::vector<Mat<T>>& last_targets() const { return T_; }
  /// The solver of parametrised layer `i`.
  ProxSolver<T>& solver(std::size_t i) { return *solvers_.at(i); }
  const SibpOptions& options() const { return options_; }

 private:
  SibpOptions options_;
  NetworkSpec spec_;
  bool diagnostics_ = false;
  double step_factor_ = 1;
  std::vector<std::unique_ptr<ProxSolver<T>>> solvers_;  // one per parametrised layer
  Tape<T> tape_;
  std::vector<Mat<T>> T_;  // T_[i]: (d_out, n) target of parametrised layer i
  Mat<T> D_;               // D at the output of the layer being visited; σ' ⊙ D once used
  Mat<T> D_below_;         // D at its input
  Mat<T> work_;            // conv: patch-space scratch of the adjoint
  Communicator* comm_;
};

/// The AlgorithmOptions interface of SibpOptions (train/algorithms.hpp; defined with
/// the unit's registration, src/train/sibp_unit.cpp).
std::string algorithm_name(const SibpOptions& options);
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const SibpOptions& options, const NetworkSpec& spec,
                                                      Communicator& comm);

}  // namespace sibp
