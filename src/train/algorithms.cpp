#include "train/algorithms.hpp"

#include <stdexcept>

namespace sibp {

std::unique_ptr<TrainingAlgorithm<float>> AlgorithmOptions::make(const NetworkSpec& spec, Communicator& comm,
                                                                 float) const {
  if (!impl_) throw std::invalid_argument("make_algorithm: no algorithm options");
  return impl_->make_f32(spec, comm);
}

std::unique_ptr<TrainingAlgorithm<double>> AlgorithmOptions::make(const NetworkSpec& spec, Communicator& comm,
                                                                  double) const {
  if (!impl_) throw std::invalid_argument("make_algorithm: no algorithm options");
  return impl_->make_f64(spec, comm);
}

}  // namespace sibp
