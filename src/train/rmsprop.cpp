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

template <typename T>
RMSprop<T>::RMSprop(const RMSpropOptions& options) : UpdatePolicy<T>(3), o_(options) {
  o_.validate();
}

template <typename T>
void RMSprop<T>::update(Param p, Grad g_in, Buffers& buf) {
  const T alpha = static_cast<T>(o_.alpha), lr = static_cast<T>(this->scheduled(o_.lr));
  // torch.optim.RMSprop: decay joins the gradient; every buffer starts at zero.
  const Mat<T> g = o_.weight_decay != 0 ? Mat<T>(g_in + static_cast<T>(o_.weight_decay) * p) : Mat<T>(g_in);
  const auto zero_if_new = [&](Mat<T>& b) {
    if (b.size() != p.size()) b = Mat<T>::Zero(p.rows(), p.cols());
  };
  Mat<T>& square_avg = buf[0];
  zero_if_new(square_avg);
  square_avg.array() = alpha * square_avg.array() + (T(1) - alpha) * g.array().square();
  Mat<T> avg;
  if (o_.centered) {
    Mat<T>& grad_avg = buf[2];
    zero_if_new(grad_avg);
    grad_avg.array() = alpha * grad_avg.array() + (T(1) - alpha) * g.array();
    avg = (square_avg.array() - grad_avg.array().square()).sqrt().matrix();
  } else {
    avg = square_avg.array().sqrt().matrix();
  }
  avg.array() += static_cast<T>(o_.eps);
  if (o_.momentum > 0) {
    Mat<T>& momentum_buf = buf[1];
    zero_if_new(momentum_buf);
    momentum_buf.array() = static_cast<T>(o_.momentum) * momentum_buf.array() + g.array() / avg.array();
    p.noalias() -= lr * momentum_buf;
  } else {
    p.array() -= lr * (g.array() / avg.array());
  }
}

template class RMSprop<float>;
template class RMSprop<double>;

std::string algorithm_name(const RMSpropOptions&) { return "rmsprop"; }

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const RMSpropOptions& options, const NetworkSpec&,
                                                      Communicator& comm) {
  return std::make_unique<BackProp<T>>(std::make_unique<RMSprop<T>>(options), comm);
}

template std::unique_ptr<TrainingAlgorithm<float>> build_algorithm<float>(const RMSpropOptions&, const NetworkSpec&,
                                                                          Communicator&);
template std::unique_ptr<TrainingAlgorithm<double>> build_algorithm<double>(const RMSpropOptions&,
                                                                            const NetworkSpec&, Communicator&);

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
      o.lr = s.number("lr");
      o.alpha = s.number("alpha");
      o.eps = s.number("eps");
      o.weight_decay = s.number("weight_decay");
      o.momentum = s.number("momentum");
      o.centered = s.flag("centered");
      o.validate();
      return o;
    };
    return a;
  }();
  return info;
}

}  // namespace sibp
