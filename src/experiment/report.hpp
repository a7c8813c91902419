#pragma once
/// Reading an experiment's results back from its folder and summarising
/// them: summary.csv and report.md. Everything here works from the files
/// that run_training wrote (result.json, metrics.csv), so a report can be
/// regenerated without retraining (`sibp plot DIR`).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "experiment/experiment_file.hpp"
#include "train/fit.hpp"

namespace sibp {


/// One planned run's outputs as found on disk.
struct RunResult {
  PlannedRun plan;
  std::filesystem::path dir;     ///< the run's folder
  bool complete = false;         ///< result.json exists (the run finished)
  std::string status;            ///< "completed", "diverged", or "missing" when not complete
  std::string message;           ///< result.json's message
  double seconds_per_epoch = 0;
  std::vector<MetricsRow> rows;  ///< metrics.csv (empty when not complete)
};

/// Reads result.json and metrics.csv of every planned run under `dir`.
/// A run without result.json is returned with complete = false (and no
/// rows). Throws DataError naming the file for a result.json or metrics.csv
/// that exists but cannot be parsed.
std::vector<RunResult> read_results(const std::filesystem::path& dir, const std::vector<PlannedRun>& plan);

/// Mean and sample standard deviation (n-1; 0 for one value) of the finite
/// values added. Empty when no value was added.
struct Stat {
  int n = 0;
  double mean = 0;
  double std = 0;
  static Stat of(const std::vector<double>& values);
};

/// One row of the comparison table: one run label, over its seeds.
struct LabelSummary {
  std::string data;          ///< the runs' data spec (one table per data set)
  std::string label;
  std::string hyper;         ///< the run's own options as "algo=sgd, lr=0.1"
  int seeds = 0;             ///< seeds planned
  int complete = 0;          ///< seeds with results
  int diverged = 0;          ///< complete seeds whose status is "diverged"
  // Over complete seeds that did not diverge (a diverged run's last values say nothing useful):
  Stat final_train_loss, best_train_loss, final_train_acc, final_test_acc;
  Stat final_val_acc;        ///< runs with a validation split (--val-split) only
  Stat seconds_per_epoch;    ///< over all complete seeds
  // The first evaluation point whose test accuracy is >= the target, over the seeds that reached it:
  int reached_target = 0;
  Stat seconds_to_target, epochs_to_target;
};

/// One LabelSummary per label, in plan order.
std::vector<LabelSummary> summarize_compare(const std::vector<RunResult>& results,
                                            std::optional<double> target_accuracy);

/// `options` as "key=value, ..." (strings unquoted), for legends and tables.
std::string describe_options(const nlohmann::json& options);

/// Writes summary.csv (atomically): one row per label; empty cells for missing values.
void write_summary_csv(const std::filesystem::path& path, const std::vector<LabelSummary>& rows,
                       std::optional<double> target_accuracy);

/// What report.md shows: tables, and images given relative to the report's folder.
struct ReportContent {
  const ExperimentFile* experiment = nullptr;
  std::vector<LabelSummary> compare;        ///< kind compare; kind tune: its final runs
  std::string sweeps_markdown;              ///< kind sweep: sweep_markdown() (experiment/sweep.hpp)
  std::string tuning_markdown;              ///< kind tune: tuning_markdown() (experiment/tuning.hpp)
  /// (caption, PNG path relative to the report, SVG path relative to the report)
  struct Image {
    std::string caption;
    std::string png, svg;
  };
  std::vector<std::pair<std::string, std::vector<Image>>> image_groups;  ///< (heading, images)
};

/// "m ± s" with `digits` decimals of mean·scale and std·scale; "–" without values.
std::string md_stat(const Stat& s, int digits, double scale = 1);
/// `s` as one Markdown table cell: newlines to spaces, '|' escaped.
std::string md_cell(std::string s);

/// Writes report.md (atomically).
void write_report(const std::filesystem::path& path, const ReportContent& content);

}  // namespace sibp
