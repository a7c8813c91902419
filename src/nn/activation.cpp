#include "nn/activation.hpp"

#include "core/error.hpp"

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

template <typename T>
void activate(Activation a, const Eigen::Ref<const Mat<T>>& G, Eigen::Ref<Mat<T>> F) {
  const T slope = static_cast<T>(kLeakySlope);
  switch (a) {
    case Activation::ReLU: F = G.array().max(T(0)); break;
    case Activation::LeakyReLU:
      F = (G.array() > T(0)).select(G.array(), slope * G.array());
      break;
    case Activation::Tanh: F = G.array().tanh(); break;
    case Activation::Sigmoid:
      // 1/(1+e^-x) overflows harmlessly to 0 for very negative x.
      F = (T(1) + (-G.array()).exp()).inverse();
      break;
    case Activation::Identity: F = G; break;
  }
}

template <typename T>
void activation_derivative(Activation a, const Eigen::Ref<const Mat<T>>& G,
                           const Eigen::Ref<const Mat<T>>& F, Eigen::Ref<Mat<T>> S) {
  const T slope = static_cast<T>(kLeakySlope);
  switch (a) {
    case Activation::ReLU: S = (G.array() > T(0)).template cast<T>(); break;
    case Activation::LeakyReLU:
      S = (G.array() > T(0)).select(Mat<T>::Constant(G.rows(), G.cols(), T(1)).array(), slope);
      break;
    case Activation::Tanh: S = T(1) - F.array().square(); break;
    case Activation::Sigmoid: S = F.array() * (T(1) - F.array()); break;
    case Activation::Identity: S.setOnes(); break;
  }
}

template <typename T>
void multiply_by_derivative(Activation a, const Eigen::Ref<const Mat<T>>& G,
                            const Eigen::Ref<const Mat<T>>& F, Eigen::Ref<Mat<T>> D) {
  const T slope = static_cast<T>(kLeakySlope);
  switch (a) {
    case Activation::ReLU: D = (G.array() > T(0)).select(D.array(), T(0)); break;
    case Activation::LeakyReLU: D = (G.array() > T(0)).select(D.array(), slope * D.array()); break;
    case Activation::Tanh: D.array() *= T(1) - F.array().square(); break;
    case Activation::Sigmoid: D.array() *= F.array() * (T(1) - F.array()); break;
    case Activation::Identity: break;
  }
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
