#pragma once
/// The shape of one sample: channels × height × width (a vector is (d, 1, 1)).
/// Data sets know it (MNIST 1×28×28, CIFAR-10 3×32×32, CSV a vector) and
/// networks are built for it (nn/architecture.hpp).
#include <string>
#include <string_view>

#include "core/types.hpp"

namespace sibp {

struct Shape {
  Index channels = 1;
  Index height = 1;
  Index width = 1;

  Index size() const { return channels * height * width; }
  Index pixels() const { return height * width; }
  bool is_vector() const { return height == 1 && width == 1; }
  /// "1x28x28", or "784" for a vector.
  std::string to_string() const;
  /// "1x28x28", and "784x1x1" for a vector: where a message compares a shape
  /// with a kernel or a window, "784" alone would read as a width.
  std::string dims_string() const;
  /// Parses "C", "CxHxW" (or "C,H,W"). Throws UsageError naming `what` otherwise.
  static Shape parse(std::string_view text, std::string_view what = "input shape");
  bool operator==(const Shape&) const = default;
};

}  // namespace sibp
