#pragma once
/// Element-wise activations σ and their derivatives σ' (ALGORITHMS.md §1).
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace sibp {

enum class Activation { ReLU, LeakyReLU, Tanh, Sigmoid, Identity };

/// Slope of leaky ReLU for negative inputs (PyTorch's default).
inline constexpr double kLeakySlope = 0.01;

/// Parses "relu", "leaky-relu" (or "leaky_relu"), "tanh", "sigmoid",
/// "identity" (or "linear"). Throws UsageError listing the choices otherwise.
Activation parse_activation(std::string_view name);
std::string to_string(Activation a);

/// F = σ(G). F and G may alias.
template <typename T>
void activate(Activation a, const Eigen::Ref<const Mat<T>>& G, Eigen::Ref<Mat<T>> F);

/// S = σ'(G), given G and F = σ(G) (tanh and sigmoid use F; σ'(0) = 0 for ReLU).
template <typename T>
void activation_derivative(Activation a, const Eigen::Ref<const Mat<T>>& G,
                           const Eigen::Ref<const Mat<T>>& F, Eigen::Ref<Mat<T>> S);

/// D = D ⊙ σ'(G) in place, the back-propagation product, without a temporary.
template <typename T>
void multiply_by_derivative(Activation a, const Eigen::Ref<const Mat<T>>& G,
                            const Eigen::Ref<const Mat<T>>& F, Eigen::Ref<Mat<T>> D);

}  // namespace sibp
