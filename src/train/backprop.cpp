#include "train/backprop.hpp"

#include <cmath>

namespace sibp {

template <typename T>
double backprop_gradients(const Network<T>& net, Tape<T>& tape, const Eigen::Ref<const Mat<T>>& Y,
                          Gradients<T>& grads, BackpropWork<T>& w, Index mean_over) {
  const Index m = tape.batch_size();
  const Index m_mean = mean_over > 0 ? mean_over : m;
  grads.resize_like(net);
  // Δ_L = ∇_f ℓ / m: the gradient of the batch mean.
  const double loss = loss_sum<T>(net.loss(), tape.output(), Y, &w.delta) / static_cast<double>(m_mean);
  w.delta *= T(1) / static_cast<T>(m_mean);
  const std::size_t lowest = net.layer_index(0);
  std::size_t i = net.num_param_layers();
  for (std::size_t k = net.num_layers(); k-- > lowest;) {
    const Layer<T>& layer = net.layer(k);
    LayerRecord<T>& rec = tape.layers[k];
    if (layer.params()) {
      --i;
      multiply_by_derivative<T>(layer.spec().act, rec.G, rec.F, w.delta);  // δ = σ'(G) ⊙ Δ
      // [∂W ∂b] = δ P̃ᵀ = [δ Pᵀ, δ 1], in the layer's precision
      layer.weight_gradient(tape.input_of(k), rec, w.delta, grads.dW[i], grads.db[i].data());
    }
    if (k > lowest) {
      layer.backward_input(rec, w.delta, m, w.delta_below, w.unfolded);
      w.delta.swap(w.delta_below);
    }
  }
  return loss;
}

template <typename T>
StepReport BackProp<T>::step(Network<T>& net, const Batch<T>& batch) {
  StepReport report;
  net.forward(batch.X, tape_);
  report.loss = backprop_gradients<T>(net, tape_, batch.Y, grads_, work_, batch.total_size());
  if (comm_->size() > 1) {
    // §6: Σ over shards of each shard's part of the mean's gradient, in one
    // allreduce; the loss rides along (a NaN anywhere stops every rank).
    grads_.db.emplace_back(Vec<T>::Constant(1, static_cast<T>(report.loss)));
    allreduce_tensors<T>(*comm_, grads_.dW, grads_.db, buffer_, "back-propagation gradients");
    report.loss = static_cast<double>(grads_.db.back()[0]);
    grads_.db.pop_back();
  }
  if (!std::isfinite(report.loss)) {
    report.finite = false;
    return report;
  }
  rule_->step(net, grads_);
  report.finite = net.all_finite();
  return report;
}

template double backprop_gradients<float>(const Network<float>&, Tape<float>&,
                                          const Eigen::Ref<const Mat<float>>&, Gradients<float>&,
                                          BackpropWork<float>&, Index);
template double backprop_gradients<double>(const Network<double>&, Tape<double>&,
                                           const Eigen::Ref<const Mat<double>>&, Gradients<double>&,
                                           BackpropWork<double>&, Index);
template class BackProp<float>;
template class BackProp<double>;

}  // namespace sibp
