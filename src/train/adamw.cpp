#include "train/adamw.hpp"

#include "train/adam.hpp"
#include "train/backprop.hpp"
#include "train/registry.hpp"

namespace sibp {

void AdamWOptions::validate() const {
  require_positive("lr", lr);
  require_unit_interval("beta1", beta1);
  require_unit_interval("beta2", beta2);
  require_positive("eps", eps);
  require_nonnegative("weight_decay", weight_decay);
}

template <typename T>
AdamW<T>::AdamW(const AdamWOptions& options) : UpdatePolicy<T>(2), o_(options) {
  o_.validate();
}

template <typename T>
void AdamW<T>::update(Param p, Grad g, Buffers& buf) {
  // Decoupled decay: shrink the weights, then an Adam step on the plain gradient.
  const double lr = this->scheduled(o_.lr);
  if (o_.weight_decay != 0) p *= static_cast<T>(1.0 - lr * o_.weight_decay);
  adam_step(p, g, buf[0], buf[1], lr, o_.beta1, o_.beta2, o_.eps, this->step_count());
}

template class AdamW<float>;
template class AdamW<double>;

std::string algorithm_name(const AdamWOptions&) { return "adamw"; }

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const AdamWOptions& options, const NetworkSpec&,
                                                      Communicator& comm) {
  return std::make_unique<BackProp<T>>(std::make_unique<AdamW<T>>(options), comm);
}

template std::unique_ptr<TrainingAlgorithm<float>> build_algorithm<float>(const AdamWOptions&, const NetworkSpec&,
                                                                          Communicator&);
template std::unique_ptr<TrainingAlgorithm<double>> build_algorithm<double>(const AdamWOptions&, const NetworkSpec&,
                                                                            Communicator&);

const AlgorithmInfo& adamw_algorithm() {
  static const AlgorithmInfo info = [] {
    AlgorithmInfo a;
    a.names = {{"adamw", "AdamW", "Adam with decoupled weight decay (torch.optim.AdamW)"}};
    a.fields = {"lr", "beta1", "beta2", "eps", "weight_decay"};
    a.resolve = [](const std::string&, nlohmann::json& s) {
      default_to(s, "lr", AdamWOptions{}.lr);
      default_to(s, "weight_decay", AdamWOptions{}.weight_decay);
    };
    a.build = [](const std::string&, const AlgorithmSettings& s) -> AlgorithmOptions {
      AdamWOptions o;
      o.lr = s.number("lr");
      o.beta1 = s.number("beta1");
      o.beta2 = s.number("beta2");
      o.eps = s.number("eps");
      o.weight_decay = s.number("weight_decay");
      o.validate();
      return o;
    };
    return a;
  }();
  return info;
}

}  // namespace sibp
