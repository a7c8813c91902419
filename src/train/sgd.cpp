#include "train/sgd.hpp"

#include "train/backprop.hpp"
#include "train/registry.hpp"

namespace sibp {

template <typename T>
void SgdPolicy<T>::update(Param p, Grad g_in, Buffers& buf) {
  const T lr = static_cast<T>(this->scheduled(o_.lr));
  const T wd = static_cast<T>(o_.weight_decay);
  // PyTorch adds weight decay to the gradient before anything else.
  const bool decay = o_.weight_decay != 0;
  const T mu = static_cast<T>(o_.momentum);
  if (o_.momentum == 0) {
    if (decay)
      p.array() -= lr * (g_in.array() + wd * p.array());
    else
      p.noalias() -= lr * g_in;
    return;
  }
  // torch.optim.SGD: buf = g on the first step, else mu*buf + g (no dampening).
  Mat<T>& buf1 = buf[0];
  if (buf1.size() != p.size()) {
    buf1 = decay ? Mat<T>(g_in + wd * p) : Mat<T>(g_in);
  } else if (decay) {
    buf1 = mu * buf1 + g_in + wd * p;
  } else {
    buf1 = mu * buf1 + g_in;
  }
  if (o_.nesterov) {
    if (decay)
      p.array() -= lr * (g_in.array() + wd * p.array() + mu * buf1.array());
    else
      p.array() -= lr * (g_in.array() + mu * buf1.array());
  } else {
    p.noalias() -= lr * buf1;
  }
}

template class SgdPolicy<float>;
template class SgdPolicy<double>;

const AlgorithmInfo& sgd_algorithm() {
  static const AlgorithmInfo info = [] {
    AlgorithmInfo a;
    a.names = {{"sgd", "SGD", "Stochastic gradient descent (torch.optim.SGD)"},
               {"momentum", "Momentum", "SGD with heavy-ball momentum, 0.9 by default"},
               {"nesterov", "Nesterov", "SGD with Nesterov momentum, 0.9 by default"}};
    a.fields = {"lr", "momentum", "nesterov", "weight_decay"};
    a.resolve = [](const std::string& name, nlohmann::json& s) {
      default_to(s, "lr", UpdateOptions::sgd().lr);
      default_to(s, "momentum", name == "sgd" ? 0.0 : 0.9);
      default_to(s, "weight_decay", 0.0);
      if (name == "nesterov") s["nesterov"] = true;
    };
    a.build = [](const std::string& name, const AlgorithmSettings& s) -> AlgorithmOptions {
      const UpdateOptions u = update_options_from(UpdateKind::SGD, s);
      if (name != "sgd" && u.momentum == 0)
        throw OptionError("momentum", "--algo " + name + " needs momentum > 0, got 0");
      return u;
    };
    return a;
  }();
  return info;
}

}  // namespace sibp
