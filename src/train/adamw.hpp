#pragma once
/// The AdamW unit: Adam with decoupled weight decay (Loshchilov & Hutter 2019),
/// as torch.optim.AdamW; --algo adamw.
#include <memory>
#include <string>

#include "core/communicator.hpp"
#include "nn/architecture.hpp"
#include "train/update_rule.hpp"

namespace sibp {

/// Options of AdamW; defaults are torch.optim.AdamW's.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  ///< p ← (1 − lr·wd) p before the Adam step

  /// Throws OptionError naming the field: lr, eps ≤ 0, betas ∉ [0,1), weight decay < 0.
  void validate() const;
};

/// torch.optim.AdamW. Buffers 1 and 2: the first and second moments.
template <typename T>
class AdamW final : public UpdatePolicy<T> {
 public:
  using typename UpdatePolicy<T>::Param;
  using typename UpdatePolicy<T>::Grad;
  using typename UpdatePolicy<T>::Buffers;
  /// Throws OptionError if options.validate() fails.
  explicit AdamW(const AdamWOptions& options);
  std::string name() const override { return "adamw"; }

 protected:
  void update(Param p, Grad g, Buffers& buf) override;

 private:
  AdamWOptions o_;
};

/// The AlgorithmOptions interface (train/algorithms.hpp): BackProp with AdamW.
std::string algorithm_name(const AdamWOptions& options);
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const AdamWOptions& options, const NetworkSpec& spec,
                                                      Communicator& comm);

}  // namespace sibp
