#include "train/sgd.hpp"

#include "core/error.hpp"
#include "train/backprop.hpp"
#include "train/registry.hpp"

namespace sibp {

void SgdOptions::validate() const {
  require_positive("lr", lr);
  require_unit_interval("momentum", momentum);
  if (nesterov && momentum == 0) throw OptionError("nesterov", "requires momentum > 0 (--momentum)");
  require_nonnegative("weight_decay", weight_decay);
}

std::string algorithm_name(const SgdOptions& o) {
  if (o.momentum > 0) return o.nesterov ? "nesterov" : "momentum";
  return "sgd";
}

template <typename T>
void update_parameter(const SgdOptions& o, ParamMap<T> p, GradMap<T> g_in, Buffers<T>& buf, long long) {
  const T lr = static_cast<T>(o.lr);
  const T wd = static_cast<T>(o.weight_decay);
  // PyTorch adds weight decay to the gradient before anything else.
  const bool decay = o.weight_decay != 0;
  const T mu = static_cast<T>(o.momentum);
  if (o.momentum == 0) {
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
  if (o.nesterov) {
    if (decay)
      p.array() -= lr * (g_in.array() + wd * p.array() + mu * buf1.array());
    else
      p.array() -= lr * (g_in.array() + mu * buf1.array());
  } else {
    p.noalias() -= lr * buf1;
  }
}

SIBP_BACKPROP_RULE(SgdOptions);

const AlgorithmInfo& sgd_algorithm() {
  static const AlgorithmInfo info = [] {
    AlgorithmInfo a;
    a.names = {{"sgd", "SGD", "Stochastic gradient descent (torch.optim.SGD)"},
               {"momentum", "Momentum", "SGD with heavy-ball momentum, 0.9 by default"},
               {"nesterov", "Nesterov", "SGD with Nesterov momentum, 0.9 by default"}};
    a.fields = {"lr", "momentum", "nesterov", "weight_decay"};
    a.resolve = [](const std::string& name, nlohmann::json& s) {
      default_to(s, "lr", SgdOptions{}.lr);
      default_to(s, "momentum", name == "sgd" ? 0.0 : 0.9);
      default_to(s, "weight_decay", 0.0);
      if (name == "nesterov") s["nesterov"] = true;
    };
    a.build = [](const std::string& name, const AlgorithmSettings& s) -> AlgorithmOptions {
      SgdOptions o;
      o.lr = s.number("lr");
      o.weight_decay = s.number("weight_decay");
      o.momentum = s.has("momentum") ? s.number("momentum") : 0.0;
      o.nesterov = s.has("nesterov") && s.flag("nesterov");
      o.validate();
      if (name != "sgd" && o.momentum == 0)
        throw OptionError("momentum", "--algo " + name + " needs momentum > 0, got 0");
      return o;
    };
    return a;
  }();
  return info;
}

}  // namespace sibp
