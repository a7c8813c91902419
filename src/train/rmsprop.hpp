#pragma once
/// The RMSprop unit: torch.optim.RMSprop (optionally centred, with momentum,
/// coupled weight decay); --algo rmsprop.
#include <memory>
#include <string>

#include "core/communicator.hpp"
#include "nn/architecture.hpp"
#include "train/update_rule.hpp"

namespace sibp {

/// Options of RMSprop; defaults are torch.optim.RMSprop's.
struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;        ///< decay of the squared-gradient average
  double eps = 1e-8;
  double weight_decay = 0.0;  ///< added to the gradient
  double momentum = 0.0;
  bool centered = false;      ///< divide by the estimated variance instead of the second moment

  /// Throws OptionError naming the field: lr, eps ≤ 0, alpha, momentum ∉ [0,1), weight decay < 0.
  void validate() const;
};

/// torch.optim.RMSprop. Buffers: 1 the squared-gradient average, 2 the momentum
/// buffer (momentum > 0), 3 the gradient average (centered).
template <typename T>
class RMSprop final : public UpdatePolicy<T> {
 public:
  using typename UpdatePolicy<T>::Param;
  using typename UpdatePolicy<T>::Grad;
  using typename UpdatePolicy<T>::Buffers;
  /// Throws OptionError if options.validate() fails.
  explicit RMSprop(const RMSpropOptions& options);
  std::string name() const override { return "rmsprop"; }

 protected:
  void update(Param p, Grad g, Buffers& buf) override;

 private:
  RMSpropOptions o_;
};

/// The AlgorithmOptions interface (train/algorithms.hpp): BackProp with RMSprop.
std::string algorithm_name(const RMSpropOptions& options);
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const RMSpropOptions& options, const NetworkSpec& spec,
                                                      Communicator& comm);

}  // namespace sibp
