#pragma once
/// Options shared by every proximal solver of SIBP (ALGORITHMS.md §3.3) and
/// the one place that turns a solver name into a ProxSolver.
///
/// Registration point for new solvers: add an enumerator to SolverKind, its
/// name to parse_solver_kind()/to_string(), and a branch in
/// make_prox_solver() (prox_factory.cpp).
#include <memory>
#include <string>
#include <string_view>

#include "linalg/sample_space_cg.hpp"
#include "nn/architecture.hpp"
#include "train/prox_solver.hpp"

namespace sibp {

/// How the (W, b) pair of a layer is updated (ALGORITHMS.md §3, step 3.1).
enum class UpdateMode {
  Sequential,  ///< block Gauss–Seidel: W with b^k held, then b with W^{k+1} held (the authors')
  Joint,       ///< one solve on the stacked variable [W b] with input [F; 1ᵀ]
};

/// Parses "sequential" or "joint". Throws UsageError naming `option` otherwise.
UpdateMode parse_update_mode(std::string_view text, std::string_view option = "--update");
std::string to_string(UpdateMode mode);

/// Behaviours of the authors' MATLAB solver (FR3.m/FR4.m) that differ from
/// the clean Fletcher–Reeves/Armijo method of ALGORITHMS.md §3.3 a. Every
/// flag off is the clean reference; authors() reproduces the published code.
struct ReferenceQuirks {
  /// Output (linear) layer: the first gradient of every solve leaves out the
  /// fixed offset B (b1ᵀ when solving for W, W F when solving for b).
  bool first_gradient_omits_bias = false;
  /// Hidden layers: after testing the unit step, the exponent jumps to
  /// m0 = max(⌊log(0.01 φ / |0.1⟨g,d⟩|) / log ρ⌋, 0); m0 is accepted if the
  /// unit step passed, otherwise the search goes on from m0 + 1.
  bool armijo_jump = false;
  /// A step is applied only when the accepted exponent m is > 0.
  bool skip_unit_step = false;
  /// No restart with d = −g when the Fletcher–Reeves direction is not a
  /// descent direction (the published code never restarts). The clean
  /// solver restarts, which keeps φ from increasing.
  bool no_descent_restart = false;

  /// Every quirk of the published code.
  static ReferenceQuirks authors() { return {true, true, true, true}; }
  bool any() const { return first_gradient_omits_bias || armijo_jump || skip_unit_step || no_descent_restart; }
  /// Sets the flag called `name` ("first-gradient-omits-bias", "armijo-jump",
  /// "skip-unit-step", "no-descent-restart"; '_' is accepted for '-').
  /// Throws UsageError naming `option` and listing the names otherwise.
  void enable(std::string_view name, std::string_view option = "--quirk");
  /// The enabled flags' names joined by ',' ("" if none).
  std::string to_string() const;
};

/// Which algorithm approximates a layer's proximal subproblem.
enum class SolverKind {
  Reference,  ///< the authors' Fletcher–Reeves CG with Armijo search (§3.3 a): prox_reference.hpp
  Exact,      ///< ridge / Woodbury solve, linear layers only (§3.3 b)
  GnCg,       ///< Gauss–Newton with block CG (§3.3 c)
  GnExact,    ///< Gauss–Newton with an exact per-row Woodbury solve (§3.3 c)
};

/// Parses "reference", "exact", "gn-cg", "gn-exact". Throws UsageError otherwise.
SolverKind parse_solver_kind(std::string_view text, std::string_view option = "--solver");
std::string to_string(SolverKind kind);

/// Iterations of `kind` on a layer of kind `layer` when the run does not say
/// (SibpOptions::solver_iters 0): the authors' 5 for their reference solver
/// (its golden behaviour); for Gauss–Newton CG 3 on dense layers, which reached
/// every MLP time-to-accuracy target of docs/sibp-per-second.md as fast as 5 or
/// faster, and 5 on convolutions, where 1, 2 and 5 steps took as long to 98.5%
/// and 3 steps ended a 3-epoch run more than 0.1 point below 5.
/// The exact solvers take no iterations.
inline int default_solver_iters(SolverKind kind, LayerKind layer = LayerKind::Dense) {
  if (kind == SolverKind::Reference || layer == LayerKind::Conv2d) return 5;
  return 3;
}

/// Solver choice by layer type: `output` for layer L (linear), `hidden` for
/// layers 1..L-1.
struct SolverSpec {
  // The default: exact for the linear output layer, Gauss–Newton CG for the hidden
  // ones (fastest and as accurate as the exact Gauss–Newton step, README).
  SolverKind output = SolverKind::Exact;
  SolverKind hidden = SolverKind::GnCg;
  SolverKind for_layer(bool is_output_layer) const { return is_output_layer ? output : hidden; }
  /// "reference", or "exact:gn-cg" when the two differ.
  std::string to_string() const;
};

/// Parses "KIND" (every layer) or "OUTPUT:HIDDEN", e.g. "exact:gn-cg".
/// Throws UsageError naming `option` for unknown kinds or malformed text.
SolverSpec parse_solver_spec(std::string_view text, std::string_view option = "--solver");

/// Throws OptionError("solver") if `kind` cannot solve `layer`: `exact` needs a
/// linear (identity) layer; `gn-exact` works on batch×batch matrices, so a dense
/// layer only. `index` is the 1-based number among the parametrised layers.
void check_solver_fits_layer(SolverKind kind, const LayerSpec& layer, std::size_t index);

/// Everything a solver is built from.
struct SolverOptions {
  int iters = 5;                        ///< iterations of iterative solvers (reference: FR-CG iterations)
  /// gn-cg only: the tolerance θ ∈ [0, 1) of an inexact solve, tested as `stop` says,
  /// at most `iters` steps (ALGORITHMS.md §3.5); 0: always `iters` steps.
  double tol = 0.0;
  /// gn-cg only: what `tol` is compared with (GaussNewtonOptions::cg_stop).
  CgStop stop = CgStop::RelativeDecrease;
  UpdateMode mode = UpdateMode::Sequential;
  ReferenceQuirks quirks;               ///< reference solver only
  CgSpace cg_space = CgSpace::Auto;     ///< gn-cg only: where its CG runs (GaussNewtonOptions::space)
  /// Throws OptionError naming the option if iters is outside 1..10000 or tol outside [0, 1).
  void validate() const;
};

/// Parses --solver-stop: "decrease" (CgStop::RelativeDecrease) or "residual"
/// (CgStop::RelativeTotal). Throws OptionError("solver_stop") otherwise.
CgStop parse_solver_stop(std::string_view text);
/// "decrease" or "residual" (the other CgStop values are not solver options).
std::string solver_stop_name(CgStop stop);

/// A new solver of `kind`. Solvers keep workspace between calls, so use one
/// instance per layer.
/// Throws UsageError for kinds that are not available in this build.
/// The authors' solver (ReferenceProxSolver), defined in prox_reference.cpp so
/// that this factory needs no include of prox_reference.hpp (which includes
/// this header for SolverOptions): no include cycle.
template <typename T>
std::unique_ptr<ProxSolver<T>> make_reference_prox_solver(const SolverOptions& options);

template <typename T>
std::unique_ptr<ProxSolver<T>> make_prox_solver(SolverKind kind, const SolverOptions& options);

}  // namespace sibp
