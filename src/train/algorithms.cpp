#include "train/algorithms.hpp"

#include "train/backprop.hpp"

namespace sibp {

std::string algorithm_name(const AlgorithmOptions& options) {
  if (std::holds_alternative<SibpOptions>(options)) return "sibp";
  if (std::holds_alternative<ProxPropOptions>(options)) return "proxprop";
  const UpdateOptions& u = std::get<UpdateOptions>(options);
  if (u.kind == UpdateKind::Adam) return "adam";
  if (u.momentum > 0) return u.nesterov ? "nesterov" : "momentum";
  return "sgd";
}

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> make_algorithm(const AlgorithmOptions& options, const NetworkSpec& spec,
                                                     Communicator& comm) {
  if (const auto* u = std::get_if<UpdateOptions>(&options)) return std::make_unique<BackProp<T>>(*u, comm);
  if (const auto* s = std::get_if<SibpOptions>(&options)) return std::make_unique<Sibp<T>>(*s, spec, comm);
  return std::make_unique<ProxProp<T>>(std::get<ProxPropOptions>(options), comm);
}

template std::unique_ptr<TrainingAlgorithm<float>> make_algorithm<float>(const AlgorithmOptions&, const NetworkSpec&,
                                                                         Communicator&);
template std::unique_ptr<TrainingAlgorithm<double>> make_algorithm<double>(const AlgorithmOptions&,
                                                                           const NetworkSpec&, Communicator&);

}  // namespace sibp
