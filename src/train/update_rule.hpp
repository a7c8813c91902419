#pragma once
/// SGD or Adam, chosen by one options struct: ProxProp's outer optimiser, and a
/// way to build back propagation with either from UpdateOptions. The rules are
/// the units train/sgd.hpp and train/adam.hpp.
#include <memory>
#include <string>

#include "nn/network.hpp"
#include "train/adam.hpp"
#include "train/sgd.hpp"
#include "train/update_policy.hpp"

namespace sibp {

enum class UpdateKind { SGD, Adam };

struct UpdateOptions;
/// The policy of `options` (SGD or Adam); validates them.
template <typename T>
std::unique_ptr<UpdatePolicy<T>> make_update_policy(const UpdateOptions& options);

/// Options of the SGD family and Adam, as torch.optim names them; what
/// ProxProp's outer optimiser uses.
struct UpdateOptions {
  UpdateKind kind = UpdateKind::SGD;
  double lr = 0.1;
  double momentum = 0.0;      ///< SGD only
  bool nesterov = false;      ///< SGD only; requires momentum > 0
  double weight_decay = 0.0;  ///< L2 term added to the gradient (PyTorch's coupled decay)
  double beta1 = 0.9;         ///< Adam
  double beta2 = 0.999;       ///< Adam
  double eps = 1e-8;          ///< Adam

  /// Throws OptionError naming the field for lr ≤ 0, momentum ∉ [0,1),
  /// nesterov without momentum, betas ∉ [0,1), eps ≤ 0, weight decay < 0.
  void validate() const;

  /// The defaults `sibp train` uses for each rule: SGD lr 0.1 (and momentum 0.9
  /// when asked for by name), Adam lr 1e-3 as torch.optim.Adam.
  static UpdateOptions sgd(double lr = SgdOptions{}.lr, double momentum = 0.0, bool nesterov = false) {
    UpdateOptions o;
    o.lr = lr;
    o.momentum = momentum;
    o.nesterov = nesterov;
    return o;
  }
  static UpdateOptions adam(double lr = AdamOptions{}.lr) {
    UpdateOptions o;
    o.kind = UpdateKind::Adam;
    o.lr = lr;
    return o;
  }
  /// The rule's own options.
  SgdOptions sgd_options() const { return {lr, momentum, nesterov, weight_decay}; }
  AdamOptions adam_options() const { return {lr, beta1, beta2, eps, weight_decay}; }

  /// The policy these options describe: what BackProp takes, so that
  /// `BackProp<T> algo(UpdateOptions::adam())` builds back propagation with Adam.
  template <typename T>
  operator std::unique_ptr<UpdatePolicy<T>>() const {
    return make_update_policy<T>(*this);
  }
};

/// The AlgorithmOptions interface (train/algorithms.hpp): back propagation with
/// SGD or Adam, named as the rule ("sgd", "momentum", "nesterov", "adam").
std::string algorithm_name(const UpdateOptions& options);
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const UpdateOptions& options, const NetworkSpec& spec,
                                                      Communicator& comm);

class AlgorithmSettings;  // train/registry.hpp

/// The validated options of rule `kind` from a run's settings (lr, momentum,
/// nesterov, weight_decay; beta1, beta2, eps for Adam, where momentum or
/// nesterov is an error). Throws OptionError naming the key.
UpdateOptions update_options_from(UpdateKind kind, const AlgorithmSettings& settings);

/// An UpdatePolicy chosen by UpdateOptions: ProxProp's outer optimiser and
/// the tests of the SGD/Adam rules.
template <typename T>
class UpdateRule {
 public:
  /// Throws OptionError if options.validate() fails.
  explicit UpdateRule(const UpdateOptions& options) : options_(options), policy_(make_update_policy<T>(options)) {}
  /// p ← p − update(g) for every W and b of `net`.
  void step(Network<T>& net, const Gradients<T>& grads) { policy_->step(net, grads); }
  long long step_count() const { return policy_->step_count(); }
  void set_step_factor(double factor) { policy_->set_step_factor(factor); }
  const UpdateOptions& options() const { return options_; }
  AlgorithmState<T> state() const { return policy_->state(); }
  void restore(const AlgorithmState<T>& s, const Network<T>& net) { policy_->restore(s, net); }

 private:
  UpdateOptions options_;
  std::unique_ptr<UpdatePolicy<T>> policy_;
};

}  // namespace sibp
