#pragma once
/// Checks of float results shared by the kernel tests: bit-identity, and the
/// worst-case float32 rounding bound of a sum against its exact value.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "core/types.hpp"

namespace sibp::testing {

/// Unit roundoff of float32, u = 2⁻²⁴.
inline constexpr double kU = 0.5 * std::numeric_limits<float>::epsilon();

/// Same shape and the same bytes.
template <typename M1, typename M2>
bool bitwise_equal(const M1& a, const M2& b) {
  using Scalar = typename M1::Scalar;
  static_assert(std::is_same_v<Scalar, typename M2::Scalar>, "bitwise_equal compares matrices of one scalar type");
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(Scalar) * static_cast<std::size_t>(a.size())) == 0;
}

/// Every entry of `got` within (terms + 2)·u·scale of `exact`, plus 4u of the
/// exact value for a final rounding on top of the sum (`scale` = the sum of
/// the absolute values of the `terms` summands of each entry).
inline void expect_within_rounding(const Mat<float>& got, const Mat<double>& exact, const Mat<double>& scale,
                                   Index terms, const std::string& what) {
  ASSERT_EQ(got.rows(), exact.rows()) << what;
  ASSERT_EQ(got.cols(), exact.cols()) << what;
  const Mat<double> err = (got.cast<double>() - exact).cwiseAbs();
  const Mat<double> bound =
      (static_cast<double>(terms + 2) * kU * scale + 4 * kU * exact.cwiseAbs()).array().max(1e-30).matrix();
  EXPECT_TRUE((err.array() <= bound.array()).all())
      << what << ": largest error / bound " << (err.array() / bound.array()).maxCoeff();
}

}  // namespace sibp::testing
