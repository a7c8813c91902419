#pragma once
/// Per-layer parameter directions, in the network's layer order.
#include <vector>

#include "core/types.hpp"
#include "nn/network.hpp"

namespace sibp {

/// What an algorithm hands to an UpdateRule: for back propagation the
/// gradient of the batch-mean loss; for ProxProp θ^k − θ* (ALGORITHMS.md §4).
template <typename T>
struct Gradients {
  std::vector<Mat<T>> dW;  // dW[l] has the shape of layer l's W
  std::vector<Vec<T>> db;  // db[l] has the shape of layer l's b

  /// Sizes the buffers for `net` (no-op if already sized).
  void resize_like(const Network<T>& net) {
    dW.resize(net.num_layers());
    db.resize(net.num_layers());
    for (std::size_t l = 0; l < net.num_layers(); ++l) {
      dW[l].resize(net.layer(l).W.rows(), net.layer(l).W.cols());
      db[l].resize(net.layer(l).b.size());
    }
  }
  /// Euclidean norm over every entry.
  double norm() const {
    double s = 0;
    for (const auto& m : dW) s += static_cast<double>(m.squaredNorm());
    for (const auto& v : db) s += static_cast<double>(v.squaredNorm());
    return std::sqrt(s);
  }
};

}  // namespace sibp
