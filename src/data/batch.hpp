#pragma once
/// A mini-batch in the layout every algorithm consumes.
#include "core/types.hpp"

namespace sibp {

template <typename T>
struct Batch {
  Mat<T> X;  // (d0, m) inputs, one sample per column
  Mat<T> Y;  // (C, m) one-hot targets
  Index size() const { return X.cols(); }
};

}  // namespace sibp
