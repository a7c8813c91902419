#pragma once
/// The forward tape: what every layer computed for one batch.
///
/// Every training algorithm walks it backwards; keeping it in one named struct
/// (as llm.c does) lets the buffers be reused batch after batch, so the
/// per-batch loop does not allocate once shapes are settled.
#include <cstdint>
#include <vector>

#include "core/types.hpp"

namespace sibp {

/// One layer's part of the tape. Which members a layer fills is said per layer
/// kind (nn/layers.hpp); shapes are for a batch of m samples, n = m·H'·W' the
/// number of output pixels of a convolution (n = m for a dense layer).
template <typename T>
struct LayerRecord {
  /// conv on the reference backend: (c_in·k·k, n) patch matrix of the input (im2col);
  /// empty on the fast backend and for dense layers (P is the input)
  Mat<T> P;
  Mat<T> G;  ///< dense/conv: (d_out, n) pre-activation W·P + b1ᵀ
  Mat<T> F;  ///< the layer's output: σ(G) for dense/conv, in the layout of its shape
  std::vector<Index> argmax;  ///< max pool, reference: for each output entry, the input entry it came from
  /// 2×2 max pool, fast backend: for each output entry, the winner's place in its window (dy·2 + dx)
  std::vector<std::uint8_t> window_argmax;
};

template <typename T>
struct Tape {
  /// The batch input as the first layer reads it: (d0, m) vectors, or (C, m·H·W)
  /// when the first layer is a convolution or pooling.
  Mat<T> input;
  std::vector<LayerRecord<T>> layers;  ///< one per layer of the network
  Index m = 0;                         ///< batch size

  Index batch_size() const { return m; }
  /// The input of layer k (the network input, or layer k-1's output).
  const Mat<T>& input_of(std::size_t k) const { return k == 0 ? input : layers[k - 1].F; }
  /// The network's output F_L, (classes, m).
  const Mat<T>& output() const { return layers.back().F; }
};

}  // namespace sibp
