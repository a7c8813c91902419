#include "train/fit.hpp"

#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "core/error.hpp"
#include "core/format.hpp"
#include "core/rng.hpp"
#include "train/backprop.hpp"

namespace sibp {

BatchSampling parse_batch_sampling(std::string_view name) {
  if (name == "shuffle") return BatchSampling::Shuffle;
  if (name == "independent") return BatchSampling::Independent;
  throw OptionError("sampling", "expected shuffle or independent, got '" + std::string(name) + "'");
}

std::string to_string(BatchSampling s) { return s == BatchSampling::Independent ? "independent" : "shuffle"; }

void FitOptions::validate() const {
  if (epochs < 1 || epochs > kMaxEpochs)
    throw OptionError("epochs", "expected an integer from 1 to " + std::to_string(kMaxEpochs) + ", got " +
                                    std::to_string(epochs));
  if (batch_size < 1 || batch_size > kMaxBatch)
    throw OptionError("batch", "expected an integer from 1 to " + std::to_string(kMaxBatch) + ", got " +
                                   std::to_string(batch_size));
  if (eval_every < 0) throw OptionError("eval_every", "expected an integer >= 0, got " + std::to_string(eval_every));
  schedule.validate();
}

Index evaluation_chunk(const NetworkSpec& spec, Index at_most) {
  // A convolution's patch matrices make its tape far larger per sample than an
  // MLP's: keep one chunk's tape near 256 MB of floats.
  constexpr Index kBudgetFloats = Index(64) << 20;
  const Index per_sample = std::max<Index>(1, spec.activation_floats_per_sample());
  return std::clamp<Index>(kBudgetFloats / per_sample, 1, std::max<Index>(1, at_most));
}

namespace {
/// Σ of the loss and of the correct predictions over samples [begin, end) of `data`.
template <typename T>
void evaluation_sums(const Network<T>& net, const Dataset& data, const Normalization& norm, Index chunk,
                     Index first, Index last, double& loss, Index& correct) {
  Batch<T> batch;
  Tape<T> work;
  chunk = evaluation_chunk(net.spec(), chunk);
  for (Index begin = first; begin < last; begin += chunk) {
    const Index end = std::min(last, begin + chunk);
    data.make_range_batch<T>(begin, end, norm, batch);
    const Mat<T>& out = net.predict(batch.X, work);
    loss += loss_sum<T>(net.loss(), out, batch.Y);
    correct += count_correct<T>(out, batch.Y);
  }
}
}  // namespace

template <typename T>
EvalResult evaluate(const Network<T>& net, const Dataset& data, const Normalization& norm, Index chunk,
                    Communicator& comm) {
  EvalResult r;
  const Index n = data.size();
  if (n == 0) return r;
  double loss = 0;
  Index correct = 0;
  // §6: with R ranks, each its slice of the set, then the sums over ranks.
  const Shard mine = shard_of(n, comm.rank(), comm.size());
  evaluation_sums(net, data, norm, chunk, mine.begin, mine.end, loss, correct);
  if (comm.size() > 1) {
    double sums[2] = {loss, static_cast<double>(correct)};
    comm.allreduce_sum(sums, 2, "evaluation sums");
    loss = sums[0];
    correct = static_cast<Index>(sums[1]);
  }
  r.loss = loss / static_cast<double>(n);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  return r;
}

template <typename T>
Gradients<T> full_gradient(const Network<T>& net, const Dataset& data, const Normalization& norm, Index chunk) {
  const Index n = data.size();
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
  return total;
}

template <typename T>
double full_gradient_norm(const Network<T>& net, const Dataset& data, const Normalization& norm, Index chunk) {
  if (data.size() == 0) return 0;
  return full_gradient(net, data, norm, chunk).norm();
}

namespace {

/// The size of the batches drawn independently (BatchSampling::Independent).
Index independent_batch_size(Index n, const FitOptions& options) { return std::min(options.batch_size, n); }

/// §6: every rank needs a sample of every batch (an empty shard would give a
/// layer without columns); the last batch of a shuffled epoch may be the short one.
void check_batches_cover_ranks(const Dataset& train, const FitOptions& options, int R) {
  const Index last = train.size() % options.batch_size;
  const Index smallest = options.sampling == BatchSampling::Independent ? independent_batch_size(train.size(), options)
                         : last == 0 ? options.batch_size
                                     : std::min(options.batch_size, last);
  if (smallest < R)
    throw OptionError("batch", "with " + std::to_string(R) + " processes every batch needs at least " +
                                   std::to_string(R) + " samples, but batches of " +
                                   std::to_string(options.batch_size) + " over " + std::to_string(train.size()) +
                                   " training samples include one of " + std::to_string(smallest));
}

/// The loop state to start from: a fresh one (samples in order, `rng`'s state)
/// or `resume`, checked against this run's shape; `rng` continues from it.
FitState start_state(Index n, long long batches_per_epoch, const FitOptions& options, const FitState* resume,
                     Rng& rng) {
  FitState state;
  state.order.resize(static_cast<std::size_t>(n));
  std::iota(state.order.begin(), state.order.end(), Index(0));
  if (!resume) {
    state.rng = rng.state();
    return state;
  }
  if (resume->order.size() != static_cast<std::size_t>(n) || !rng.set_state(resume->rng) || resume->epoch < 0 ||
      resume->epoch > options.epochs || resume->batch < 0 || resume->batch > batches_per_epoch)
    throw DataError("checkpoint: its loop state (epoch " + std::to_string(resume->epoch) + ", batch " +
                    std::to_string(resume->batch) + ", " + std::to_string(resume->order.size()) +
                    " samples) does not fit this run (" + std::to_string(options.epochs) + " epochs of " +
                    std::to_string(batches_per_epoch) + " batches, " + std::to_string(n) + " samples)");
  // The order indexes the training set: anything but a permutation of it
  // would read out of bounds (or train on some samples twice).
  std::vector<char> seen(static_cast<std::size_t>(n), 0);
  for (const Index i : resume->order) {
    if (i < 0 || i >= n || seen[static_cast<std::size_t>(i)])
      throw DataError("checkpoint: its sample order is not a permutation of the " + std::to_string(n) +
                      " training samples (entry " + std::to_string(i) + ")");
    seen[static_cast<std::size_t>(i)] = 1;
  }
  return *resume;
}

/// Draws `size` distinct samples uniformly at random into the first `size`
/// entries of `order` (a partial Fisher–Yates shuffle: entry i swaps with a
/// uniform one of entries i..n−1), leaving `order` a permutation.
void draw_independent_batch(std::vector<Index>& order, Index size, Rng& rng) {
  const std::size_t n = order.size();
  for (std::size_t i = 0; i < static_cast<std::size_t>(size); ++i)
    std::swap(order[i], order[i + rng.below(n - i)]);
}

/// Adds what a step communicated (`after` − `before`) to `total`.
void add_volume(CommVolume& total, const CommVolume& before, const CommVolume& after) {
  total.allreduce_calls += after.allreduce_calls - before.allreduce_calls;
  total.allreduce_bytes += after.allreduce_bytes - before.allreduce_bytes;
  total.gather_calls += after.gather_calls - before.gather_calls;
  total.gather_bytes += after.gather_bytes - before.gather_bytes;
  total.broadcast_calls += after.broadcast_calls - before.broadcast_calls;
  total.broadcast_bytes += after.broadcast_bytes - before.broadcast_bytes;
}

/// Per-layer diagnostics carried between evaluation points: the weights at the
/// last one, the mean target move since, and the last step's per-layer report.
template <typename T>
class DiagnosticsTracker {
 public:
  explicit DiagnosticsTracker(const Network<T>& net)
      : L_(net.num_param_layers()), move_sum_(L_, 0.0), move_count_(L_, 0) {
    remember_weights(net);
  }
  /// Records a step's per-layer report.
  void add_step(StepReport report) {
    for (const LayerDiagnostics& d : report.layers)
      if (std::isfinite(d.target_move) && d.layer < L_) {
        move_sum_[d.layer] += d.target_move;
        ++move_count_[d.layer];
      }
    last_step_ = std::move(report);
  }
  /// Appends the diagnostic columns of an evaluation point at `iteration` to
  /// `row`, then starts the next interval.
  void add_columns(MetricsRow& row, const Network<T>& net, const Dataset& train, const Normalization& norm,
                   long long iteration) {
    const Gradients<T> g = full_gradient(net, train, norm);
    row.extra.emplace_back("grad_norm", g.norm());
    for (std::size_t i = 0; i < L_; ++i) {
      const std::string p = "layer" + std::to_string(i + 1) + "_";
      row.extra.emplace_back(p + "grad_norm", std::sqrt(static_cast<double>(g.dW[i].squaredNorm()) +
                                                        static_cast<double>(g.db[i].squaredNorm())));
      if (iteration > 0) {
        const double base = static_cast<double>(W_prev_[i].norm());
        row.extra.emplace_back(p + "update", static_cast<double>((net.params(i).W - W_prev_[i]).norm()) / base);
      }
    }
    if (iteration > 0)
      for (const LayerDiagnostics& d : last_step_.layers) {
        const std::string p = "layer" + std::to_string(d.layer + 1) + "_";
        row.extra.emplace_back(p + "obj_before", d.objective_before);
        row.extra.emplace_back(p + "obj_after", d.objective_after);
        row.extra.emplace_back(p + "solver_iters", d.solver_iterations);
      }
    for (std::size_t i = 0; i < L_; ++i)
      if (move_count_[i] > 0)
        row.extra.emplace_back("layer" + std::to_string(i + 1) + "_target_move",
                               move_sum_[i] / static_cast<double>(move_count_[i]));
    remember_weights(net);
    std::fill(move_sum_.begin(), move_sum_.end(), 0.0);
    std::fill(move_count_.begin(), move_count_.end(), 0);
  }

