#include "experiment/make_algorithm.hpp"

#include "core/error.hpp"
#include "train/backprop.hpp"

namespace sibp {

UpdateOptions update_options(const RunConfig& c) {
  UpdateOptions o;
  const bool adam = c.algo == "adam" || (c.algo == "proxprop" && c.outer == "adam");
  o.kind = adam ? UpdateKind::Adam : UpdateKind::SGD;
  o.lr = c.lr;
  o.momentum = c.momentum;
  o.nesterov = c.nesterov || c.algo == "nesterov";
  o.weight_decay = c.weight_decay;
  o.beta1 = c.beta1;
  o.beta2 = c.beta2;
  o.eps = c.eps;
  if (c.algo == "momentum" || c.algo == "nesterov") {
    if (o.momentum == 0) o.momentum = 0.9;  // the usual default when the name asks for momentum
  }
  if (adam && (c.momentum != 0 || c.nesterov))
    throw UsageError("--momentum/--nesterov apply to SGD, not to Adam");
  o.validate();
  return o;
}

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> make_algorithm(const RunConfig& c, const Network<T>& net) {
  if (c.algo == "sgd" || c.algo == "momentum" || c.algo == "nesterov" || c.algo == "adam")
    return std::make_unique<BackProp<T>>(update_options(c));
  throw UsageError("--algo " + c.algo + " is not available in this build");
}

template std::unique_ptr<TrainingAlgorithm<float>> make_algorithm<float>(const RunConfig&, const Network<float>&);
template std::unique_ptr<TrainingAlgorithm<double>> make_algorithm<double>(const RunConfig&, const Network<double>&);

}  // namespace sibp
