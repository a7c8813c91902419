#pragma once
/// Error back propagation of the batch-mean loss (ALGORITHMS.md §2).
#include "train/algorithm.hpp"
#include "train/gradients.hpp"
#include "train/update_rule.hpp"

namespace sibp {

/// Computes ∂(mean loss)/∂W_l, ∂b_l by walking the tape backwards.
/// The tape must hold a forward pass of `Y`'s batch. Leaves the gradient of
/// the mean loss w.r.t. the input F_0 uncomputed (nobody needs it).
/// Returns the batch's mean loss.
template <typename T>
double backprop_gradients(const Network<T>& net, Tape<T>& tape, const Eigen::Ref<const Mat<T>>& Y,
                          Gradients<T>& grads, Mat<T>& delta, Mat<T>& delta_below);

/// Back propagation + an UpdateRule: SGD, momentum, Nesterov, Adam.
template <typename T>
class BackProp : public TrainingAlgorithm<T> {
 public:
  explicit BackProp(const UpdateOptions& options) : rule_(options) {}
  StepReport step(Network<T>& net, const Batch<T>& batch) override;
  std::string name() const override;
  const Gradients<T>& last_gradients() const { return grads_; }

 private:
  UpdateRule<T> rule_;
  Tape<T> tape_;
  Gradients<T> grads_;
  Mat<T> delta_, delta_below_;
};

}  // namespace sibp
