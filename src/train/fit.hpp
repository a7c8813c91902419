#pragma once
/// The training loop: epochs, seeded shuffling, evaluation points, and
/// callbacks that may stop training: FitCallbacks::on_eval returns false to
/// stop ("keep going?"; the opposite of ensmallen's callbacks, which return
/// true to stop, and of the Python module's, which return True to stop).
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/communicator.hpp"
#include "data/dataset.hpp"
#include "train/algorithm.hpp"
#include "train/gradients.hpp"
#include "train/schedule.hpp"

namespace sibp {

/// Upper bounds of FitOptions: larger values are typos, refused before anything runs.
inline constexpr int kMaxEpochs = 1'000'000;
inline constexpr Index kMaxBatch = 10'000'000;

/// How the loop draws its batches from the training set (--sampling).
enum class BatchSampling {
  /// "shuffle": every epoch a new random order of the training set, cut into
  /// consecutive batches, so each sample is used once per epoch (the last batch
  /// of an epoch is short when the batch size does not divide the set).
  Shuffle,
  /// "independent": every batch is min(batch, n) distinct samples drawn
  /// uniformly at random, independently of the other batches, so a sample may
  /// appear in several batches of an epoch and another in none (batches drawn
  /// with replacement, as the SIBP authors' code draws them). An epoch is still
  /// ⌈n / batch⌉ steps, each of a full batch.
  Independent,
};
/// "shuffle" or "independent"; throws OptionError("sampling") otherwise.
BatchSampling parse_batch_sampling(std::string_view name);
std::string to_string(BatchSampling s);

/// Where the loop evaluates the training set (--train-eval).
enum class TrainEval {
  Every,      ///< at every evaluation point
  /// At the start and at epoch ends only: the eval_every points in between
  /// record held-out metrics alone (a training-set pass costs a third of an
  /// epoch of training on an MLP, so frequent held-out points stay affordable
  /// while the per-epoch training loss is kept).
  EpochEnds,
  None,       ///< never (its loss and accuracy columns stay empty); for sweeps
};

struct FitOptions {
  int epochs = 5;
  Index batch_size = 100;
  std::uint64_t seed = 1;
  BatchSampling sampling = BatchSampling::Shuffle;
  /// The factor of every step (TrainingAlgorithm::set_step_factor): constant 1 by default.
  StepSchedule schedule;
  /// Extra evaluation points every N iterations (0: only at epoch ends).
  long long eval_every = 0;
  /// Add ‖∇L‖ of the full-training-set mean loss to every evaluation point.
  bool gradient_norm = false;
  /// Per-layer diagnostics at every evaluation point (see fit()); implies gradient_norm.
  bool diagnostics = false;
  TrainEval train_eval = TrainEval::Every;
  /// Throws OptionError for epochs or batch outside [1, kMax...], eval_every < 0,
  /// or an invalid schedule (StepSchedule::validate).
  void validate() const;
};

/// Where the loop stands: enough to continue a run exactly where it was (with
/// the network's parameters and the algorithm's state, a checkpoint).
struct FitState {
  int epoch = 0;             ///< the epoch in progress or just finished (1-based); 0 before the first
  long long batch = 0;       ///< batches done in that epoch
  long long iteration = 0;   ///< steps done
  double seconds = 0;        ///< wall seconds spent in training steps
  Index samples = 0;         ///< samples stepped on
  /// The sampling generator (Rng::state()), after the epoch's shuffle
  /// (BatchSampling::Shuffle) or after the last batch's draw (Independent).
  std::string rng;
  /// The epoch's sample order (Shuffle); a permutation whose first entries are
  /// the last batch drawn (Independent).
  std::vector<Index> order;
};

/// Loss and accuracy of a network on a data set.
struct EvalResult {
  double loss = 0;      ///< mean loss
  double accuracy = 0;  ///< fraction of samples whose arg-max is right
};

/// One evaluation point (a row of metrics.csv).
struct MetricsRow {
  double epoch = 0;          ///< iterations / batches per epoch
  long long iteration = 0;   ///< steps taken so far
  double seconds = 0;        ///< wall seconds spent training (evaluation excluded)
  std::optional<double> train_loss, train_acc, val_loss, val_acc, test_loss, test_acc;
  /// Later columns (e.g. grad_norm, diagnostics), in order.
  std::vector<std::pair<std::string, double>> extra;
};

/// What the loop tells a progress display after every step.
struct StepInfo {
  int epoch = 0;                  ///< 1-based epoch in progress
  long long iteration = 0;        ///< steps done
  long long total_iterations = 0;
  double loss = 0;                ///< the step's batch loss
  double seconds = 0;             ///< training wall time so far
  Index samples = 0;              ///< samples processed so far
};

template <typename T>
struct FitCallbacks {
  /// Called at every evaluation point with the current network and the loop's
  /// state there (checkpoint it to resume); return false to stop.
  std::function<bool(const MetricsRow&, const Network<T>&, const FitState&)> on_eval;
  /// Called after every step (for progress lines and diagnostics).
  std::function<void(const StepInfo&, const StepReport&)> on_step;
};

struct FitResult {
  std::vector<MetricsRow> rows;
  bool diverged = false;
  bool stopped_by_callback = false;
  int diverged_epoch = 0;           ///< 1-based epoch of the non-finite step
  long long diverged_iteration = 0; ///< 1-based iteration of the non-finite step
  std::string message;
  /// What this rank's training steps sent into collectives (evaluation excluded),
  /// and how many steps that was: the communication volume per step (§6).
  CommVolume step_volume;
  long long steps = 0;
};

/// Samples per evaluation chunk for `spec`: at most `at_most`, fewer when a
/// chunk's tape would be large (convolutions).
Index evaluation_chunk(const NetworkSpec& spec, Index at_most);

/// Mean loss and accuracy of `net` on `data`, in chunks of at most `chunk` samples.
/// With R ranks (`comm`, ALGORITHMS.md §6) each evaluates its slice of `data`
/// and the sums are added over ranks; every rank gets the result.
template <typename T>
EvalResult evaluate(const Network<T>& net, const Dataset& data, const Normalization& norm,
                    Index chunk = 2000, Communicator& comm = single_process());

/// ∇L of the mean loss over all of `data` at the current parameters, per
/// parametrised layer (chunks weighted by their share of the samples).
template <typename T>
Gradients<T> full_gradient(const Network<T>& net, const Dataset& data, const Normalization& norm,
                           Index chunk = 2000);

/// ‖∇L‖ of the mean loss over all of `data` at the current parameters.
template <typename T>
double full_gradient_norm(const Network<T>& net, const Dataset& data, const Normalization& norm,
                          Index chunk = 2000);

/// Data parallelism (ALGORITHMS.md §6): with R ranks in `comm`, every rank runs
/// this loop with the same seed, data and algorithm built on `comm`; each batch
/// is the single-process batch, of which rank r steps on its slice (shard_of),
/// and evaluation points are computed over every rank's slice of each set. Every
/// rank sees the same rows and (bit-identical) parameters. Throws UsageError
/// when a batch would leave a rank without samples.
///
/// Trains `net` with `algo`. Evaluates at iteration 0, every `eval_every`
/// iterations and at the end of every epoch. Stops at the first step whose
/// report is not finite (FitResult::diverged, with epoch and iteration);
/// the network's parameters are then not to be trusted, and on_eval is not
/// called again, so a checkpoint written there stays the last good one.
///
/// With `resume` (a FitState passed to on_eval earlier, with `net` and `algo`
/// restored to that point) the loop continues from there without evaluating
/// again, and every later step and evaluation is what the uninterrupted loop
/// would have computed.
///
/// Diagnostics (options.diagnostics) add these columns, i = 1..L the
/// parametrised layers: grad_norm (‖∇L‖ over the training set), layer<i>_grad_norm
/// (its part for layer i's weights and biases), layer<i>_update
/// (‖W_i − W_i'‖ / ‖W_i'‖ with W_i' the weights at the previous evaluation point:
/// the last epoch's relative update when evaluating at epoch ends), and from the
/// last step: layer<i>_obj_before, layer<i>_obj_after, layer<i>_solver_iters
/// (SIBP and ProxProp's subproblems) and layer<i>_target_move (SIBP: the mean of
/// ‖T_i − F_i‖ / ‖F_i‖ over the steps since the previous evaluation point).
template <typename T>
FitResult fit(Network<T>& net, TrainingAlgorithm<T>& algo, const Dataset& train,
              const Dataset* val, const Dataset* test, const Normalization& norm,
              const FitOptions& options, const FitCallbacks<T>& callbacks = {},
              const FitState* resume = nullptr, Communicator& comm = single_process());

}  // namespace sibp
