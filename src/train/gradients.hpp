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
  std::vector<Mat<T>> dW;  // dW[i] has the shape of parametrised layer i's W
  std::vector<Vec<T>> db;  // db[i] has the shape of parametrised layer i's b

  /// Sizes the buffers for `net` (no-op if already sized).
  void resize_like(const Network<T>& net) {
    dW.resize(net.num_param_layers());
    db.resize(net.num_param_layers());
    for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
      dW[i].resize(net.params(i).W.rows(), net.params(i).W.cols());
      db[i].resize(net.params(i).b.size());
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
