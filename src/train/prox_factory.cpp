#include "train/prox_factory.hpp"

#include "core/enum_names.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "train/prox_fast.hpp"

namespace sibp {

UpdateMode parse_update_mode(std::string_view text, std::string_view option) {
  if (text == "sequential") return UpdateMode::Sequential;
  if (text == "joint") return UpdateMode::Joint;
  throw UsageError(std::string(option) + ": expected 'sequential' or 'joint', got '" + std::string(text) + "'");
}

std::string to_string(UpdateMode mode) { return mode == UpdateMode::Joint ? "joint" : "sequential"; }

void ReferenceQuirks::enable(std::string_view name, std::string_view option) {
  std::string n(name);
  for (char& c : n)
    if (c == '_') c = '-';
  if (n == "first-gradient-omits-bias") first_gradient_omits_bias = true;
  else if (n == "armijo-jump") armijo_jump = true;
  else if (n == "skip-unit-step") skip_unit_step = true;
  else if (n == "no-descent-restart") no_descent_restart = true;
  else
    throw UsageError(std::string(option) + ": unknown quirk '" + std::string(name) +
                     "': expected first-gradient-omits-bias, armijo-jump, skip-unit-step or no-descent-restart");
}

std::string ReferenceQuirks::to_string() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ',';
    s += name;
  };
  add(first_gradient_omits_bias, "first-gradient-omits-bias");
  add(armijo_jump, "armijo-jump");
  add(skip_unit_step, "skip-unit-step");
  add(no_descent_restart, "no-descent-restart");
  return s;
}

namespace {
constexpr EnumNames<SolverKind, 4> kSolverKinds{{{SolverKind::Reference, "reference"},
                                                 {SolverKind::Exact, "exact"},
                                                 {SolverKind::GnCg, "gn-cg"},
                                                 {SolverKind::GnExact, "gn-exact"}}};
}  // namespace

SolverKind parse_solver_kind(std::string_view text, std::string_view option) {
  if (const auto kind = find_enum(kSolverKinds, text)) return *kind;
  throw UsageError(std::string(option) + ": unknown solver '" + std::string(text) +
                   "': expected reference, exact, gn-cg or gn-exact");
}

std::string to_string(SolverKind kind) { return enum_name(kSolverKinds, kind); }

std::string SolverSpec::to_string() const {
  if (output == hidden) return sibp::to_string(output);
  return sibp::to_string(output) + ":" + sibp::to_string(hidden);
}

SolverSpec parse_solver_spec(std::string_view text, std::string_view option) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    const SolverKind k = parse_solver_kind(text, option);
    return {k, k};
  }
  if (text.find(':', colon + 1) != std::string_view::npos)
    throw UsageError(std::string(option) + ": expected KIND or OUTPUT:HIDDEN (e.g. exact:gn-cg), got '" +
                     std::string(text) + "'");
  return {parse_solver_kind(text.substr(0, colon), option), parse_solver_kind(text.substr(colon + 1), option)};
}

void check_solver_fits_layer(SolverKind kind, const LayerSpec& layer, std::size_t index) {
  if (kind == SolverKind::Exact && layer.act != Activation::Identity)
    throw OptionError("solver", "'exact' solves the linear (ridge) subproblem only, but layer " +
                                    std::to_string(index) + " (" + layer.to_string() + ") has activation " +
                                    to_string(layer.act) + "; use OUTPUT:HIDDEN, e.g. exact:gn-cg or exact:reference");
  if (kind == SolverKind::GnExact && layer.kind != LayerKind::Dense)
    throw OptionError("solver", "'gn-exact' factors a matrix per output unit over the batch's columns, which for "
                                "layer " + std::to_string(index) + " (" + layer.to_string() +
                                ") are batch x output pixels; use gn-cg or reference there");
}

void SolverOptions::validate() const {
  if (iters < 1 || iters > 10000)
    throw OptionError("solver_iters", "expected an integer from 1 to 10000, got " + std::to_string(iters));
  // θ ≥ 1 would stop before the first step: no progress, and no longer the fixed
  // points of the exact method (ALGORITHMS.md §3.5 needs at least one step).
  if (!(tol >= 0 && tol < 1))
    throw OptionError("solver_tol", "expected a number in [0, 1) (0: always --solver-iters steps), got " +
                                        format_number(tol));
}

CgStop parse_solver_stop(std::string_view text) {
  if (text == "decrease") return CgStop::RelativeDecrease;
  if (text == "residual") return CgStop::RelativeTotal;
  throw OptionError("solver_stop", "expected decrease or residual, got '" + std::string(text) + "'");
}

std::string solver_stop_name(CgStop stop) {
  return stop == CgStop::RelativeTotal ? "residual" : "decrease";
}

template <typename T>
std::unique_ptr<ProxSolver<T>> make_prox_solver(SolverKind kind, const SolverOptions& options) {
  options.validate();
  switch (kind) {
    case SolverKind::Reference: return make_reference_prox_solver<T>(options);
    // Fast solvers (src/train/prox_fast.hpp) are registered here.
    case SolverKind::Exact: {
      ExactLinearOptions exact;
      exact.joint = options.mode == UpdateMode::Joint;
      return std::make_unique<ExactLinearSolver<T>>(exact);
    }
    case SolverKind::GnCg: {
      GaussNewtonOptions gn;
      gn.cg_iterations = options.iters;
      gn.cg_tolerance = options.tol;
      gn.cg_stop = options.stop;
      gn.space = options.cg_space;
      return std::make_unique<GaussNewtonCgSolver<T>>(gn);
    }
    case SolverKind::GnExact:
      return std::make_unique<GaussNewtonExactSolver<T>>(GaussNewtonOptions{});
  }
  throw UsageError("--solver: unknown solver kind");
}

template std::unique_ptr<ProxSolver<float>> make_prox_solver<float>(SolverKind, const SolverOptions&);
template std::unique_ptr<ProxSolver<double>> make_prox_solver<double>(SolverKind, const SolverOptions&);

}  // namespace sibp
