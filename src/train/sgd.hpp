#pragma once
/// The SGD unit: torch.optim.SGD with plain or Nesterov momentum and coupled
/// weight decay; --algo sgd, momentum (0.9 by default) and nesterov.
#include <string>

#include "train/update_rule.hpp"

namespace sibp {

/// torch.optim.SGD (no dampening). Buffer 1: the momentum buffer, set to the
/// first direction at the first step.
template <typename T>
class SgdPolicy final : public UpdatePolicy<T> {
 public:
  using typename UpdatePolicy<T>::Param;
  using typename UpdatePolicy<T>::Grad;
  using typename UpdatePolicy<T>::Buffers;
  /// Requires: options validated, kind SGD.
  explicit SgdPolicy(const UpdateOptions& options) : UpdatePolicy<T>(1), o_(options) {}
  std::string name() const override { return o_.momentum > 0 ? (o_.nesterov ? "nesterov" : "momentum") : "sgd"; }

 protected:
  void update(Param p, Grad g, Buffers& buf) override;

 private:
  UpdateOptions o_;
};

}  // namespace sibp
