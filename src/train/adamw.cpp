#include "train/adamw.hpp"

#include "train/backprop.hpp"

namespace sibp {

std::string algorithm_name(const AdamWOptions&) { return "adamw"; }

template <typename T>
void update_parameter(const AdamWOptions& o, ParamMap<T> p, GradMap<T> g, Buffers<T>& buf, long long t) {
  // Decoupled decay: shrink the weights, then an Adam step on the plain gradient.
  if (o.weight_decay != 0) p *= static_cast<T>(1.0 - o.lr * o.weight_decay);
  adam_step(p, g, buf[0], buf[1], o.lr, o.beta1, o.beta2, o.eps, t);
}

SIBP_BACKPROP_RULE(AdamWOptions);

const AlgorithmInfo& adamw_algorithm() {
  static const AlgorithmInfo info =
      adam_family_algorithm({"adamw", "AdamW", "Adam with decoupled weight decay (torch.optim.AdamW)"},
                            AdamWOptions{}, [](const AlgorithmSettings& s) -> AlgorithmOptions {
                              AdamWOptions o;
                              static_cast<AdamOptions&>(o) = adam_options_from(s);
                              return o;
                            });
  return info;
}

}  // namespace sibp
