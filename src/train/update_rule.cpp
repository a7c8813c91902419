#include "train/update_rule.hpp"

#include "core/error.hpp"
#include "train/backprop.hpp"
#include "train/registry.hpp"

namespace sibp {

void UpdateOptions::validate() const {
  // Every field, whichever the kind: a bad Adam option on SGD is still a mistake.
  sgd_options().validate();
  adam_options().validate();
}

UpdateOptions update_options_from(UpdateKind kind, const AlgorithmSettings& s) {
  UpdateOptions u = kind == UpdateKind::Adam ? UpdateOptions::adam(s.number("lr")) : UpdateOptions::sgd(s.number("lr"));
  u.weight_decay = s.number("weight_decay");
  if (kind == UpdateKind::Adam) {
    refuse_sgd_options(s);
    u.beta1 = s.number("beta1");
    u.beta2 = s.number("beta2");
    u.eps = s.number("eps");
  } else {
    u.momentum = s.has("momentum") ? s.number("momentum") : 0.0;
    u.nesterov = s.has("nesterov") && s.flag("nesterov");
  }
  u.validate();
  return u;
}

template <typename T>
std::unique_ptr<UpdatePolicy<T>> make_update_policy(const UpdateOptions& options) {
  options.validate();
  if (options.kind == UpdateKind::Adam) return std::make_unique<RulePolicy<T, AdamOptions>>(options.adam_options());
  return std::make_unique<RulePolicy<T, SgdOptions>>(options.sgd_options());
}

std::string algorithm_name(const UpdateOptions& options) {
  return options.kind == UpdateKind::Adam ? algorithm_name(options.adam_options())
                                          : algorithm_name(options.sgd_options());
}

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const UpdateOptions& options, const NetworkSpec&,
                                                      Communicator& comm) {
  return std::make_unique<BackProp<T>>(make_update_policy<T>(options), comm);
}

SIBP_INSTANTIATE_BUILD_ALGORITHM(UpdateOptions);
template std::unique_ptr<UpdatePolicy<float>> make_update_policy<float>(const UpdateOptions&);
template std::unique_ptr<UpdatePolicy<double>> make_update_policy<double>(const UpdateOptions&);

}  // namespace sibp
