#include "linalg/layer_input.hpp"

#include <stdexcept>
#include <string>

#include "linalg/gemm.hpp"

namespace sibp {

template <typename T>
void DenseInput<T>::times(const Eigen::Ref<const Mat<T>>& X, const T* b, Mat<T>& out) const {
  if (X.cols() != F_.rows())
    throw std::invalid_argument("DenseInput::times: X has " + std::to_string(X.cols()) + " columns, F " +
                                std::to_string(F_.rows()) + " rows");
  out.resize(X.rows(), F_.cols());
  gemm<T>(X, Trans::No, F_, Trans::No, out);
  if (b) out.colwise() += Eigen::Map<const Vec<T>>(b, X.rows());
}

template <typename T>
void DenseInput<T>::times_transposed(const Eigen::Ref<const Mat<T>>& Y, Eigen::Ref<Mat<T>> out, T* ones) const {
  if (Y.cols() != F_.cols() || out.rows() != Y.rows() || out.cols() != F_.rows())
    throw std::invalid_argument("DenseInput::times_transposed: expected Y (r, " + std::to_string(F_.cols()) +
                                ") and out (r, " + std::to_string(F_.rows()) + "), got Y " +
                                std::to_string(Y.rows()) + "x" + std::to_string(Y.cols()) + ", out " +
                                std::to_string(out.rows()) + "x" + std::to_string(out.cols()));
  gemm<T>(Y, Trans::No, F_, Trans::Yes, out);
  if (ones) Eigen::Map<Vec<T>>(ones, Y.rows()).noalias() = Y.rowwise().sum();
}

template class DenseInput<float>;
template class DenseInput<double>;

}  // namespace sibp
