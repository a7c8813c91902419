#pragma once
/// The one interface every training algorithm implements.
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/batch.hpp"
#include "nn/network.hpp"

namespace sibp {

/// Per-layer details of one step, filled when diagnostics are on (SIBP's
/// subproblem objective and solver work; empty for plain gradient methods).
struct LayerDiagnostics {
  std::size_t layer = 0;       ///< 0-based index among the parametrised layers
  double objective_before = 0;  ///< subproblem objective at the old parameters
  double objective_after = 0;   ///< ... at the new parameters
  int solver_iterations = 0;
  std::vector<int> line_search_exponents;  ///< accepted Armijo exponents m
  /// SIBP: ‖T_l − F_l‖ / ‖F_l‖, how far the step asked the layer's output to move
  /// (NaN for algorithms without targets).
  double target_move = std::numeric_limits<double>::quiet_NaN();
};

/// What one step did.
struct StepReport {
  /// Mean loss of the batch at the parameters *before* the step.
  double loss = 0;
  /// False if the loss or any new parameter is NaN/Inf: fit() then stops.
  bool finite = true;
  std::vector<LayerDiagnostics> layers;
};

/// What an algorithm carries from one step to the next, for checkpoints: its
/// step counter and named tensors (momentum buffers, Adam moments).
template <typename T>
struct AlgorithmState {
  long long step = 0;
  std::map<std::string, Mat<T>> tensors;
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
  /// Turns per-layer diagnostics on or off (they cost extra objective
  /// evaluations); algorithms without any ignore it.
  virtual void set_diagnostics(bool on) {}
  /// Multiplies the algorithm's step by `factor` (> 0) from the next step() on,
  /// until set again: the learning rate of a gradient rule, ProxProp's outer
  /// learning rate, SIBP's neuron step η. fit() sets it before every step from
  /// the run's schedule (train/schedule.hpp); 1, the initial value, leaves every
  /// step as the options say, bit for bit.
  virtual void set_step_factor(double factor) = 0;
  /// The state that carries over between steps (nothing for a stateless
  /// algorithm such as SIBP): restore(state()) on a fresh instance for the same
  /// network continues identically.
  virtual AlgorithmState<T> state() const { return {}; }
  /// Throws DataError naming the tensor if `s` is not a state of this algorithm
  /// for `net`.
  virtual void restore(const AlgorithmState<T>& s, const Network<T>& net) {
    if (!s.tensors.empty())
      throw DataError(name() + " keeps no state between steps, but the checkpoint has '" + s.tensors.begin()->first +
                      "'");
  }
};

}  // namespace sibp
