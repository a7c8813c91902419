#pragma once
/// How a direction becomes a parameter update: SGD (with plain or Nesterov
/// momentum) and Adam, as torch.optim.SGD / torch.optim.Adam define them.
#include <memory>
#include <string>

#include "nn/network.hpp"
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

  /// Throws UsageError("update: ...") for lr ≤ 0, momentum ∉ [0,1),
  /// nesterov without momentum, betas ∉ [0,1), eps ≤ 0, weight decay < 0.
  void validate() const;
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
