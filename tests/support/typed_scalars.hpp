#pragma once
/// Typed GoogleTest suites over both precisions the library is built for.
#include <gtest/gtest.h>

namespace sibp::testing {

/// The scalar types that Network<T>, Mat<T> and the algorithms are instantiated for.
using Scalars = ::testing::Types<float, double>;

}  // namespace sibp::testing

/// Declares the typed suite `Suite` run once over float and once over double:
/// its tests are TYPED_TEST(Suite, Name), with the scalar type as TypeParam.
#define SIBP_SCALAR_TYPED_SUITE(Suite)     \
  template <typename T>                    \
  class Suite : public ::testing::Test {}; \
  TYPED_TEST_SUITE(Suite, ::sibp::testing::Scalars)
