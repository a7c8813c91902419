#include "train/adam.hpp"

#include "core/error.hpp"
#include "train/backprop.hpp"

namespace sibp {

void AdamOptions::validate() const {
  require_positive("lr", lr);
  require_nonnegative("weight_decay", weight_decay);
  require_unit_interval("beta1", beta1);
  require_unit_interval("beta2", beta2);
  require_positive("eps", eps);
}

AdamOptions adam_options_from(const AlgorithmSettings& s) {
  AdamOptions o;
  s.read({{"lr", &o.lr}, {"weight_decay", &o.weight_decay}, {"beta1", &o.beta1}, {"beta2", &o.beta2}, {"eps", &o.eps}});
  o.validate();
  return o;
}

std::string algorithm_name(const AdamOptions&) { return "adam"; }

template <typename T>
void update_parameter(const AdamOptions& o, ParamMap<T> p, GradMap<T> g, Buffers<T>& buf, long long t) {
  if (o.weight_decay == 0) return adam_step(p, g, buf[0], buf[1], o.lr, o.beta1, o.beta2, o.eps, t);
  // Coupled decay: the decay term joins the gradient before the moments.
  const Mat<T> gd = g + static_cast<T>(o.weight_decay) * p;
  adam_step(p, gd, buf[0], buf[1], o.lr, o.beta1, o.beta2, o.eps, t);
}

SIBP_BACKPROP_RULE(AdamOptions);

void refuse_sgd_options(const AlgorithmSettings& s) {
  const double momentum = s.has("momentum") ? s.number("momentum") : 0.0;
  const bool nesterov = s.has("nesterov") && s.flag("nesterov");
  if (momentum != 0 || nesterov)
    throw OptionError(momentum != 0 ? "momentum" : "nesterov", "applies to SGD, not to Adam");
}

AlgorithmInfo adam_family_algorithm(AlgorithmName name, const AdamOptions& defaults,
                                    AlgorithmOptions (*build)(const AlgorithmSettings&)) {
  AlgorithmInfo a;
  a.names = {std::move(name)};
  a.fields = {"lr", "weight_decay", "beta1", "beta2", "eps"};
  a.resolve = [defaults](const std::string&, nlohmann::json& s) {
    default_to(s, "lr", defaults.lr);
    default_to(s, "weight_decay", defaults.weight_decay);
  };
  a.build = [build](const std::string&, const AlgorithmSettings& s) { return build(s); };
  return a;
}

const AlgorithmInfo& adam_algorithm() {
  static const AlgorithmInfo info =
      adam_family_algorithm({"adam", "Adam", "Adam (torch.optim.Adam), weight decay added to the gradient"},
                            AdamOptions{}, [](const AlgorithmSettings& s) -> AlgorithmOptions {
                              refuse_sgd_options(s);
                              return adam_options_from(s);
                            });
  return info;
}

}  // namespace sibp
