#include "proxprop_cli.hpp"

namespace sibp::cli {

void add_proxprop_options(CLI::App& cmd, ProxPropOptions& options, std::string& prox_solver,
                          std::string& outer) {
  cmd.add_option("--tau", options.tau, "ProxProp: proximal step tau > 0 (paper: 0.05 with lr 1)")
      ->capture_default_str();
  cmd.add_option("--prox-solver", prox_solver,
                 "ProxProp: exact | cg (N steps warm-started at the current parameters) | "
                 "gradient (a plain gradient step: back propagation, for testing)")
      ->capture_default_str();
  cmd.add_option("--prox-iters", options.prox_iters, "ProxProp: CG steps N of --prox-solver cg")
      ->capture_default_str();
  cmd.add_option("--outer", outer,
                 "ProxProp: optimizer applying the prox directions, sgd | adam "
                 "(uses --lr, --momentum, --nesterov, --weight-decay)")
      ->capture_default_str();
}

void finalize_proxprop_options(ProxPropOptions& options, const std::string& prox_solver,
                               const std::string& outer, const UpdateOptions& update) {
  options = make_proxprop_options(options.tau, prox_solver, options.prox_iters, outer, update);
}

}  // namespace sibp::cli
