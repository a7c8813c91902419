#include "nn/network.hpp"

#include <cmath>

#include "core/error.hpp"

namespace sibp {

template <typename T>
Network<T>::Network(const NetworkSpec& spec) : spec_(spec) {
  if (spec_.layers.empty() || spec_.shapes.size() != spec_.layers.size() + 1)
    throw UsageError("network: the spec has no layers or was not resolved (use NetworkSpec::build)");
  for (std::size_t k = 0; k < spec_.layers.size(); ++k) {
    layers_.push_back(make_layer<T>(spec_.layers[k], spec_.shapes[k], spec_.shapes[k + 1]));
    if (spec_.layers[k].has_parameters()) param_layers_.push_back(k);
  }
}

template <typename T>
Network<T>::Network(const NetworkSpec& spec, const Initializer& init, Rng& rng) : Network(spec) {
  for (std::size_t i = 0; i < num_param_layers(); ++i) {
    Params<T>& p = params(i);
    const LayerSpec& L = spec_.layers[param_layers_[i]];
    // Fans as PyTorch counts them: a kernel's every tap is an input (and an output).
    const Index taps = L.kind == LayerKind::Conv2d ? L.kernel * L.kernel : 1;
    const double fan_in = static_cast<double>(p.W.cols());
    const double fan_out = static_cast<double>(p.W.rows() * taps);
    switch (init.kind) {
      case Initializer::Kind::Normal:
        for (Index j = 0; j < p.W.size(); ++j) p.W.data()[j] = static_cast<T>(init.std * rng.normal());
        for (Index j = 0; j < p.b.size(); ++j) p.b[j] = static_cast<T>(init.std * rng.normal());
        break;
      case Initializer::Kind::He: {
        const double s = std::sqrt(2.0 / fan_in);
        for (Index j = 0; j < p.W.size(); ++j) p.W.data()[j] = static_cast<T>(s * rng.normal());
        p.b.setZero();
        break;
      }
      case Initializer::Kind::Glorot: {
        const double a = std::sqrt(6.0 / (fan_in + fan_out));
        for (Index j = 0; j < p.W.size(); ++j) p.W.data()[j] = static_cast<T>(a * (2.0 * rng.uniform() - 1.0));
        p.b.setZero();
        break;
      }
    }
  }
}

template <typename T>
Network<T>::Network(const Network& other)
    : spec_(other.spec_), param_layers_(other.param_layers_), precision_(other.precision_) {
  for (const auto& layer : other.layers_) layers_.push_back(layer->clone());
}

template <typename T>
Network<T>& Network<T>::operator=(const Network& other) {
  if (this != &other) *this = Network(other);
  return *this;
}

template <typename T>
Index Network<T>::num_parameters() const {
  Index n = 0;
  for (std::size_t i = 0; i < num_param_layers(); ++i) n += params(i).W.size() + params(i).b.size();
  return n;
}

template <typename T>
void Network<T>::forward(const Eigen::Ref<const Mat<T>>& X, Tape<T>& tape) const {
  if (X.rows() != input_size())
    throw std::invalid_argument("Network::forward: input has " + std::to_string(X.rows()) +
                                " rows, network expects " + std::to_string(input_size()));
  const Index m = X.cols();
  tape.m = m;
  // Data come as vectors; a first convolution, pooling or flatten reads the image layout.
  if (spec_.layers.front().kind != LayerKind::Dense && !spec_.input.is_vector())
    vectors_to_image<T>(X, spec_.input, tape.input);
  else
    tape.input = X;
  tape.layers.resize(layers_.size());
  for (std::size_t k = 0; k < layers_.size(); ++k) layers_[k]->forward(tape.input_of(k), m, tape.layers[k]);
}

template <typename T>
bool Network<T>::all_finite() const {
  // x·0 is 0 for finite x and NaN for ±Inf or NaN, so the sum is 0 exactly when
  // every entry is finite: one vectorised pass, where Eigen's allFinite() is a
  // scalar loop (measured on 500×784 floats: 21 µs against 220 µs, i.e. 0.2 ms
  // of the 1.5 ms SGD step of 784-500-10 at batch 100).
  const auto finite = [](const auto& M) { return (M.array() * T(0)).sum() == T(0); };
  for (std::size_t i = 0; i < num_param_layers(); ++i)
    if (!finite(params(i).W) || !finite(params(i).b)) return false;
  return true;
}

template class Network<float>;
template class Network<double>;

}  // namespace sibp
