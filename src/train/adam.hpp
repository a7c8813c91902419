#pragma once
/// The Adam unit: torch.optim.Adam with coupled weight decay; --algo adam.
#include <cmath>
#include <memory>
#include <string>

#include "train/registry.hpp"
#include "train/update_policy.hpp"

namespace sibp {

/// Options of torch.optim.Adam; also AdamW's (train/adamw.hpp).
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  ///< Adam: L2 term added to the gradient (coupled decay)
  static constexpr int buffers = 2;  ///< the first and second moments

  /// Throws OptionError naming the field: lr, eps ≤ 0, betas ∉ [0,1), weight decay < 0.
  void validate() const;
};

/// The validated options from a run's settings (lr, weight_decay, beta1, beta2,
/// eps); throws OptionError naming the key.
AdamOptions adam_options_from(const AlgorithmSettings& settings);
/// Throws OptionError naming momentum or nesterov if `settings` set either: SGD's
/// options, given to Adam (--algo adam, ProxProp's --outer adam), are a mistake
/// rather than a no-op.
void refuse_sgd_options(const AlgorithmSettings& settings);

/// The registry entry (train/registry.hpp) of Adam and of the rules that share
/// its options (AdamW): --algo `name`, reading lr, weight_decay, beta1, beta2 and
/// eps, lr and weight_decay defaulting to those of `defaults`; `build` makes the
/// validated options from a run's settings.
AlgorithmInfo adam_family_algorithm(AlgorithmName name, const AdamOptions& defaults,
                                    AlgorithmOptions (*build)(const AlgorithmSettings&));

/// One Adam step of `p` with direction `g` at step `t` (1-based), torch.optim.Adam's
/// arithmetic: moments m, v (zero-sized before the first step) then p ← p −
/// lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε). Shared by Adam and AdamW.
template <typename P, typename G, typename T>
void adam_step(P&& p, const G& g, Mat<T>& m, Mat<T>& v, double lr, double beta1, double beta2, double eps,
               long long t) {
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  if (m.size() != p.size()) {
    m = Mat<T>::Zero(p.rows(), p.cols());
    v = Mat<T>::Zero(p.rows(), p.cols());
  }
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(t));
  const T step_size = static_cast<T>(lr / bc1);
  const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
  m.array() = b1 * m.array() + (T(1) - b1) * g.array();
  v.array() = b2 * v.array() + (T(1) - b2) * g.array().square();
  p.array() -= step_size * m.array() / (v.array().sqrt() * inv_sqrt_bc2 + static_cast<T>(eps));
}

/// The rule (train/update_policy.hpp), named "adam"; back propagation with it as an algorithm.
SIBP_DECLARE_UPDATE_RULE(AdamOptions);

}  // namespace sibp
