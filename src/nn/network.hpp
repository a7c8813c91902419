#pragma once
/// A fully connected network (ALGORITHMS.md §1) and its forward pass.
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "core/types.hpp"
#include "nn/activation.hpp"
#include "nn/init.hpp"
#include "nn/loss.hpp"
#include "nn/tape.hpp"

namespace sibp {

/// One dense layer: G = W F_in + b 1ᵀ, F_out = σ(G).
template <typename T>
struct Dense {
  Mat<T> W;  // (d_out, d_in)
  Vec<T> b;  // (d_out)
  Activation act = Activation::ReLU;

  Index in_features() const { return W.cols(); }
  Index out_features() const { return W.rows(); }
};

/// Architecture of a network: widths d_0..d_L, hidden activation, loss.
struct NetworkSpec {
  std::vector<Index> widths;                   ///< d_0 (input) .. d_L (classes)
  Activation hidden = Activation::ReLU;        ///< σ_1..σ_{L-1}
  Activation output = Activation::Identity;    ///< σ_L (identity: logits)
  Loss loss = Loss::SoftmaxCrossEntropy;

  /// Parses "784-500-10" into widths. Throws UsageError naming the text
  /// unless there are at least two positive integers.
  static std::vector<Index> parse_widths(const std::string& text);
  std::string widths_string() const;
  /// Throws UsageError if fewer than 2 widths or any width < 1.
  void validate() const;
};

/// A network of L dense layers with a loss.
///
/// Ensures: layers_[l].W is (d_{l+1}, d_l) for the spec's widths.
template <typename T>
class Network {
 public:
  Network() = default;
  /// Allocates layers for `spec` and draws their parameters with `init`.
  Network(const NetworkSpec& spec, const Initializer& init, Rng& rng);
  /// Allocates zero parameters for `spec`.
  explicit Network(const NetworkSpec& spec);

  std::size_t num_layers() const { return layers_.size(); }
  Dense<T>& layer(std::size_t l) { return layers_[l]; }
  const Dense<T>& layer(std::size_t l) const { return layers_[l]; }
  std::vector<Dense<T>>& layers() { return layers_; }
  const std::vector<Dense<T>>& layers() const { return layers_; }
  const NetworkSpec& spec() const { return spec_; }
  Loss loss() const { return spec_.loss; }
  Index input_size() const { return layers_.front().in_features(); }
  Index output_size() const { return layers_.back().out_features(); }
  /// Total number of weights and biases.
  Index num_parameters() const;

  /// Forward pass of X (d0, m) recording every F and G on the tape.
  /// Reuses the tape's buffers when the batch size is unchanged.
  void forward(const Eigen::Ref<const Mat<T>>& X, Tape<T>& tape) const;

  /// Network output F_L for X, through two ping-pong buffers (no tape).
  void predict(const Eigen::Ref<const Mat<T>>& X, Mat<T>& out, Mat<T>& scratch) const;

  /// True if every parameter is finite.
  bool all_finite() const;

  /// The same network in another precision.
  template <typename U>
  Network<U> cast() const {
    Network<U> out(spec_);
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      out.layer(l).W = layers_[l].W.template cast<U>();
      out.layer(l).b = layers_[l].b.template cast<U>();
    }
    return out;
  }

 private:
  NetworkSpec spec_;
  std::vector<Dense<T>> layers_;
};

}  // namespace sibp
