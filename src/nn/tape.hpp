#pragma once
/// The forward tape: every layer's input and pre-activation for one batch.
///
/// Every training algorithm walks it backwards; keeping it in one named
/// struct (as llm.c does) lets the buffers be reused batch after batch, so
/// the per-batch loop does not allocate once shapes are settled.
#include <vector>

#include "core/types.hpp"

namespace sibp {

template <typename T>
struct Tape {
  /// F[0] = X, the batch input, (d0, m); F[l] = σ_l(G[l]), (d_l, m), l = 1..L.
  /// F[L] are the network's outputs (logits for cross-entropy).
  std::vector<Mat<T>> F;
  /// G[l] = W_l F[l-1] + b_l 1ᵀ, (d_l, m), l = 1..L; G[0] is unused (empty).
  std::vector<Mat<T>> G;

  Index batch_size() const { return F.empty() ? 0 : F[0].cols(); }
  std::size_t num_layers() const { return G.empty() ? 0 : G.size() - 1; }
};

}  // namespace sibp
