#pragma once
/// One training run end to end: data, network, algorithm, fit, and every
/// output file, resumable after an interruption.
/// `sibp train` is a thin wrapper around it; `sibp compare` calls it per run.
#include <filesystem>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "experiment/run_folder.hpp"
#include "experiment/run_options.hpp"
#include "train/fit.hpp"

namespace sibp {

struct RunHooks {
  /// Called after every step (progress display); may be empty.
  std::function<void(const StepInfo&)> on_step;
  /// Called at every evaluation point after its checkpoint is committed; return
  /// false to stop (the run then ends as interrupted and can be resumed).
  std::function<bool(const MetricsRow&)> on_eval;
};

enum class RunStatus { Completed, Diverged, Stopped };
std::string to_string(RunStatus s);

/// What to do with an output folder that already holds a run.
enum class OutputMode {
  New,        ///< refuse it (UsageError): the folder must be empty
  Resume,     ///< continue its interrupted run; a finished run is left as it is
  Overwrite,  ///< delete its run files and start over
  Continue,   ///< resume an interrupted run, leave a finished one, start in an empty or unusable folder
};

struct RunOutcome {
  RunStatus status = RunStatus::Completed;
  std::string message;             ///< for Diverged: where and why
  std::vector<MetricsRow> rows;    ///< every evaluation point, including those before a resume
  double train_seconds = 0;        ///< wall time of the training steps
  double seconds_per_epoch = 0;
  bool resumed = false;            ///< continued from a checkpoint
  std::filesystem::path out_dir;
  int ranks = 1;                   ///< processes that trained it (ALGORITHMS.md §6)
  CommVolume step_volume;          ///< what this rank's steps sent into collectives
  long long steps = 0;             ///< steps trained in this process (for volume per step)
};

/// Uses `threads` threads for the linear algebra (OpenMP and Eigen); 0: every core.
void use_threads(int threads);

/// The network a run starts from: `model`'s initialiser drawing from Rng(seed)
/// (W then b of each parametrised layer), then the parameters of
/// model.init_from when it is set, computing in model.precision. `sibp train`
/// and the Python bindings both build networks here, so one seed gives one
/// network everywhere.
template <typename T>
Network<T> initial_network(const NetworkSpec& net, const ModelSpec& model, std::uint64_t seed);

/// The training algorithm of `spec` for networks of `net`, with diagnostics when
/// the run asks for them. Throws OptionError when the options do not fit the network.
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> run_algorithm(const RunSpec& spec, const NetworkSpec& net,
                                                    Communicator& comm = single_process());

/// The loop options of `spec` (FitOptions with diagnostics as the run asks).
FitOptions run_fit_options(const RunSpec& spec);

/// What a run records in its model file besides the architecture: sibp.algo,
/// sibp.data, sibp.seed, and the input standardisation (io/model_metadata.hpp).
std::map<std::string, std::string> model_metadata(const RunOptions& options, const Normalization& norm);

/// Trains as `spec` says and writes into `out_dir` (created if needed), holding
/// the folder's lock throughout (RunFolder: a second writer fails at once):
/// - config.json: the options (run_options_json), the software version and the
///   data's shape, written before training;
/// - metrics.csv / metrics.json, model.safetensors and a checkpoint, committed
///   together at every evaluation point (RunFolder::commit): model.safetensors holds
///   the parameters of the last evaluation point, so a diverged run keeps its
///   last good one;
/// - result.json, written last: status, message, final metrics, timing — its
///   presence means the run finished.
/// With OutputMode::Resume the run continues from its last checkpoint and ends
/// exactly as the uninterrupted run would have (same parameters and metrics;
/// the `seconds` column aside); `spec` must then equal the stored configuration
/// (UsageError naming the first differing option; data_dir and threads may differ).
/// Throws UsageError / DataError for bad options, data or folder content before
/// anything is written; FolderLockedError if another process holds the folder.
///
/// Data parallelism (ALGORITHMS.md §6): with R > 1 ranks in `comm`, call it on
/// every rank with the same arguments. Every rank loads the data (a rank that
/// cannot makes the run fail on all of them, each naming the failing ranks) and
/// trains on its shard of each batch; rank 0 alone touches `out_dir` (lock,
/// config, checkpoints, metrics, result) and calls the hooks, and decides what
/// an existing folder means for every rank. Resuming an interrupted
/// multi-process run is refused (UsageError): resume it with one process.
RunOutcome run_training(const RunSpec& spec, const std::filesystem::path& out_dir, const RunHooks& hooks = {},
                        OutputMode mode = OutputMode::New, Communicator& comm = single_process());

/// The options stored in `out_dir`/config.json (for `sibp train --resume`).
/// Throws DataError naming the file if it is missing or malformed.
RunOptions stored_run_options(const std::filesystem::path& out_dir);

/// True if `out_dir/result.json` exists and was written by a finished run.
bool run_is_complete(const std::filesystem::path& out_dir);

/// Bytes of memory a training run of `spec` needs beyond its data, roughly:
/// parameters, gradients and optimizer or solver state, and the tape of a batch
/// and of an evaluation chunk. Used to refuse runs that cannot fit.
double estimated_training_bytes(const NetworkSpec& spec, Index batch, DType dtype);

/// The process's address-space limit (RLIMIT_AS, `ulimit -v`) in bytes; 0 when unlimited.
double address_space_limit_bytes();

/// Throws UsageError "the run needs about X GB of memory (N parameters, batches
/// of B), more than ..." when estimated_training_bytes exceeds this machine's
/// physical memory or the process's address-space limit, naming both numbers.
/// run_training and the Python module (Network(), fit()) call it before allocating.
void check_training_memory(const NetworkSpec& spec, Index batch, DType dtype);

}  // namespace sibp
