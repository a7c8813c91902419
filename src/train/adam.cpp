#include "train/adam.hpp"

#include "train/backprop.hpp"
#include "train/registry.hpp"

namespace sibp {

template <typename T>
void AdamPolicy<T>::update(Param p, Grad g, Buffers& buf) {
  const long long t = this->step_count();
  const double lr = this->scheduled(o_.lr);
  if (o_.weight_decay == 0) return adam_step(p, g, buf[0], buf[1], lr, o_.beta1, o_.beta2, o_.eps, t);
  // Coupled decay: the decay term joins the gradient before the moments.
  const Mat<T> gd = g + static_cast<T>(o_.weight_decay) * p;
  adam_step(p, gd, buf[0], buf[1], lr, o_.beta1, o_.beta2, o_.eps, t);
}

template class AdamPolicy<float>;
template class AdamPolicy<double>;

const AlgorithmInfo& adam_algorithm() {
  static const AlgorithmInfo info = [] {
    AlgorithmInfo a;
    a.names = {{"adam", "Adam", "Adam (torch.optim.Adam), weight decay added to the gradient"}};
    a.fields = {"lr", "weight_decay", "beta1", "beta2", "eps"};
    a.resolve = [](const std::string&, nlohmann::json& s) {
      default_to(s, "lr", UpdateOptions::adam().lr);
      default_to(s, "weight_decay", 0.0);
    };
    a.build = [](const std::string&, const AlgorithmSettings& s) -> AlgorithmOptions {
      return update_options_from(UpdateKind::Adam, s);
    };
    return a;
  }();
  return info;
}

}  // namespace sibp
