#pragma once
/// Step-size sweeps: which step sizes train stably. This measures the SIBP
/// paper's central claim (Liu & Zhang 2020: SIBP stays stable at step sizes
/// where SGD does not; ALGORITHMS.md §5).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "experiment/report.hpp"

namespace sibp {

/// One sweep run, classified.
struct SweepPoint {
  std::string label, param;
  double value = 0;
  std::uint64_t seed = 0;
  bool complete = false;   ///< false: not run (yet); neither stable nor diverged
  bool diverged = false;
  std::string reason;      ///< why it counts as diverged (empty when stable)
  std::optional<double> initial_train_loss, final_train_loss, final_test_acc;
};

/// A run counts as diverged when its status is "diverged", OR a final
/// metric (training loss, test accuracy) is not finite, OR its final
/// training loss is not clearly below (above 95% of) the training loss at
/// iteration 0 — which also catches a run that collapsed to a constant
/// prediction without any NaN.
SweepPoint classify_sweep_run(const RunResult& result);

/// One value of one sweep, over its seeds.
struct SweepValueSummary {
  double value = 0;
  int seeds = 0;            ///< planned
  int complete = 0;
  int diverged = 0;
  Stat final_train_loss;    ///< over complete seeds that did not diverge
  Stat final_test_acc;      ///< over complete seeds with a finite final test accuracy
};

/// One sweep's table and its largest stable step.
struct SweepSummary {
  std::string label, param;
  std::string hyper;                        ///< the sweep's own base options
  std::vector<SweepValueSummary> values;    ///< increasing
  /// Largest value whose seeds all completed without diverging (empty: none).
  std::optional<double> largest_stable;
  /// Whether every smaller value was fully run and stable as well.
  bool all_smaller_stable = false;
};

/// Groups classified points by sweep (in file order) and value.
std::vector<SweepSummary> summarize_sweeps(const ExperimentFile& experiment, const std::vector<SweepPoint>& points);

/// The "Largest stable step" section of report.md: one table over the sweeps,
/// then one per sweep.
std::string sweep_markdown(const std::vector<SweepSummary>& sweeps);

/// Writes sweep.csv (atomically): label,param,value,seed,status,final_train_loss,final_test_acc,reason
/// with status "stable", "diverged" or "missing".
void write_sweep_csv(const std::filesystem::path& path, const std::vector<SweepPoint>& points);

}  // namespace sibp
