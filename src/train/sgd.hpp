#pragma once
/// The SGD unit: torch.optim.SGD with plain or Nesterov momentum and coupled
/// weight decay; --algo sgd, momentum (0.9 by default) and nesterov.
#include <memory>
#include <string>

#include "train/update_policy.hpp"

namespace sibp {

/// Options of torch.optim.SGD (no dampening).
struct SgdOptions {
  double lr = 0.1;
  double momentum = 0.0;
  bool nesterov = false;      ///< requires momentum > 0
  double weight_decay = 0.0;  ///< L2 term added to the gradient (PyTorch's coupled decay)
  static constexpr int buffers = 1;  ///< the momentum buffer, set to the first direction at the first step

  /// Throws OptionError naming the field for lr ≤ 0, momentum ∉ [0,1),
  /// nesterov without momentum, weight decay < 0.
  void validate() const;
};

/// The rule (train/update_policy.hpp): named "sgd", or "momentum" / "nesterov"
/// with momentum > 0; back propagation with it as an algorithm.
SIBP_DECLARE_UPDATE_RULE(SgdOptions);

}  // namespace sibp
