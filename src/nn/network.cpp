#include "nn/network.hpp"

#include <cmath>
#include <sstream>

#include "core/error.hpp"

namespace sibp {

std::vector<Index> NetworkSpec::parse_widths(const std::string& text) {
  std::vector<Index> widths;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, '-')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || v < 1)
      throw UsageError("--layers '" + text + "': expected widths like 784-500-10 (positive integers joined by '-'), got '" + part + "'");
    widths.push_back(static_cast<Index>(v));
  }
  if (widths.size() < 2)
    throw UsageError("--layers '" + text + "': expected at least an input and an output width, e.g. 784-10");
  return widths;
}

std::string NetworkSpec::widths_string() const {
  std::string s;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    if (i) s += '-';
    s += std::to_string(widths[i]);
  }
  return s;
}

void NetworkSpec::validate() const {
  if (widths.size() < 2) throw UsageError("network: needs at least two widths (input and output)");
  for (Index w : widths)
    if (w < 1) throw UsageError("network: every width must be positive, got " + std::to_string(w));
}

template <typename T>
Network<T>::Network(const NetworkSpec& spec) : spec_(spec) {
  spec_.validate();
  const std::size_t L = spec.widths.size() - 1;
  layers_.resize(L);
  for (std::size_t l = 0; l < L; ++l) {
    layers_[l].W = Mat<T>::Zero(spec.widths[l + 1], spec.widths[l]);
    layers_[l].b = Vec<T>::Zero(spec.widths[l + 1]);
    layers_[l].act = (l + 1 == L) ? spec.output : spec.hidden;
  }
}

template <typename T>
Network<T>::Network(const NetworkSpec& spec, const Initializer& init, Rng& rng) : Network(spec) {
  // Draw in the authors' order (W1, b1, W2, b2, ...), each column-major, so
  // a seed fixes every parameter independently of the precision.
  for (auto& layer : layers_) {
    const double fan_in = static_cast<double>(layer.W.cols());
    const double fan_out = static_cast<double>(layer.W.rows());
    switch (init.kind) {
      case Initializer::Kind::Normal:
        for (Index i = 0; i < layer.W.size(); ++i) layer.W.data()[i] = static_cast<T>(init.std * rng.normal());
        for (Index i = 0; i < layer.b.size(); ++i) layer.b[i] = static_cast<T>(init.std * rng.normal());
        break;
      case Initializer::Kind::He: {
        const double s = std::sqrt(2.0 / fan_in);
        for (Index i = 0; i < layer.W.size(); ++i) layer.W.data()[i] = static_cast<T>(s * rng.normal());
        layer.b.setZero();
        break;
      }
      case Initializer::Kind::Glorot: {
        const double a = std::sqrt(6.0 / (fan_in + fan_out));
        for (Index i = 0; i < layer.W.size(); ++i)
          layer.W.data()[i] = static_cast<T>(a * (2.0 * rng.uniform() - 1.0));
        layer.b.setZero();
        break;
      }
    }
  }
}

template <typename T>
Index Network<T>::num_parameters() const {
  Index n = 0;
  for (const auto& layer : layers_) n += layer.W.size() + layer.b.size();
  return n;
}

template <typename T>
void Network<T>::forward(const Eigen::Ref<const Mat<T>>& X, Tape<T>& tape) const {
  if (X.rows() != input_size())
    throw std::invalid_argument("Network::forward: input has " + std::to_string(X.rows()) +
                                " rows, network expects " + std::to_string(input_size()));
  const std::size_t L = layers_.size();
  tape.F.resize(L + 1);
  tape.G.resize(L + 1);
  tape.F[0] = X;
  for (std::size_t l = 0; l < L; ++l) {
    const Dense<T>& layer = layers_[l];
    Mat<T>& G = tape.G[l + 1];
    G.resize(layer.W.rows(), X.cols());
    G.noalias() = layer.W * tape.F[l];
    G.colwise() += layer.b;
    tape.F[l + 1].resize(G.rows(), G.cols());
    activate<T>(layer.act, G, tape.F[l + 1]);
  }
}

template <typename T>
void Network<T>::predict(const Eigen::Ref<const Mat<T>>& X, Mat<T>& out, Mat<T>& scratch) const {
  if (X.rows() != input_size())
    throw std::invalid_argument("Network::predict: input has " + std::to_string(X.rows()) +
                                " rows, network expects " + std::to_string(input_size()));
  // Alternate between the two buffers so that the last layer writes `out`.
  const std::size_t L = layers_.size();
  for (std::size_t l = 0; l < L; ++l) {
    Mat<T>& dst = ((L - 1 - l) % 2 == 0) ? out : scratch;
    const Dense<T>& layer = layers_[l];
    dst.resize(layer.W.rows(), X.cols());
    if (l == 0)
      dst.noalias() = layer.W * X;
    else
      dst.noalias() = layer.W * (((L - l) % 2 == 0) ? out : scratch);
    dst.colwise() += layer.b;
    activate<T>(layer.act, dst, dst);
  }
}

template <typename T>
bool Network<T>::all_finite() const {
  for (const auto& layer : layers_)
    if (!layer.W.allFinite() || !layer.b.allFinite()) return false;
  return true;
}

template class Network<float>;
template class Network<double>;

}  // namespace sibp
