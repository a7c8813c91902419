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
  int solver_iters = 5;               ///< iterations of iterative solvers
  UpdateMode mode = UpdateMode::Sequential;
  ReferenceQuirks quirks;             ///< reference solver only (§3.3 a)

  /// Throws UsageError naming the option (--eta, --lambda, --solver-iters)
  /// for a non-positive or non-finite value.
  void validate() const;
  /// λ of layer `l` (0-based) in a network of `L` layers.
  /// Throws UsageError if `lambda` has neither 1 nor L values.
  double lambda_for(std::size_t l, std::size_t L) const;
  /// The per-solver options these imply.
  SolverOptions solver_options() const;
};

/// Parses "1" or "1,0.5,0.1" (one λ per layer). Throws UsageError naming `option`.
std::vector<double> parse_lambda_list(const std::string& text, const std::string& option = "--lambda");

/// Builds SibpOptions from the plain strings of a run configuration
/// (the `sibp train` options): `compat` is "" or "authors" (every quirk),
/// `quirks` names single quirks (ReferenceQuirks::enable). Validates.
/// Throws UsageError naming the offending option.
SibpOptions make_sibp_options(double eta, const std::string& lambda, const std::string& solver, int solver_iters,
                              const std::string& update, const std::vector<std::string>& quirks,
                              const std::string& compat);

/// Throws UsageError if the options cannot train `spec` (λ count, `exact`
/// on a nonlinear layer).
void check_sibp_fits_network(const SibpOptions& options, const NetworkSpec& spec);

/// One SIBP step per batch (§3): forward, D_L = ∇ℓ per sample (not /m),
/// T_L = F_L − η D_L, then for l = L..1 a proximal update of (W_l, b_l)
/// towards T_l followed by D_{l-1} = (W_l^{k+1})ᵀ(σ_l'(G_l^k) ⊙ D_l),
/// T_{l-1} = F_{l-1} − η D_{l-1}.
/// Solvers are made per layer by make_prox_solver() on the first step.
template <typename T>
class Sibp : public TrainingAlgorithm<T> {
 public:
  /// Throws UsageError if options.validate() fails.
  explicit Sibp(const SibpOptions& options);

  /// Ensures: report.loss is the batch mean loss before the step;
  /// report.finite is false if it or any new parameter is NaN/Inf (then the
  /// parameters may be partly updated).
  StepReport step(Network<T>& net, const Batch<T>& batch) override;
  std::string name() const override { return "sibp"; }

  /// The targets of the last step: last_targets()[l] = T_l, (d_l, m), for
  /// l = 1..L ([0] is empty). T_l for l < L uses the updated W_{l+1}.
  const std::vector<Mat<T>>& last_targets() const { return T_; }
  /// The solver of layer `l` (0-based), or null before the first step.
  ProxSolver<T>* solver(std::size_t l) { return l < solvers_.size() ? solvers_[l].get() : nullptr; }
  const SibpOptions& options() const { return options_; }

 private:
  void build_solvers(const Network<T>& net);

  SibpOptions options_;
  std::vector<std::unique_ptr<ProxSolver<T>>> solvers_;  // one per layer
  Tape<T> tape_;
  std::vector<Mat<T>> T_;  // T_[l]: (d_l, m), l = 1..L
  std::vector<Mat<T>> D_;  // D_[l]: (d_l, m), l = 1..L; overwritten by σ_l' ⊙ D_l once used
};

}  // namespace sibp
