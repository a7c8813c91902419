#pragma once
/// The RMSprop unit: torch.optim.RMSprop (optionally centred, with momentum,
/// coupled weight decay); --algo rmsprop.
#include <memory>
#include <string>

#include "train/update_policy.hpp"

namespace sibp {

/// Options of RMSprop; defaults are torch.optim.RMSprop's.
struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;        ///< decay of the squared-gradient average
  double eps = 1e-8;
  double weight_decay = 0.0;  ///< added to the gradient
  double momentum = 0.0;
  bool centered = false;      ///< divide by the estimated variance instead of the second moment
  /// 1 the squared-gradient average, 2 the momentum buffer (momentum > 0), 3 the gradient average (centered)
  static constexpr int buffers = 3;

  /// Throws OptionError naming the field: lr, eps ≤ 0, alpha, momentum ∉ [0,1), weight decay < 0.
  void validate() const;
};

/// The rule (train/update_policy.hpp), named "rmsprop"; back propagation with it as an algorithm.
SIBP_DECLARE_UPDATE_RULE(RMSpropOptions);

}  // namespace sibp
