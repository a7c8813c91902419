#pragma once
/// One training run end to end: data, network, algorithm, fit, and every
/// output file (config.json, metrics.csv/json, model.safetensors, result.json).
/// `sibp train` is a thin wrapper around it; `sibp compare` calls it per run.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

#include "experiment/run_config.hpp"
#include "train/fit.hpp"

namespace sibp {

struct RunHooks {
  /// Called after every step (progress display); may be empty.
  std::function<void(const StepInfo&)> on_step;
};

enum class RunStatus { Completed, Diverged };
std::string to_string(RunStatus s);

struct RunOutcome {
  RunStatus status = RunStatus::Completed;
  std::string message;             ///< for Diverged: where and why
  std::vector<MetricsRow> rows;    ///< every evaluation point
  double train_seconds = 0;        ///< wall time of the training steps
  double seconds_per_epoch = 0;
  std::filesystem::path out_dir;
};

/// Trains as `config` says and writes into `out_dir` (created if needed):
/// - config.json: the config, the software version and the data's shape;
/// - metrics.csv / metrics.json: rewritten at every evaluation point;
/// - model.safetensors: the parameters at the last evaluation point whose
///   parameters were finite (a diverged run keeps its last good checkpoint);
/// - result.json, written last: status, message, final metrics, timing —
///   its presence means the run finished (used to resume comparisons).
/// Every file is written atomically. Throws UsageError / DataError for bad
/// options or data, before anything is trained.
RunOutcome run_training(const RunConfig& config, const std::filesystem::path& out_dir,
                        const RunHooks& hooks = {});

/// True if `out_dir/result.json` exists and was written by a finished run.
bool run_is_complete(const std::filesystem::path& out_dir);

}  // namespace sibp
