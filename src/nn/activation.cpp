#include "nn/activation.hpp"

#include "core/error.hpp"
#include "core/thread_pool.hpp"

namespace sibp {

Activation parse_activation(std::string_view name) {
  if (name == "relu") return Activation::ReLU;
  if (name == "leaky-relu" || name == "leaky_relu" || name == "leakyrelu") return Activation::LeakyReLU;
  if (name == "tanh") return Activation::Tanh;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "identity" || name == "linear") return Activation::Identity;
  throw UsageError("unknown activation '" + std::string(name) +
                   "': expected one of relu, leaky-relu, tanh, sigmoid, identity");
}

std::string to_string(Activation a) {
  switch (a) {
    case Activation::ReLU: return "relu";
    case Activation::LeakyReLU: return "leaky-relu";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Identity: return "identity";
  }
  return "?";
}

// Each function is element-wise, so it runs in fixed column chunks on the thread
// pool: the same values however the matrix is cut, and a convolution layer's
// (16, 78 400) matrices are not left to one thread.

template <typename T>
void activate(Activation a, const Eigen::Ref<const Mat<T>>& G, Eigen::Ref<Mat<T>> F) {
  const T slope = static_cast<T>(kLeakySlope);
  for_column_chunks(G.rows(), G.cols(), [&](std::int64_t, Index c0, Index cn) {
    const auto g = G.middleCols(c0, cn).array();
    auto f = F.middleCols(c0, cn);
    switch (a) {
      case Activation::ReLU: f = g.max(T(0)); break;
      case Activation::LeakyReLU: f = (g > T(0)).select(g, slope * g); break;
      case Activation::Tanh: f = g.tanh(); break;
      // 1/(1+e^-x) overflows harmlessly to 0 for very negative x.
      case Activation::Sigmoid: f = (T(1) + (-g).exp()).inverse(); break;
      case Activation::Identity: f = g; break;
    }
  });
}

template <typename T>
void activation_derivative(Activation a, const Eigen::Ref<const Mat<T>>& G,
                           const Eigen::Ref<const Mat<T>>& F, Eigen::Ref<Mat<T>> S) {
  const T slope = static_cast<T>(kLeakySlope);
  for_column_chunks(G.rows(), G.cols(), [&](std::int64_t, Index c0, Index cn) {
    const auto g = G.middleCols(c0, cn).array();
    const auto f = F.middleCols(c0, cn).array();
    auto s = S.middleCols(c0, cn);
    switch (a) {
      case Activation::ReLU: s = (g > T(0)).template cast<T>(); break;
      case Activation::LeakyReLU: s = (g > T(0)).select(Mat<T>::Constant(g.rows(), g.cols(), T(1)).array(), slope); break;
      case Activation::Tanh: s = T(1) - f.square(); break;
      case Activation::Sigmoid: s = f * (T(1) - f); break;
      case Activation::Identity: s.setOnes(); break;
    }
  });
}

template <typename T>
void multiply_by_derivative(Activation a, const Eigen::Ref<const Mat<T>>& G,
                            const Eigen::Ref<const Mat<T>>& F, Eigen::Ref<Mat<T>> D) {
  const T slope = static_cast<T>(kLeakySlope);
  if (a == Activation::Identity) return;
  for_column_chunks(G.rows(), G.cols(), [&](std::int64_t, Index c0, Index cn) {
    const auto g = G.middleCols(c0, cn).array();
    const auto f = F.middleCols(c0, cn).array();
    auto d = D.middleCols(c0, cn).array();
    switch (a) {
      case Activation::ReLU: d = (g > T(0)).select(d, T(0)); break;
      case Activation::LeakyReLU: d = (g > T(0)).select(d, slope * d); break;
      case Activation::Tanh: d *= T(1) - f.square(); break;
      case Activation::Sigmoid: d *= f * (T(1) - f); break;
      case Activation::Identity: break;
    }
  });
}

#define SIBP_INSTANTIATE(T)                                                                     \
  template void activate<T>(Activation, const Eigen::Ref<const Mat<T>>&, Eigen::Ref<Mat<T>>);  \
  template void activation_derivative<T>(Activation, const Eigen::Ref<const Mat<T>>&,           \
                                         const Eigen::Ref<const Mat<T>>&, Eigen::Ref<Mat<T>>);  \
  template void multiply_by_derivative<T>(Activation, const Eigen::Ref<const Mat<T>>&,          \
                                          const Eigen::Ref<const Mat<T>>&, Eigen::Ref<Mat<T>>);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
