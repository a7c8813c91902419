#include "train/fit.hpp"

#include <chrono>
#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "train/backprop.hpp"

namespace sibp {

void FitOptions::validate() const {
  if (epochs < 1) throw UsageError("--epochs must be a positive integer, got " + std::to_string(epochs));
  if (batch_size < 1) throw UsageError("--batch must be a positive integer, got " + std::to_string(batch_size));
  if (eval_every < 0) throw UsageError("--eval-every must be >= 0, got " + std::to_string(eval_every));
}

Index evaluation_chunk(const NetworkSpec& spec, Index at_most) {
  // A convolution's patch matrices make its tape far larger per sample than an
  // MLP's: keep one chunk's tape near 256 MB of floats.
  constexpr Index kBudgetFloats = Index(64) << 20;
  const Index per_sample = std::max<Index>(1, spec.activation_floats_per_sample());
  return std::clamp<Index>(kBudgetFloats / per_sample, 1, std::max<Index>(1, at_most));
}

template <typename T>
EvalResult evaluate(const Network<T>& net, const Dataset& data, const Normalization& norm, Index chunk) {
  EvalResult r;
  const Index n = data.size();
  if (n == 0) return r;
  Batch<T> batch;
  Tape<T> work;
  double loss = 0;
  Index correct = 0;
  chunk = evaluation_chunk(net.spec(), chunk);
  for (Index begin = 0; begin < n; begin += chunk) {
    const Index end = std::min(n, begin + chunk);
    data.make_range_batch<T>(begin, end, norm, batch);
    const Mat<T>& out = net.predict(batch.X, work);
    loss += loss_sum<T>(net.loss(), out, batch.Y);
    correct += count_correct<T>(out, batch.Y);
  }
  r.loss = loss / static_cast<double>(n);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return r;
}

template <typename T>
double full_gradient_norm(const Network<T>& net, const Dataset& data, const Normalization& norm,
                          Index chunk) {
  const Index n = data.size();
  if (n == 0) return 0;
  Batch<T> batch;
  Tape<T> tape;
  Gradients<T> part, total;
  BackpropWork<T> work;
  total.resize_like(net);
  for (auto& m : total.dW) m.setZero();
  for (auto& v : total.db) v.setZero();
  chunk = evaluation_chunk(net.spec(), chunk);
  for (Index begin = 0; begin < n; begin += chunk) {
    const Index end = std::min(n, begin + chunk);
    data.make_range_batch<T>(begin, end, norm, batch);
    net.forward(batch.X, tape);
    backprop_gradients<T>(net, tape, batch.Y, part, work);
    // Each chunk's gradient is of its own mean; weight it by its share.
    const T w = static_cast<T>(static_cast<double>(end - begin) / static_cast<double>(n));
    for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
      total.dW[i] += w * part.dW[i];
      total.db[i] += w * part.db[i];
    }
  }
  return total.norm();
}

template <typename T>
FitResult fit(Network<T>& net, TrainingAlgorithm<T>& algo, const Dataset& train, const Dataset* val,
              const Dataset* test, const Normalization& norm, const FitOptions& options,
              const FitCallbacks<T>& callbacks) {
  options.validate();
  if (train.size() == 0) throw DataError(train.name() + ": the training set is empty");
  using Clock = std::chrono::steady_clock;
  FitResult result;
  const Index n = train.size();
  const Index m = options.batch_size;
  const long long batches_per_epoch = (n + m - 1) / m;
  const long long total = batches_per_epoch * options.epochs;
  // The shuffling stream is separate from the initialisation stream so the
  // same seed gives the same batches whatever the initialiser drew.
  Rng rng(options.seed ^ 0x9E3779B97F4A7C15ULL);
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index(0));
  Batch<T> batch;
  double train_seconds = 0;
  long long iteration = 0;
  Index samples = 0;

  auto evaluate_point = [&]() -> bool {
    MetricsRow row;
    row.iteration = iteration;
    row.epoch = static_cast<double>(iteration) / static_cast<double>(batches_per_epoch);
    row.seconds = train_seconds;
    if (!options.skip_train_eval) {
      const EvalResult tr = evaluate(net, train, norm);
      row.train_loss = tr.loss;
      row.train_acc = tr.accuracy;
    }
    if (val && val->size() > 0) {
      const EvalResult v = evaluate(net, *val, norm);
      row.val_loss = v.loss;
      row.val_acc = v.accuracy;
    }
    if (test && test->size() > 0) {
      const EvalResult te = evaluate(net, *test, norm);
      row.test_loss = te.loss;
      row.test_acc = te.accuracy;
    }
    if (options.gradient_norm) row.extra.emplace_back("grad_norm", full_gradient_norm(net, train, norm));
    result.rows.push_back(row);
    if (callbacks.on_eval && !callbacks.on_eval(result.rows.back(), net)) {
      result.stopped_by_callback = true;
      return false;
    }
    return true;
  };

  if (!evaluate_point()) return result;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    rng.shuffle(order);
    for (long long b = 0; b < batches_per_epoch; ++b) {
      const auto t0 = Clock::now();
      const Index begin = b * m;
      const Index size = std::min(m, n - begin);
      train.make_batch<T>(order.data() + begin, size, norm, batch);
      const StepReport report = algo.step(net, batch);
      train_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      ++iteration;
      samples += size;
      if (!report.finite || !std::isfinite(report.loss)) {
        result.diverged = true;
        result.diverged_epoch = epoch;
        result.diverged_iteration = iteration;
        result.message = "training diverged: loss or parameters became NaN/Inf at epoch " +
                         std::to_string(epoch) + ", iteration " + std::to_string(iteration) +
                         " (batch loss " + std::to_string(report.loss) + ")";
        return result;
      }
      if (callbacks.on_step) {
        StepInfo info{epoch, iteration, total, report.loss, train_seconds, samples};
        callbacks.on_step(info, report);
      }
      const bool epoch_end = (b + 1 == batches_per_epoch);
      const bool scheduled = options.eval_every > 0 && iteration % options.eval_every == 0;
      if ((epoch_end || scheduled) && !evaluate_point()) return result;
    }
  }
  return result;
}

#define SIBP_INSTANTIATE(T)                                                                     \
  template EvalResult evaluate<T>(const Network<T>&, const Dataset&, const Normalization&, Index); \
  template double full_gradient_norm<T>(const Network<T>&, const Dataset&, const Normalization&, \
                                        Index);                                                 \
  template FitResult fit<T>(Network<T>&, TrainingAlgorithm<T>&, const Dataset&, const Dataset*,  \
                            const Dataset*, const Normalization&, const FitOptions&,             \
                            const FitCallbacks<T>&);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
