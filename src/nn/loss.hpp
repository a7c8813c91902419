#pragma once
/// Losses on the output columns F_L (ALGORITHMS.md §1).
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace sibp {

enum class Loss { SoftmaxCrossEntropy, SquaredError };

/// Parses "cross-entropy" (or "ce", "softmax-ce") and "squared" (or "mse").
Loss parse_loss(std::string_view name);
std::string to_string(Loss l);

/// Sum over the batch's columns of ℓ(F[:,j], Y[:,j]); if D is given (same
/// shape as F) it receives the per-sample gradient ∇_f ℓ, *not* divided by m.
/// Log-softmax is computed stably (max subtracted).
/// Requires: F and Y have the same shape.
template <typename T>
double loss_sum(Loss loss, const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& Y,
                Mat<T>* D = nullptr);

/// Number of columns whose arg-max in F equals the arg-max in Y.
template <typename T>
Index count_correct(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& Y);

/// Arg-max row of each column of F.
template <typename T>
std::vector<int> predict_classes(const Eigen::Ref<const Mat<T>>& F);

}  // namespace sibp
