#pragma once
/// A network: a list of layers built from one typed description (NetworkSpec),
/// its forward pass into the tape, and its loss (ALGORITHMS.md §1, §5).
#include <memory>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "core/types.hpp"
#include "nn/activation.hpp"
#include "nn/architecture.hpp"
#include "nn/init.hpp"
#include "nn/layers.hpp"
#include "nn/loss.hpp"
#include "nn/tape.hpp"

namespace sibp {

/// A network of layers with a loss. "Parametrised layer i" counts only the dense
/// and conv layers (i = 0 .. num_param_layers()-1, the `layers.{i}` of a
/// checkpoint); "layer k" counts every layer.
///
/// Ensures: layer k maps spec().shapes[k] to spec().shapes[k+1].
template <typename T>
class Network {
 public:
  Network() = default;
  /// Builds the layers of `spec` with zero parameters.
  explicit Network(const NetworkSpec& spec);
  /// Builds the layers of `spec` and draws their parameters with `init`: W then b
  /// of each parametrised layer in order, each column-major, so a seed fixes every
  /// parameter independently of the precision.
  Network(const NetworkSpec& spec, const Initializer& init, Rng& rng);
  Network(const Network& other);
  Network& operator=(const Network& other);
  Network(Network&&) noexcept = default;
  Network& operator=(Network&&) noexcept = default;

  const NetworkSpec& spec() const { return spec_; }
  Loss loss() const { return spec_.loss; }

  std::size_t num_layers() const { return layers_.size(); }
  const Layer<T>& layer(std::size_t k) const { return *layers_[k]; }

  std::size_t num_param_layers() const { return param_layers_.size(); }
  Params<T>& params(std::size_t i) { return *layers_[param_layers_[i]]->params(); }
  const Params<T>& params(std::size_t i) const { return *layers_[param_layers_[i]]->params(); }
  /// σ of parametrised layer i.
  Activation activation(std::size_t i) const { return layers_[param_layers_[i]]->spec().act; }
  /// The layer index k of parametrised layer i.
  std::size_t layer_index(std::size_t i) const { return param_layers_[i]; }

  Index input_size() const { return spec_.input_size(); }
  Index output_size() const { return spec_.output_size(); }
  /// Total number of weights and biases.
  Index num_parameters() const;

  /// Forward pass of X (input_size(), m), samples as columns in (C, H, W) order,
  /// recording every layer on the tape. Reuses the tape's buffers when the batch
  /// size is unchanged. Throws std::invalid_argument if X has the wrong row count.
  void forward(const Eigen::Ref<const Mat<T>>& X, Tape<T>& tape) const;

  /// The network's output F_L (output_size(), m) for X, computed on `work`.
  const Mat<T>& predict(const Eigen::Ref<const Mat<T>>& X, Tape<T>& work) const {
    forward(X, work);
    return work.output();
  }

  /// The precision of every layer's forward and backward products (nn/bf16.hpp):
  /// F32 unless set; copies keep it. Requires: F32, or T is float (else
  /// std::invalid_argument).
  void set_precision(Precision p) {
    for (auto& layer : layers_) layer->set_precision(p);
    precision_ = p;
  }
  Precision precision() const { return precision_; }

  /// True if every parameter is finite.
  bool all_finite() const;

  /// The same network in another precision.
  template <typename U>
  Network<U> cast() const {
    Network<U> out(spec_);
    for (std::size_t i = 0; i < num_param_layers(); ++i) {
      out.params(i).W = params(i).W.template cast<U>();
      out.params(i).b = params(i).b.template cast<U>();
    }
    return out;
  }

 private:
  NetworkSpec spec_;
  std::vector<std::unique_ptr<Layer<T>>> layers_;
  std::vector<std::size_t> param_layers_;
  Precision precision_ = Precision::F32;
};

}  // namespace sibp