 private:
  void remember_weights(const Network<T>& net) {
    W_prev_.resize(L_);
    for (std::size_t i = 0; i < L_; ++i) W_prev_[i] = net.params(i).W;
  }
  std::size_t L_;
  std::vector<Mat<T>> W_prev_;
  std::vector<double> move_sum_;
  std::vector<long long> move_count_;
  StepReport last_step_;
};

/// The losses and accuracies of an evaluation point (train unless skipped, val, test).
template <typename T>
void add_evaluations(MetricsRow& row, const Network<T>& net, const Dataset& train, const Dataset* val,
                     const Dataset* test, const Normalization& norm, bool with_train, Communicator& comm) {
  if (with_train) {
    const EvalResult tr = evaluate(net, train, norm, 2000, comm);
    row.train_loss = tr.loss;
    row.train_acc = tr.accuracy;
  }
  if (val && val->size() > 0) {
    const EvalResult v = evaluate(net, *val, norm, 2000, comm);
    row.val_loss = v.loss;
    row.val_acc = v.accuracy;
  }
  if (test && test->size() > 0) {
    const EvalResult te = evaluate(net, *test, norm, 2000, comm);
    row.test_loss = te.loss;
    row.test_acc = te.accuracy;
  }
}

/// Marks `result` diverged at the state's epoch and iteration.
void mark_diverged(FitResult& result, const FitState& state, double loss) {
  result.diverged = true;
  result.diverged_epoch = state.epoch;
  result.diverged_iteration = state.iteration;
  result.message = "training diverged: loss or parameters became NaN/Inf at epoch " + std::to_string(state.epoch) +
                   ", iteration " + std::to_string(state.iteration) + " (batch loss " + format_number(loss) + ")";
}

}  // namespace

template <typename T>
FitResult fit(Network<T>& net, TrainingAlgorithm<T>& algo, const Dataset& train, const Dataset* val,
              const Dataset* test, const Normalization& norm, const FitOptions& options,
              const FitCallbacks<T>& callbacks, const FitState* resume, Communicator& comm) {
  options.validate();
  if (train.size() == 0) throw DataError(train.name() + ": the training set is empty");
  const int R = comm.size();
  check_batches_cover_ranks(train, options, R);
  using Clock = std::chrono::steady_clock;
  FitResult result;
  const Index n = train.size();
  const Index m = options.batch_size;
  const long long batches_per_epoch = (n + m - 1) / m;
  const long long total = batches_per_epoch * options.epochs;
  // The sampling stream is separate from the initialisation stream so the
  // same seed gives the same batches whatever the initialiser drew.
  Rng rng(options.seed ^ 0x9E3779B97F4A7C15ULL);
  const bool independent = options.sampling == BatchSampling::Independent;
  FitState state = start_state(n, batches_per_epoch, options, resume, rng);
  Batch<T> batch;
  std::optional<DiagnosticsTracker<T>> diagnostics;
  if (options.diagnostics) diagnostics.emplace(net);

  // `epoch_point`: the start or an epoch's end, where the training set is evaluated
  // unless skipped; between them only when it is evaluated at every point.
  const auto evaluate_point = [&](bool epoch_point) -> bool {
    MetricsRow row;
    row.iteration = state.iteration;
    row.epoch = static_cast<double>(state.iteration) / static_cast<double>(batches_per_epoch);
    row.seconds = state.seconds;
    const bool with_train = options.train_eval == TrainEval::Every ||
                            (options.train_eval == TrainEval::EpochEnds && epoch_point);
    add_evaluations(row, net, train, val, test, norm, with_train, comm);
    if (diagnostics)
      diagnostics->add_columns(row, net, train, norm, state.iteration);
    else if (options.gradient_norm)
      row.extra.emplace_back("grad_norm", full_gradient_norm(net, train, norm));
    result.rows.push_back(row);
    if (callbacks.on_eval && !callbacks.on_eval(result.rows.back(), net, state)) {
      result.stopped_by_callback = true;
      return false;
    }
    return true;
  };
  // This rank's samples of the batch of `size` samples at `begin` of the order
  // (§6: its shard when there are several ranks; every rank draws the same
  // batches from the same seed).
  const auto load_batch = [&](Index begin, Index size) {
    if (R == 1) return train.make_batch<T>(state.order.data() + begin, size, norm, batch);
    const Shard mine = shard_of(size, comm.rank(), R);
    train.make_batch<T>(state.order.data() + begin + mine.begin, mine.size(), norm, batch);
    batch.global_size = size;
  };

  if (!resume && !evaluate_point(true)) return result;
  for (; state.epoch <= options.epochs; ++state.epoch, state.batch = 0) {
    if (state.epoch == 0) continue;  // before the first epoch
    if (state.batch == 0 && !independent) {
      // A new epoch (a resumed state that ended an epoch has batch == batches_per_epoch).
      rng.shuffle(state.order);
      state.rng = rng.state();
    }
    for (; state.batch < batches_per_epoch; ++state.batch) {
      const auto t0 = Clock::now();
      // Shuffle: the epoch order's next batch; independent: a fresh draw into the order's front.
      const Index begin = independent ? 0 : state.batch * m;
      const Index size = independent ? independent_batch_size(n, options) : std::min(m, n - begin);
      if (independent) {
        draw_independent_batch(state.order, size, rng);
        state.rng = rng.state();
      }
      load_batch(begin, size);
      // A pure function of the loop state: a resumed run sets the same factors.
      algo.set_step_factor(step_factor(options.schedule, state.iteration, state.epoch, total));
      const CommVolume before = comm.volume();
      StepReport report = algo.step(net, batch);
      add_volume(result.step_volume, before, comm.volume());
      ++result.steps;
      state.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      ++state.iteration;
      state.samples += size;
      if (!report.finite || !std::isfinite(report.loss)) {
        mark_diverged(result, state, report.loss);
        return result;
      }
      if (callbacks.on_step) {
        StepInfo info{state.epoch, state.iteration, total, report.loss, state.seconds, state.samples};
        callbacks.on_step(info, report);
      }
      if (diagnostics) diagnostics->add_step(std::move(report));
      const bool epoch_end = (state.batch + 1 == batches_per_epoch);
      const bool scheduled = options.eval_every > 0 && state.iteration % options.eval_every == 0;
      if (epoch_end || scheduled) {
        ++state.batch;  // the state handed to on_eval is after this step
        const bool go_on = evaluate_point(epoch_end);
        --state.batch;
        if (!go_on) return result;
      }
    }
  }
  return result;
}

#define SIBP_INSTANTIATE(T)                                                                     \
  template EvalResult evaluate<T>(const Network<T>&, const Dataset&, const Normalization&, Index, \
                                  Communicator&);                                               \
  template double full_gradient_norm<T>(const Network<T>&, const Dataset&, const Normalization&, \
                                        Index);                                                 \
  template Gradients<T> full_gradient<T>(const Network<T>&, const Dataset&, const Normalization&, Index); \
  template FitResult fit<T>(Network<T>&, TrainingAlgorithm<T>&, const Dataset&, const Dataset*,  \
                            const Dataset*, const Normalization&, const FitOptions&,             \
                            const FitCallbacks<T>&, const FitState*, Communicator&);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
