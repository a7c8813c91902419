#pragma once
/// The tuning protocol (experiment kind "tune"): one rule for every method, so
/// that a comparison of tuned methods is fair.
///
/// 1. Grid: the method's step on a log grid of `points_per_decade` points per
///    decade spanning `decades` decades around its centre (positions -h..h),
///    at the secondary parameter's first value, with the selection seed.
/// 2. Extensions: while the best step is at either end of the grid, one more
///    point past that end (at most `max_extensions` per side; the report says
///    when the cap left the best step at an end).
/// 3. Second stage, `second_stage_runs` runs for every method: the secondary
///    parameter's other values at the best step, or, for a method that tunes its
///    step alone, steps refining it (half a grid spacing each side of the best,
///    then a quarter around the new best, ...).
/// 4. Selection on the validation split (never the test set): the highest final
///    validation accuracy, ties to the lower final validation loss; a run that
///    diverged (classify_sweep_run) ranks last.
/// 5. Every seed at the chosen setting; their final test accuracies (and time
///    and steps to the target accuracy) are the result.
///
/// Each run is decided from the results before it, and a finished run is read
/// from its folder instead of retrained, so an interrupted tuning continues
/// where it stopped and `sibp plot` replays the protocol from the folder alone.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiment/experiment_file.hpp"
#include "experiment/report.hpp"

namespace sibp {

/// The step at grid position `position` (possibly fractional): centre · 10^(position / points_per_decade),
/// rounded to 3 significant digits (readable labels and folder names).
double tune_step_value(double centre, double position, int points_per_decade);

/// One run of the protocol and its outcome.
struct TuneTrial {
  std::size_t method = 0;           ///< index into ExperimentFile::methods
  std::string stage;                ///< "grid", "extension", "second" or "final"
  double position = 0;              ///< grid position of the step
  double step = 0;
  std::optional<double> secondary;  ///< the secondary parameter's value, if the method has one
  std::uint64_t seed = 0;
  // The outcome, filled by the evaluator:
  std::string status = "missing";   ///< "completed", "diverged" (classify_sweep_run) or "missing"
  std::string reason;               ///< why it counts as diverged
  std::optional<double> val_acc, val_loss, test_acc;  ///< at the last evaluation point
  std::optional<double> seconds_to_target;            ///< final runs: first test accuracy >= the target
  std::optional<long long> steps_to_target;
  std::string folder;               ///< relative to the experiment folder
  /// Completed without diverging, with a finite final validation accuracy.
  bool usable() const;
};

/// The selection order: true if `a` ranks before `b` (usable first, then higher final
/// validation accuracy, then lower final validation loss, then the smaller step).
bool ranks_before(const TuneTrial& a, const TuneTrial& b);
/// Index of the best of `trials` (non-empty); the earlier of two that rank alike.
std::size_t best_trial(const std::vector<TuneTrial>& trials);
/// -1 when the best of `trials` sits at the lowest step position, +1 at the highest, 0 inside.
int best_grid_end(const std::vector<TuneTrial>& trials);

/// One method's way through the protocol.
struct MethodTuning {
  std::size_t method = 0;
  std::vector<TuneTrial> selection;  ///< grid, extensions, second stage, in the order run
  int grid_runs = 0, extensions_low = 0, extensions_high = 0, second_stage_runs = 0;
  bool extension_cap_reached = false;  ///< the best step was still at an end after max_extensions
  bool selection_complete = false;     ///< every selection run has a result
  std::optional<std::size_t> chosen;   ///< index into selection (set once selection is complete)
  bool chosen_at_grid_end = false;
  std::vector<TuneTrial> finals;       ///< one per seed, in the order of "seeds"
  bool finals_complete = false;
};

/// Fills `trial`'s outcome (training it, or reading its folder); false when it has no result.
using TuneEvaluator = std::function<bool(TuneTrial& trial)>;

/// Runs the protocol for every method of `e` (kind tune) whose label is in
/// `only` (empty: all), in file order, asking `evaluate` for each run. A method
/// stops at its first run without a result.
std::vector<MethodTuning> run_protocol(const ExperimentFile& e, const std::vector<std::string>& only,
                                       const TuneEvaluator& evaluate);

/// Trains one planned run of the protocol into its folder (or finds it complete);
/// `tag` names it in progress lines.
using TuneTrainer = std::function<void(const PlannedRun& run, const std::string& tag)>;

/// Runs the protocol's runs one at a time with `train` (which skips the runs
/// already complete: compare.cpp's train_or_skip), reading each one's result
/// from `out_dir` before choosing the next. Returns how many runs it planned.
int run_tuning(const ExperimentFile& e, const PlanOptions& plan, const std::filesystem::path& out_dir,
               const TuneTrainer& train);

/// The runs of `e`'s protocol that have finished in `dir`, in the order the
/// protocol reaches them: a replay from the folder, no training. What `sibp
/// results pack` packs of a tuning (its runs depend on earlier results, so
/// plan_runs cannot list them).
std::vector<PlannedRun> finished_tuning_runs(const std::filesystem::path& dir, const ExperimentFile& e);

/// True if `subdir` (e.g. "sibp/eta-1/lambda-0.3/seed-1") is the folder of a
/// run of `e`'s protocol: a method's folder, its step, its secondary value when
/// it has one and a seed, spelled as plan_tune_run spells them.
bool is_tuning_run_folder(const ExperimentFile& e, const std::string& subdir);

/// tuning.json: the protocol, each method's budget and choice, the final seeds'
/// statistics, and every run (stage, parameters, seed, status, validation and test metrics).
nlohmann::json tuning_json(const ExperimentFile& e, const std::vector<MethodTuning>& methods);
/// The report's "Tuning protocol" and "Final runs" sections.
std::string tuning_markdown(const ExperimentFile& e, const std::vector<MethodTuning>& methods);

struct TuningOutputs {
  std::string markdown;           ///< tuning_markdown
  std::vector<RunResult> finals;  ///< the final runs found (for their curves)
};
/// Replays the protocol from the runs in `dir` (no training) and writes dir/tuning.json.
TuningOutputs write_tuning_outputs(const std::filesystem::path& dir, const ExperimentFile& e);

}  // namespace sibp
