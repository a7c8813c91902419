#pragma once
/// How a direction becomes a parameter update. Each rule is a policy that owns
/// its buffers (as ensmallen's update policies): SgdPolicy (plain, momentum,
/// Nesterov) and AdamPolicy here, AdamW (adamw.hpp), RMSprop (rmsprop.hpp).
/// They follow torch.optim's definitions.
#include <memory>
#include <string>
#include <vector>

#include "nn/network.hpp"
#include "train/algorithm.hpp"
#include "train/gradients.hpp"

namespace sibp {

/// Option checks shared by the rules; each throws OptionError naming `key`.
/// `value` finite and > 0:
void require_positive(const char* key, double value);
/// `value` finite and >= 0:
void require_nonnegative(const char* key, double value);
/// `value` in [0, 1):
void require_unit_interval(const char* key, double value);

/// An update rule: p ← p − update(g) for every W and b of a network, with the
/// rule's own buffers (momentum, moments, averages). Buffers are indexed by
/// parameter position (layer i's W, then b), never by pointer; the step counter
/// advances once per step() call (Adam's bias correction).
template <typename T>
class UpdatePolicy {
 public:
  using Param = Eigen::Map<Mat<T>>;        ///< a W, or a b as a column
  using Grad = Eigen::Map<const Mat<T>>;   ///< its direction
  using Buffers = std::vector<Mat<T>>;     ///< the rule's tensors for one parameter

  virtual ~UpdatePolicy() = default;
  /// The --algo name of the rule with these options ("sgd", "nesterov", "adam", ...).
  virtual std::string name() const = 0;

  /// Requires: grads sized like net (else std::invalid_argument). Ensures: step_count() grows by one.
  void step(Network<T>& net, const Gradients<T>& grads);
  long long step_count() const { return t_; }
  /// Multiplies the learning rate by `factor` from the next step on (a step
  /// schedule, TrainingAlgorithm::set_step_factor); 1 initially.
  void set_step_factor(double factor) { step_factor_ = factor; }
  /// The step counter and every buffer in use: "W<k>.<i>" and "b<k>.<i>" are
  /// buffer k (1-based; its meaning is the rule's) of parametrised layer i's W and b.
  AlgorithmState<T> state() const;
  /// Restores a state() of a rule with the same options on the same network.
  /// Throws DataError naming the tensor for a buffer of the wrong shape or name.
  void restore(const AlgorithmState<T>& s, const Network<T>& net);

 protected:
  /// `buffers`: how many tensors the rule keeps per parameter.
  explicit UpdatePolicy(int buffers) : buffers_(buffers) {}
  /// p ← p − update(g). `buf` holds the rule's buffers of this parameter, each
  /// empty (size 0) until the rule first sets it; step_count() already counts this step.
  virtual void update(Param p, Grad g, Buffers& buf) = 0;
  /// The learning rate `lr` of the rule's options, times the schedule's factor.
  double scheduled(double lr) const { return lr * step_factor_; }

 private:
  int buffers_;
  double step_factor_ = 1;
  long long t_ = 0;
  std::vector<Buffers> W_, b_;  // [layer][k]
};

enum class UpdateKind { SGD, Adam };

/// Options of the SGD family and Adam, as torch.optim names them; what
/// `--algo sgd|momentum|nesterov|adam` and ProxProp's outer optimiser use.
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
  static UpdateOptions sgd(double lr = 0.1, double momentum = 0.0, bool nesterov = false) {
    UpdateOptions o;
    o.lr = lr;
    o.momentum = momentum;
    o.nesterov = nesterov;
    return o;
  }
  static UpdateOptions adam(double lr = 1e-3) {
    UpdateOptions o;
    o.kind = UpdateKind::Adam;
    o.lr = lr;
    return o;
  }
};

class AlgorithmSettings;  // train/registry.hpp

/// The validated options of rule `kind` from a run's settings (lr, momentum,
/// nesterov, weight_decay; beta1, beta2, eps for Adam, where momentum or
/// nesterov is an error). Throws OptionError naming the key.
UpdateOptions update_options_from(UpdateKind kind, const AlgorithmSettings& settings);

/// The policy of `options` (SgdPolicy or AdamPolicy); validates them.
template <typename T>
std::unique_ptr<UpdatePolicy<T>> make_update_policy(const UpdateOptions& options);

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
