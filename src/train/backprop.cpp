#include "train/backprop.hpp"

#include <cmath>

namespace sibp {

template <typename T>
double backprop_gradients(const Network<T>& net, Tape<T>& tape, const Eigen::Ref<const Mat<T>>& Y,
                          Gradients<T>& grads, Mat<T>& delta, Mat<T>& delta_below) {
  const std::size_t L = net.num_layers();
  const Index m = tape.batch_size();
  grads.resize_like(net);
  // Δ_L = ∇_f ℓ / m: the gradient of the batch mean.
  const double loss = loss_sum<T>(net.loss(), tape.F[L], Y, &delta) / static_cast<double>(m);
  delta *= T(1) / static_cast<T>(m);
  for (std::size_t l = L; l >= 1; --l) {
    const Dense<T>& layer = net.layer(l - 1);
    multiply_by_derivative<T>(layer.act, tape.G[l], tape.F[l], delta);  // δ_l = σ'(G_l) ⊙ Δ_l
    grads.dW[l - 1].noalias() = delta * tape.F[l - 1].transpose();
    grads.db[l - 1].noalias() = delta.rowwise().sum();
    if (l > 1) {
      delta_below.resize(layer.W.cols(), m);
      delta_below.noalias() = layer.W.transpose() * delta;
      delta.swap(delta_below);
    }
  }
  return loss;
}

template <typename T>
StepReport BackProp<T>::step(Network<T>& net, const Batch<T>& batch) {
  StepReport report;
  net.forward(batch.X, tape_);
  report.loss = backprop_gradients<T>(net, tape_, batch.Y, grads_, delta_, delta_below_);
  if (!std::isfinite(report.loss)) {
    report.finite = false;
    return report;
  }
  rule_.step(net, grads_);
  report.finite = net.all_finite();
  return report;
}

template <typename T>
std::string BackProp<T>::name() const {
  const auto& o = rule_.options();
  if (o.kind == UpdateKind::Adam) return "adam";
  if (o.momentum > 0) return o.nesterov ? "nesterov" : "momentum";
  return "sgd";
}

template double backprop_gradients<float>(const Network<float>&, Tape<float>&,
                                          const Eigen::Ref<const Mat<float>>&, Gradients<float>&,
                                          Mat<float>&, Mat<float>&);
template double backprop_gradients<double>(const Network<double>&, Tape<double>&,
                                           const Eigen::Ref<const Mat<double>>&, Gradients<double>&,
                                           Mat<double>&, Mat<double>&);
template class BackProp<float>;
template class BackProp<double>;

}  // namespace sibp
