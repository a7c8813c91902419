#pragma once
/// A mini-batch in the layout every algorithm consumes.
#include "core/types.hpp"

namespace sibp {

template <typename T>
struct Batch {
  Mat<T> X;  // (d0, m) inputs, one sample per column
  Mat<T> Y;  // (C, m) one-hot targets
  /// Data parallelism (ALGORITHMS.md §6): the size of the whole batch this shard
  /// belongs to, whose mean loss the algorithms follow; 0: this batch is whole.
  Index global_size = 0;
  Index size() const { return X.cols(); }
  /// The m of the batch-mean loss: the whole batch's size.
  Index total_size() const { return global_size > 0 ? global_size : size(); }
};

}  // namespace sibp
