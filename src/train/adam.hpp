#pragma once
/// The Adam unit: torch.optim.Adam with coupled weight decay; --algo adam.
#include <cmath>
#include <string>

#include "train/update_rule.hpp"

namespace sibp {

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

/// torch.optim.Adam. Buffers 1 and 2: the first and second moments.
template <typename T>
class AdamPolicy final : public UpdatePolicy<T> {
 public:
  using typename UpdatePolicy<T>::Param;
  using typename UpdatePolicy<T>::Grad;
  using typename UpdatePolicy<T>::Buffers;
  /// Requires: options validated, kind Adam.
  explicit AdamPolicy(const UpdateOptions& options) : UpdatePolicy<T>(2), o_(options) {}
  std::string name() const override { return "adam"; }

 protected:
  void update(Param p, Grad g, Buffers& buf) override;

 private:
  UpdateOptions o_;
};

}  // namespace sibp
