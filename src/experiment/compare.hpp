#pragma once
/// Running an experiment file: every run × seed into its own folder,
/// resuming where an interrupted experiment stopped, then the summary
/// table(s), plots and report.md. `sibp compare`, `sibp sweep` and
/// `sibp plot` are thin wrappers around these functions.
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "experiment/experiment_file.hpp"
#include "experiment/plot.hpp"
#include "experiment/training_run.hpp"

namespace sibp {

struct ExperimentOptions {
  std::filesystem::path out_dir;
  PlanOptions plan;                   ///< --data-dir, --only
  std::ostream* progress = nullptr;   ///< one line per run started / finished (the CLI passes std::cerr)
  RunHooks hooks;                     ///< per-step progress of the run in flight
  /// Trains one run; empty: run_training. Lets tests observe which runs train.
  std::function<RunOutcome(const RunOptions&, const std::filesystem::path&, const RunHooks&)> train;
  /// Data parallelism (ALGORITHMS.md §6): every rank calls run_experiment with the
  /// same arguments; rank 0 alone reads and writes `out_dir` (lock, experiment.json,
  /// runs, summary, plots, report) and logs progress, and tells the others which
  /// runs to train. nullptr: one process.
  Communicator* comm = nullptr;
};

/// The files an experiment's outputs consist of (absolute paths).
struct ExperimentOutputs {
  std::filesystem::path table;   ///< summary.csv (compare) or sweep.csv (sweep)
  std::filesystem::path report;  ///< report.md
  std::vector<PlotFiles> plots;
};

/// What run_experiment did.
struct ExperimentRunReport {
  int planned = 0;
  int trained = 0;   ///< runs trained now
  int skipped = 0;   ///< runs already complete, not retrained
  int diverged = 0;  ///< runs trained now whose status is diverged
  std::vector<std::filesystem::path> trained_dirs;
  ExperimentOutputs outputs;
};

/// Trains every planned run that is not complete yet (run_is_complete), in
/// plan order, then writes the outputs (write_experiment_outputs). A
/// diverged run is recorded and the experiment goes on. Copies the
/// experiment to out_dir/experiment.json, so `sibp plot` can redo the outputs.
///
/// Before training anything it checks that gnuplot works and that every
/// already-complete run's config.json matches the plan (UsageError naming the
/// folder and the first differing option otherwise: a changed experiment
/// file must not silently mix old and new results).
/// Throws UsageError / DataError from planning, training or plotting.
ExperimentRunReport run_experiment(const ExperimentFile& experiment, const ExperimentOptions& options);

/// Trains planned run `p` into out_dir/p.subdir unless it is complete already,
/// logging a line (starting with `tag`) before and after, and counts it in
/// `report`. A finished or interrupted run there must have been started with
/// `p`'s options (UsageError naming the folder and the first differing option).
void train_or_skip(const PlannedRun& p, const std::string& tag, const ExperimentOptions& options,
                   Communicator& comm, ExperimentRunReport& report);

/// Reads every run's results under `dir` and writes, for kind compare,
/// summary.csv and the six curve plots (under plots/, or plots/<data>/ when
/// the runs use several data sets); for kind sweep, sweep.csv and the sweep
/// plot; for kind tune, tuning.json and the final runs' curves
/// (experiment/tuning.hpp); then report.md. Needs no training and no data.
/// With `plots` false it writes the tables and report.md only (no gnuplot
/// needed): what `sibp results regenerate --check` compares.
ExperimentOutputs write_experiment_outputs(const std::filesystem::path& dir, const ExperimentFile& experiment,
                                           bool plots = true);

/// `sibp plot DIR`: loads DIR/experiment.json and calls write_experiment_outputs.
/// Throws DataError naming DIR when it holds no experiment.json.
ExperimentOutputs regenerate_outputs(const std::filesystem::path& dir);

}  // namespace sibp
