#pragma once
/// Builds the training algorithm a RunConfig names.
#include <memory>

#include "experiment/run_config.hpp"
#include "train/algorithm.hpp"
#include "train/update_rule.hpp"

namespace sibp {

/// The SGD/Adam options of a config (used directly by sgd/momentum/
/// nesterov/adam, and as ProxProp's outer optimizer).
UpdateOptions update_options(const RunConfig& config);

/// The algorithm of `config` for networks of `spec`.
/// Throws UsageError naming the option for invalid or inconsistent values.
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> make_algorithm(const RunConfig& config, const NetworkSpec& spec);

}  // namespace sibp
