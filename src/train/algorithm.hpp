#pragma once
/// The one interface every training algorithm implements.
#include <memory>
#include <string>
#include <vector>

#include "data/batch.hpp"
#include "nn/network.hpp"

namespace sibp {

/// Per-layer details of one step, filled when diagnostics are on (SIBP's
/// subproblem objective and solver work; empty for plain gradient methods).
struct LayerDiagnostics {
  std::size_t layer = 0;       ///< 0-based layer index
  double objective_before = 0;  ///< subproblem objective at the old parameters
  double objective_after = 0;   ///< ... at the new parameters
  int solver_iterations = 0;
  std::vector<int> line_search_exponents;  ///< accepted Armijo exponents m
};

/// What one step did.
struct StepReport {
  /// Mean loss of the batch at the parameters *before* the step.
  double loss = 0;
  /// False if the loss or any new parameter is NaN/Inf: fit() then stops.
  bool finite = true;
  std::vector<LayerDiagnostics> layers;
};

/// A training algorithm: given a network and a batch, move the parameters.
/// Implementations: BackProp (SGD/momentum/Adam), Sibp, ProxProp.
template <typename T>
class TrainingAlgorithm {
 public:
  virtual ~TrainingAlgorithm() = default;
  /// Performs one update of `net` on `batch`.
  virtual StepReport step(Network<T>& net, const Batch<T>& batch) = 0;
  /// Short human-readable name, e.g. "sgd" or "sibp".
  virtual std::string name() const = 0;
  /// Turns per-layer diagnostics on or off (they cost extra objective evaluations).
  virtual void set_diagnostics(bool on) { diagnostics_ = on; }

 protected:
  bool diagnostics_ = false;
};

}  // namespace sibp
