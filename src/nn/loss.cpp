#include "nn/loss.hpp"

#include <cmath>

#include "core/error.hpp"

namespace sibp {

Loss parse_loss(std::string_view name) {
  if (name == "cross-entropy" || name == "ce" || name == "softmax-ce" || name == "cross_entropy")
    return Loss::SoftmaxCrossEntropy;
  if (name == "squared" || name == "mse" || name == "squared-error") return Loss::SquaredError;
  throw UsageError("unknown loss '" + std::string(name) + "': expected cross-entropy or squared");
}

std::string to_string(Loss l) {
  return l == Loss::SoftmaxCrossEntropy ? "cross-entropy" : "squared";
}

template <typename T>
double loss_sum(Loss loss, const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& Y,
                Mat<T>* D) {
  if (F.rows() != Y.rows() || F.cols() != Y.cols())
    throw std::invalid_argument("loss_sum: F and Y shapes differ");
  if (D) D->resize(F.rows(), F.cols());
  double total = 0.0;
  if (loss == Loss::SquaredError) {
    if (D) {
      D->noalias() = F - Y;
      total = 0.5 * static_cast<double>(D->squaredNorm());
    } else {
      total = 0.5 * static_cast<double>((F - Y).squaredNorm());
    }
    return total;
  }
  // Softmax cross-entropy, one column at a time: log-sum-exp with the max
  // subtracted keeps large logits finite.
  for (Index j = 0; j < F.cols(); ++j) {
    const T mx = F.col(j).maxCoeff();
    T s = T(0);
    for (Index c = 0; c < F.rows(); ++c) s += std::exp(F(c, j) - mx);
    const T lse = mx + std::log(s);
    T col_loss = T(0);
    for (Index c = 0; c < F.rows(); ++c) {
      if (Y(c, j) != T(0)) col_loss -= Y(c, j) * (F(c, j) - lse);
      if (D) (*D)(c, j) = std::exp(F(c, j) - lse) - Y(c, j);
    }
    total += static_cast<double>(col_loss);
  }
  return total;
}

template <typename T>
Index count_correct(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& Y) {
  Index correct = 0;
  for (Index j = 0; j < F.cols(); ++j) {
    Index pf = 0, py = 0;
    F.col(j).maxCoeff(&pf);
    Y.col(j).maxCoeff(&py);
    correct += (pf == py);
  }
  return correct;
}

template <typename T>
std::vector<int> predict_classes(const Eigen::Ref<const Mat<T>>& F) {
  std::vector<int> out(static_cast<std::size_t>(F.cols()));
  for (Index j = 0; j < F.cols(); ++j) {
    Index p = 0;
    F.col(j).maxCoeff(&p);
    out[static_cast<std::size_t>(j)] = static_cast<int>(p);
  }
  return out;
}

#define SIBP_INSTANTIATE(T)                                                                  \
  template double loss_sum<T>(Loss, const Eigen::Ref<const Mat<T>>&,                        \
                              const Eigen::Ref<const Mat<T>>&, Mat<T>*);                     \
  template Index count_correct<T>(const Eigen::Ref<const Mat<T>>&,                          \
                                  const Eigen::Ref<const Mat<T>>&);                          \
  template std::vector<int> predict_classes<T>(const Eigen::Ref<const Mat<T>>&);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
