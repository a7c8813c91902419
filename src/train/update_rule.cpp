#include "train/update_rule.hpp"

#include <cmath>

#include "core/error.hpp"

namespace sibp {

void UpdateOptions::validate() const {
  auto bad = [](const std::string& what) { throw UsageError("update: " + what); };
  if (!(lr > 0) || !std::isfinite(lr)) bad("lr must be a positive number, got " + std::to_string(lr));
  if (!(momentum >= 0 && momentum < 1)) bad("momentum must be in [0, 1), got " + std::to_string(momentum));
  if (nesterov && momentum == 0) bad("nesterov requires momentum > 0");
  if (!(weight_decay >= 0)) bad("weight decay must be >= 0, got " + std::to_string(weight_decay));
  if (!(beta1 >= 0 && beta1 < 1)) bad("beta1 must be in [0, 1), got " + std::to_string(beta1));
  if (!(beta2 >= 0 && beta2 < 1)) bad("beta2 must be in [0, 1), got " + std::to_string(beta2));
  if (!(eps > 0)) bad("eps must be positive, got " + std::to_string(eps));
}

template <typename T>
UpdateRule<T>::UpdateRule(const UpdateOptions& options) : options_(options) {
  options_.validate();
}

template <typename T>
template <typename P>
void UpdateRule<T>::update_param(P& p, const P& g_in, P& buf1, P& buf2) {
  const T lr = static_cast<T>(options_.lr);
  const T wd = static_cast<T>(options_.weight_decay);
  // PyTorch adds weight decay to the gradient before anything else.
  const bool decay = options_.weight_decay != 0;
  if (options_.kind == UpdateKind::SGD) {
    const T mu = static_cast<T>(options_.momentum);
    if (options_.momentum == 0) {
      if (decay)
        p.array() -= lr * (g_in.array() + wd * p.array());
      else
        p.noalias() -= lr * g_in;
      return;
    }
    // torch.optim.SGD: buf = g on the first step, else mu*buf + g (no dampening).
    if (buf1.size() != p.size()) {
      buf1 = decay ? P(g_in + wd * p) : g_in;
    } else if (decay) {
      buf1 = mu * buf1 + g_in + wd * p;
    } else {
      buf1 = mu * buf1 + g_in;
    }
    if (options_.nesterov) {
      if (decay)
        p.array() -= lr * (g_in.array() + wd * p.array() + mu * buf1.array());
      else
        p.array() -= lr * (g_in.array() + mu * buf1.array());
    } else {
      p.noalias() -= lr * buf1;
    }
    return;
  }
  // torch.optim.Adam (coupled weight decay), bias correction from the shared step count.
  const T b1 = static_cast<T>(options_.beta1), b2 = static_cast<T>(options_.beta2);
  const T eps = static_cast<T>(options_.eps);
  if (buf1.size() != p.size()) {
    buf1 = P::Zero(p.rows(), p.cols());
    buf2 = P::Zero(p.rows(), p.cols());
  }
  const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t_));
  const T step_size = static_cast<T>(options_.lr / bc1);
  const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
  if (decay) {
    buf1.array() = b1 * buf1.array() + (T(1) - b1) * (g_in.array() + wd * p.array());
    buf2.array() = b2 * buf2.array() + (T(1) - b2) * (g_in.array() + wd * p.array()).square();
  } else {
    buf1.array() = b1 * buf1.array() + (T(1) - b1) * g_in.array();
    buf2.array() = b2 * buf2.array() + (T(1) - b2) * g_in.array().square();
  }
  p.array() -= step_size * buf1.array() / (buf2.array().sqrt() * inv_sqrt_bc2 + eps);
}

template <typename T>
void UpdateRule<T>::step(Network<T>& net, const Gradients<T>& grads) {
  const std::size_t L = net.num_param_layers();
  if (grads.dW.size() != L || grads.db.size() != L)
    throw std::invalid_argument("UpdateRule::step: gradients do not match the network's layers");
  W1_.resize(L);
  W2_.resize(L);
  b1_.resize(L);
  b2_.resize(L);
  ++t_;
  for (std::size_t l = 0; l < L; ++l) {
    update_param(net.params(l).W, grads.dW[l], W1_[l], W2_[l]);
    update_param(net.params(l).b, grads.db[l], b1_[l], b2_[l]);
  }
}

template class UpdateRule<float>;
template class UpdateRule<double>;

}  // namespace sibp
