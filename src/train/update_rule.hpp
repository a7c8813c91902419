#pragma once
/// How a direction becomes a parameter update: SGD (with plain or Nesterov
/// momentum) and Adam, as torch.optim.SGD / torch.optim.Adam define them.
#include <memory>
#include <string>

#include "nn/network.hpp"
#include "train/algorithm.hpp"
#include "train/gradients.hpp"

namespace sibp {

enum class UpdateKind { SGD, Adam };

/// Options of an update rule. Names follow torch.optim.
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

/// Applies directions to parameters. State (momentum buffers, Adam moments)
/// is indexed by parameter position (layer l's W, then b), never by
/// pointer, and Adam's bias correction advances once per step() call.
template <typename T>
class UpdateRule {
 public:
  explicit UpdateRule(const UpdateOptions& options);
  /// p ← p − update(g) for every W and b of `net`.
  /// Requires: grads sized like net. Ensures: step_count() grows by one.
  void step(Network<T>& net, const Gradients<T>& grads);
  long long step_count() const { return t_; }
  const UpdateOptions& options() const { return options_; }
  /// The step counter and every buffer in use ("W1.<i>", "W2.<i>", "b1.<i>",
  /// "b2.<i>": momentum or first moment, and second moment, of parametrised layer i).
  AlgorithmState<T> state() const;
  /// Restores a state() of a rule with the same options on the same network.
  /// Throws DataError naming the tensor for a buffer of the wrong shape or name.
  void restore(const AlgorithmState<T>& s, const Network<T>& net);

 private:
  template <typename P>
  void update_param(P& p, const P& g, P& buf1, P& buf2);

  UpdateOptions options_;
  long long t_ = 0;
  // buf1: momentum buffer (SGD) or first moment (Adam); buf2: Adam's second moment.
  std::vector<Mat<T>> W1_, W2_;
  std::vector<Vec<T>> b1_, b2_;
};

}  // namespace sibp
