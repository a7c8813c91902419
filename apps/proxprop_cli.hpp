#pragma once
/// `sibp train --algo proxprop` options (ALGORITHMS.md §4).
///
/// The train command already owns --lr, --momentum, --nesterov and
/// --weight-decay (parsed into an UpdateOptions); ProxProp adds only what is
/// its own and takes that UpdateOptions as its outer optimizer:
///
///     sibp train --algo proxprop --tau 0.05 --prox-solver exact|cg|gradient
///                --prox-iters 3 --outer sgd|adam --lr 1 --momentum 0.95 --nesterov
#include <string>

#include <CLI/CLI.hpp>

#include "train/proxprop.hpp"

namespace sibp::cli {

/// Adds --tau and --prox-iters (bound to `options`) and --prox-solver and
/// --outer (bound to the raw strings, parsed by finalize_proxprop_options).
/// Defaults shown in --help are the current values of the bound variables.
void add_proxprop_options(CLI::App& cmd, ProxPropOptions& options, std::string& prox_solver,
                          std::string& outer);

/// Parses the raw strings into `options` and installs `update` (the train
/// command's --lr/--momentum/--nesterov/--weight-decay) as the outer optimizer,
/// with its kind set by --outer. Throws UsageError (exit 2) naming the option
/// for an unknown solver or outer optimizer, τ ≤ 0, prox iters < 1, momentum
/// with Adam, or invalid update options.
void finalize_proxprop_options(ProxPropOptions& options, const std::string& prox_solver,
                               const std::string& outer, const UpdateOptions& update);

}  // namespace sibp::cli
