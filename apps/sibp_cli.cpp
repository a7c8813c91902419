#include "sibp_cli.hpp"

namespace sibp::cli {

void add_sibp_options(CLI::App& cmd, SibpOptions& options, SibpCliStrings& raw) {
  const char* group = "SIBP";
  cmd.add_option("--eta", options.eta, "Neuron step eta (ALGORITHMS.md §3)")->capture_default_str()->group(group);
  cmd.add_option("--lambda", raw.lambda, "Proximal weight lambda: one value, or one per layer (1,1,0.5)")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--solver", raw.solver,
                 "Prox solver: reference, exact, gn-cg, gn-exact, or OUTPUT:HIDDEN (e.g. exact:gn-cg)")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--solver-iters", options.solver_iters, "Iterations of iterative prox solvers")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--update", raw.update, "sequential (W then b, the authors') or joint ([W b])")
      ->capture_default_str()
      ->group(group);
  auto* quirk = cmd.add_option("--quirk", raw.quirks,
                               "Reproduce one quirk of the authors' solver: first-gradient-omits-bias, "
                               "armijo-jump, skip-unit-step, no-descent-restart (repeatable)")
                    ->group(group);
  auto* compat = cmd.add_option("--compat", raw.compat, "'authors': every quirk of the published code")
                     ->check(CLI::IsMember({"authors"}))
                     ->group(group);
  quirk->excludes(compat);
}

void finalize_sibp_options(const SibpCliStrings& raw, SibpOptions& options) {
  const SibpOptions parsed = make_sibp_options(options.eta, raw.lambda, raw.solver, options.solver_iters, raw.update,
                                               raw.quirks, raw.compat);
  options = parsed;
}

}  // namespace sibp::cli
