#pragma once
/// The options of every training algorithm as one variant, and the one place
/// that turns them into an algorithm.
#include <memory>
#include <string>
#include <variant>

#include "nn/architecture.hpp"
#include "train/algorithm.hpp"
#include "train/proxprop.hpp"
#include "train/sibp.hpp"
#include "train/update_rule.hpp"

namespace sibp {

/// Back propagation with an update rule (SGD, momentum, Nesterov, Adam), SIBP, or ProxProp.
using AlgorithmOptions = std::variant<UpdateOptions, SibpOptions, ProxPropOptions>;

/// "sgd", "momentum", "nesterov", "adam", "sibp" or "proxprop".
std::string algorithm_name(const AlgorithmOptions& options);

/// The algorithm for networks of `spec`. Throws UsageError / OptionError when the
/// options are invalid or do not fit the network (λ count, `exact` on a nonlinear layer).
/// `comm`: the ranks of a data-parallel run (ALGORITHMS.md §6), each stepping on its shard.
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> make_algorithm(const AlgorithmOptions& options, const NetworkSpec& spec,
                                                     Communicator& comm = single_process());

}  // namespace sibp
