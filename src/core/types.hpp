#pragma once
/// Scalar and matrix aliases shared by every module.
///
/// Samples are columns (ALGORITHMS.md §1): a batch X is (d0, m). Every
/// numerical type is a template on its scalar `T`, instantiated for float
/// (training default, for speed) and double (golden tests, `--dtype f64`).
#include <Eigen/Core>
#include <cstddef>
#include <cstdint>

namespace sibp {

template <typename T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <typename T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <typename T>
using RowVec = Eigen::Matrix<T, 1, Eigen::Dynamic>;

using Index = Eigen::Index;

/// Floating-point precision a run computes in.
enum class DType { F32, F64 };

}  // namespace sibp
