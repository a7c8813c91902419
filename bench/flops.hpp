#pragma once
/// Floating-point operation counts of back propagation's GEMMs, shared by
/// the benchmarks so the step and the raw GEMMs are measured in one unit.
#include <vector>

#include "core/types.hpp"

namespace sibp::bench {

/// GEMM flops (2·m·n·k each) of one forward + backward pass of a dense
/// network with `widths` at batch `m`: per layer W·F (forward) and δ·Fᵀ
/// (weight gradient); Wᵀ·δ for every layer except the first (backprop
/// does not compute the input's gradient). Element-wise work is not counted.
inline double backprop_gemm_flops(const std::vector<Index>& widths, Index m) {
  double flops = 0;
  for (std::size_t l = 1; l < widths.size(); ++l) {
    const double out = static_cast<double>(widths[l]), in = static_cast<double>(widths[l - 1]);
    flops += 2.0 * out * in * static_cast<double>(m) * (l == 1 ? 2.0 : 3.0);
  }
  return flops;
}

}  // namespace sibp::bench
