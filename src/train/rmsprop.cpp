#include "train/rmsprop.hpp"

#include "train/backprop.hpp"
#include "train/registry.hpp"

namespace sibp {

void RMSpropOptions::validate() const {
  require_positive("lr", lr);
  require_unit_interval("alpha", alpha);
  require_positive("eps", eps);
  require_nonnegative("weight_decay", weight_decay);
  require_unit_interval("momentum", momentum);
}

std::string algorithm_name(const RMSpropOptions&) { return "rmsprop"; }

template <typename T>
void update_parameter(const RMSpropOptions& o, ParamMap<T> p, GradMap<T> g_in, Buffers<T>& buf, long long) {
  const T alpha = static_cast<T>(o.alpha), lr = static_cast<T>(o.lr);
  // torch.optim.RMSprop: decay joins the gradient; every buffer starts at zero.
  const Mat<T> g = o.weight_decay != 0 ? Mat<T>(g_in + static_cast<T>(o.weight_decay) * p) : Mat<T>(g_in);
  const auto zero_if_new = [&](Mat<T>& b) {
    if (b.size() != p.size()) b = Mat<T>::Zero(p.rows(), p.cols());
  };
  Mat<T>& square_avg = buf[0];
  zero_if_new(square_avg);
  square_avg.array() = alpha * square_avg.array() + (T(1) - alpha) * g.array().square();
  Mat<T> avg;
  if (o.centered) {
    Mat<T>& grad_avg = buf[2];
    zero_if_new(grad_avg);
    grad_avg.array() = alpha * grad_avg.array() + (T(1) - alpha) * g.array();
    avg = (square_avg.array() - grad_avg.array().square()).sqrt().matrix();
  } else {
    avg = square_avg.array().sqrt().matrix();
  }
  avg.array() += static_cast<T>(o.eps);
  if (o.momentum > 0) {
    Mat<T>& momentum_buf = buf[1];
    zero_if_new(momentum_buf);
    momentum_buf.array() = static_cast<T>(o.momentum) * momentum_buf.array() + g.array() / avg.array();
    p.noalias() -= lr * momentum_buf;
  } else {
    p.array() -= lr * (g.array() / avg.array());
  }
}

SIBP_BACKPROP_RULE(RMSpropOptions);

const AlgorithmInfo& rmsprop_algorithm() {
  static const AlgorithmInfo info = [] {
    const RMSpropOptions defaults;
    AlgorithmInfo a;
    a.names = {{"rmsprop", "RMSprop", "RMSprop (torch.optim.RMSprop), optionally centred and with momentum"}};
    a.group = "RMSprop (--algo rmsprop)";
    a.fields = {"lr", "eps", "weight_decay", "momentum"};
    a.options = {{"alpha", AlgorithmOption::Kind::Number, "Decay of the squared-gradient average", defaults.alpha},
                 {"centered", AlgorithmOption::Kind::Flag,
                  "Centred RMSprop: divide by the gradient's estimated standard deviation", defaults.centered}};
    a.resolve = [defaults](const std::string&, nlohmann::json& s) {
      default_to(s, "lr", defaults.lr);
      default_to(s, "weight_decay", defaults.weight_decay);
      default_to(s, "momentum", defaults.momentum);
    };
    a.build = [](const std::string&, const AlgorithmSettings& s) -> AlgorithmOptions {
      RMSpropOptions o;
      s.read({{"lr", &o.lr}, {"alpha", &o.alpha}, {"eps", &o.eps}, {"weight_decay", &o.weight_decay},
              {"momentum", &o.momentum}});
      o.centered = s.flag("centered");
      o.validate();
      return o;
    };
    return a;
  }();
  return info;
}

}  // namespace sibp
