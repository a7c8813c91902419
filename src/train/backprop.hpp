#pragma once
/// Error back propagation of the batch-mean loss (ALGORITHMS.md §2).
#include <memory>

#include "core/communicator.hpp"
#include "nn/architecture.hpp"
#include "train/algorithm.hpp"
#include "train/algorithms.hpp"
#include "train/gradients.hpp"
#include "train/update_policy.hpp"

namespace sibp {

/// Scratch matrices of back propagation, kept between batches so the per-batch
/// loop does not allocate once shapes are settled.
template <typename T>
struct BackpropWork {
  Mat<T> delta;        // ∂(mean loss)/∂(current layer's output), then δ = σ' ⊙ that
  Mat<T> delta_below;  // the same for the layer below
  Mat<T> unfolded;     // conv: Wᵀδ in patch space before col2im
};

/// Computes ∂(mean loss)/∂W, ∂b of every parametrised layer by walking the tape
/// backwards through every layer (ALGORITHMS.md §2, §5): δ = σ'(G) ⊙ Δ,
/// ∂W = δ Pᵀ, ∂b = δ 1, and Δ below = the layer's adjoint of δ.
/// The tape must hold a forward pass of `Y`'s batch. Stops at the lowest
/// parametrised layer (nobody needs the gradient w.r.t. the input).
/// Returns the batch's mean loss.
/// `mean_over` (data parallelism, §6): the m of the mean when the tape holds one
/// shard of a larger batch (0: the tape's own batch size); the gradients and the
/// loss are then this shard's part of the whole batch's, to be summed over ranks.
template <typename T>
double backprop_gradients(const Network<T>& net, Tape<T>& tape, const Eigen::Ref<const Mat<T>>& Y,
                          Gradients<T>& grads, BackpropWork<T>& work, Index mean_over = 0);

/// Back propagation + an update rule (an UpdatePolicy: SGD, momentum, Nesterov,
/// Adam, AdamW, RMSprop, ...); its name and checkpoint state are the rule's.
template <typename T>
class BackProp : public TrainingAlgorithm<T> {
 public:
  /// `comm`: the ranks that hold the other shards of every batch (§6); the
  /// gradients are summed over them before the update.
  explicit BackProp(std::unique_ptr<UpdatePolicy<T>> rule, Communicator& comm = single_process())
      : rule_(std::move(rule)), comm_(&comm) {}
  StepReport step(Network<T>& net, const Batch<T>& batch) override;
  std::string name() const override { return rule_->name(); }
  void set_step_factor(double factor) override { rule_->set_step_factor(factor); }
  AlgorithmState<T> state() const override { return rule_->state(); }
  void restore(const AlgorithmState<T>& s, const Network<T>& net) override { rule_->restore(s, net); }
  const Gradients<T>& last_gradients() const { return grads_; }

 private:
  std::unique_ptr<UpdatePolicy<T>> rule_;
  Tape<T> tape_;
  Gradients<T> grads_;
  BackpropWork<T> work_;
  Communicator* comm_;
  std::vector<T> buffer_;  // the packed gradients of the allreduce
};

/// Back propagation with the rule that options `O` describe (RulePolicy<T, O>);
/// throws OptionError if options.validate() fails.
template <typename T, typename O>
std::unique_ptr<TrainingAlgorithm<T>> make_backprop(const O& options, Communicator& comm = single_process()) {
  return std::make_unique<BackProp<T>>(std::make_unique<RulePolicy<T, O>>(options), comm);
}

/// In the source file of an update rule's unit (options `O`): the
/// build_algorithm its header declares, back propagation with the rule, and
/// the float and double instances of it and of the rule's update_parameter.
#define SIBP_BACKPROP_RULE(O)                                                                      \
  template <typename T>                                                                            \
  std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const O& options, const NetworkSpec&,      \
                                                        Communicator& comm) {                      \
    return make_backprop<T>(options, comm);                                                        \
  }                                                                                                \
  SIBP_INSTANTIATE_BUILD_ALGORITHM(O);                                                             \
  SIBP_INSTANTIATE_UPDATE_PARAMETER(O)

}  // namespace sibp
