#pragma once
/// The AdamW unit: Adam with decoupled weight decay (Loshchilov & Hutter 2019),
/// as torch.optim.AdamW; --algo adamw.
#include <memory>
#include <string>

#include "train/adam.hpp"

namespace sibp {

/// Options of torch.optim.AdamW: Adam's, with its defaults, but the weight
/// decay is decoupled, p ← (1 − lr·wd) p before the Adam step, and 1e-2 by default.
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

/// The rule (train/update_policy.hpp), named "adamw"; back propagation with it as an algorithm.
SIBP_DECLARE_UPDATE_RULE(AdamWOptions);

}  // namespace sibp
