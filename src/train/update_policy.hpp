#pragma once
/// How a direction becomes a parameter update: the interface every update rule
/// implements (as ensmallen's update policies), and the policy of a rule that
/// one options struct describes. The rules themselves are units of their own:
/// sgd, adam, adamw, rmsprop; they follow torch.optim's definitions.
#include <memory>
#include <string>
#include <vector>

#include "core/communicator.hpp"
#include "nn/architecture.hpp"
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

template <typename T>
using ParamMap = Eigen::Map<Mat<T>>;  ///< a W, or a b as a column
template <typename T>
using GradMap = Eigen::Map<const Mat<T>>;  ///< its direction
template <typename T>
using Buffers = std::vector<Mat<T>>;  ///< a rule's tensors for one parameter

/// An update rule: p ← p − update(g) for every W and b of a network, with the
/// rule's own buffers (momentum, moments, averages). Buffers are indexed by
/// parameter position (layer i's W, then b), never by pointer; the step counter
/// advances once per step() call (Adam's bias correction).
template <typename T>
class UpdatePolicy {
 public:
  using Param = ParamMap<T>;
  using Grad = GradMap<T>;
  using Buffers = sibp::Buffers<T>;

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
  double step_factor() const { return step_factor_; }

 private:
  int buffers_;
  double step_factor_ = 1;
  long long t_ = 0;
  std::vector<Buffers> W_, b_;  // [layer][k]
};

/// The policy of the rule that options `O` describe. `O` has
/// `static constexpr int buffers` (tensors kept per parameter) and `validate()`,
/// and its unit declares next to it (found by argument-dependent lookup):
///   std::string algorithm_name(const O&);
///   template <typename T>
///   void update_parameter(const O&, ParamMap<T> p, GradMap<T> g, Buffers<T>& buf, long long t);
/// where update_parameter does p ← p − update(g) at step t (1-based) with the
/// parameter's buffers `buf` (each of size 0 until the rule first sets it).
template <typename T, typename O>
class RulePolicy final : public UpdatePolicy<T> {
 public:
  /// Throws OptionError if options.validate() fails.
  explicit RulePolicy(const O& options) : UpdatePolicy<T>(O::buffers), o_((options.validate(), options)) {}
  std::string name() const override { return algorithm_name(o_); }
  const O& options() const { return o_; }

 protected:
  void update(ParamMap<T> p, GradMap<T> g, sibp::Buffers<T>& buf) override {
    // The schedule scales the rule's learning rate (and with it AdamW's decoupled
    // decay, as torch does); a factor of 1 leaves lr's bits as they are.
    O scheduled = o_;
    scheduled.lr = o_.lr * this->step_factor();
    update_parameter(scheduled, p, g, buf, this->step_count());
  }

 private:
  O o_;
};

/// Declares, next to the options struct `O` of an update rule's unit, the
/// functions that make the rule a RulePolicy and `O` an AlgorithmOptions
/// (train/algorithms.hpp); the unit's source file defines them:
///   std::string algorithm_name(const O&);    // its --algo name
///   template <typename T> void update_parameter(const O&, ParamMap<T>, GradMap<T>, Buffers<T>&, long long t);
///   template <typename T> std::unique_ptr<TrainingAlgorithm<T>>
///   build_algorithm(const O&, const NetworkSpec&, Communicator&);   // SIBP_BACKPROP_RULE (train/backprop.hpp)
#define SIBP_DECLARE_UPDATE_RULE(O)                                                                           \
  std::string algorithm_name(const O& options);                                                              \
  template <typename T>                                                                                      \
  void update_parameter(const O& options, ParamMap<T> p, GradMap<T> g, Buffers<T>& buf, long long t);        \
  template <typename T>                                                                                      \
  std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const O& options, const NetworkSpec& spec, Communicator& comm)

/// The float and double instances of the update_parameter of options `O`: one
/// line in the source file of `O`'s unit.
#define SIBP_INSTANTIATE_UPDATE_PARAMETER(O)                                                                        \
  template void update_parameter<float>(const O&, ParamMap<float>, GradMap<float>, Buffers<float>&, long long);    \
  template void update_parameter<double>(const O&, ParamMap<double>, GradMap<double>, Buffers<double>&, long long)

}  // namespace sibp
