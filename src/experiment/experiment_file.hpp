#pragma once
/// Experiment files: several training runs described once, in JSON, so a
/// comparison or a step-size sweep is one command and can be re-run.
///
///   {"name": "paper-mnist", "description": "...", "kind": "compare",
///    "base": {<RunConfig keys shared by every run>},
///    "seeds": [1, 2, 3], "target_accuracy": 0.97,
///    "runs": [{"label": "sgd-0.1", "algo": "sgd", "lr": 0.1}, ...]}
///
///   {"name": ..., "kind": "sweep", "base": {...}, "seeds": [1],
///    "sweeps": [{"label": "sgd lr", "base": {"algo": "sgd"}, "param": "lr",
///                "values": [0.01, 0.1, 1]  or  "grid": {"from": 0.01, "to": 100, "points": 9}}]}
///
///   {"name": ..., "kind": "tune", "base": {... "val_split": 10000, "threads": 1},
///    "seeds": [1, 2, 3], "selection_seed": 1, "target_accuracy": 0.97,
///    "protocol": {"points_per_decade": 3, "decades": 2, "max_extensions": 4},
///    "methods": [{"label": "sgd", "options": {"algo": "sgd"}, "step": {"param": "lr", "centre": 0.5}},
///                {"label": "sibp", "options": {"algo": "sibp"}, "step": {"param": "eta", "centre": 1},
///                 "secondary": {"param": "lambda", "values": [1, 0.3, 3]}}]}
///   (the tuning protocol of experiment/tuning.hpp)
///
/// A run's options are `base` overlaid with the run's own keys (for sweeps:
/// the sweep's `base`, then `param` = value) and the seed. Every run is read
/// and resolved (RunSpec) when the file is loaded, so a typo in the last run
/// fails before the first one trains. A run's own keys must apply to its
/// algorithm ("eta" in an sgd run is an error); `base` keys need not.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/format.hpp"
#include "experiment/run_options.hpp"

namespace sibp {

enum class ExperimentKind { Compare, Sweep, Tune };

/// Limits that keep a typo from planning millions of runs: refused with a message
/// naming the key before anything is expanded.
inline constexpr int kMaxGridPoints = 1000;
inline constexpr std::size_t kMaxSeeds = 1000;
inline constexpr std::size_t kMaxPlannedRuns = 100000;
/// Longest run or sweep label: it names a folder, which file systems limit to 255 bytes.
inline constexpr std::size_t kMaxLabelLength = 100;
std::string to_string(ExperimentKind k);

/// One labelled configuration of a comparison.
struct LabelledRun {
  std::string label;
  nlohmann::json options;  ///< the run's own option keys (without "label"), an object
};

/// One step-size sweep: `param` takes each of `values` on top of `base`.
struct SweepSpec {
  std::string label;
  nlohmann::json base = nlohmann::json::object();  ///< run option keys of this sweep
  std::string param;                               ///< a real-valued run option, or "lambda"
  std::vector<double> values;                      ///< increasing
};

/// One method of a tuning experiment: its algorithm and fixed options, the
/// step it tunes on a log grid around `centre`, and optionally a second
/// parameter tried at the chosen step (ProxProp's tau, SIBP's lambda).
struct TuneMethod {
  std::string label;
  nlohmann::json options = nlohmann::json::object();  ///< run option keys, "algo" among them
  std::string step;                                   ///< a real-valued run option
  double centre = 1;                                  ///< middle of the first step grid
  std::string secondary;                              ///< empty: the step alone is tuned
  std::vector<double> secondary_values;               ///< the first is the step grid's
};

/// How a tuning experiment searches (the same for every method, so every
/// method gets the same number of runs before extensions).
struct TuneProtocol {
  int points_per_decade = 3;   ///< >= 3
  double decades = 2;          ///< width of the first grid, >= 2
  int max_extensions = 4;      ///< grid points added per side at most
  int second_stage_runs = 0;   ///< runs after the grid: secondary values - 1, or step refinements
  std::uint64_t selection_seed = 1;
  /// Run options of the selection runs only (grid, extensions, second stage),
  /// e.g. {"epochs": 1}: shorter runs to choose, full runs to report. Empty:
  /// the selection runs are the finals' runs, and the selection seed's final
  /// run is its selection run.
  nlohmann::json selection = nlohmann::json::object();
  /// The first grid holds positions -h..h, h = round(points_per_decade · decades / 2).
  int half_width() const { return static_cast<int>(std::lround(points_per_decade * decades / 2)); }
};

/// A parsed experiment file.
struct ExperimentFile {
  std::string source;       ///< path (or name) used in messages
  std::string name;
  std::string description;
  ExperimentKind kind = ExperimentKind::Compare;
  nlohmann::json base = nlohmann::json::object();
  std::vector<std::uint64_t> seeds;
  std::optional<double> target_accuracy;  ///< test accuracy that counts as "reached"
  std::vector<LabelledRun> runs;          ///< kind Compare
  std::vector<SweepSpec> sweeps;          ///< kind Sweep
  std::vector<TuneMethod> methods;        ///< kind Tune
  TuneProtocol protocol;                  ///< kind Tune
  nlohmann::json json;                    ///< the file as read (copied next to the results)
};

/// One concrete training run of an experiment.
struct PlannedRun {
  std::string label;            ///< the run's (or sweep's) label
  std::uint64_t seed = 1;
  RunOptions config;            ///< validated (RunSpec(config) does not throw)
  nlohmann::json options;       ///< the keys that distinguish this run from `base` (legend text)
  std::filesystem::path subdir; ///< relative to the output folder
  // Sweeps only:
  std::string param;
  double value = 0;
};

/// Options applied to every run when planning.
struct PlanOptions {
  std::string data_dir;             ///< overrides "data_dir" of every run when non-empty
  std::vector<std::string> only;    ///< keep only these labels (empty: all)
};

/// Parses and checks an experiment. Throws UsageError naming `source` and
/// the key path (e.g. `x.json: runs[2].eta: expected a finite number, got string "a"`)
/// for unknown keys, missing fields, wrong types, empty, repeated or too many
/// seeds, duplicate labels (also labels that map to the same folder name), labels
/// that cannot name a folder ("." or "..", more than kMaxLabelLength), a bad
/// or too large grid (kMaxGridPoints, kMaxPlannedRuns), and any run whose
/// options do not resolve (RunSpec).
ExperimentFile parse_experiment(const nlohmann::json& j, const std::string& source);

/// Reads and parses a file. Throws DataError if it cannot be read or is not
/// JSON (naming the path), UsageError as parse_experiment.
ExperimentFile load_experiment(const std::filesystem::path& path);

/// Every run × seed, in file order (for sweeps: sweep, value, seed); none
/// for kind tune, whose runs depend on earlier results (experiment/tuning.hpp).
/// Compare runs go to `<label>/seed-<s>`, sweep runs to
/// `<label>/<param>-<value>/seed-<s>` (labels made folder-safe).
/// Throws UsageError for an `only` label that the file does not have.
std::vector<PlannedRun> plan_runs(const ExperimentFile& e, const PlanOptions& options = {});

/// The run of tuning method `methods[method]` at `step` (and `secondary`, when
/// the method has one) with `seed`, resolved like plan_runs' runs. Its folder is
/// `<label>/<step>-<v>[/<secondary>-<w>]/seed-<s>`, so a final seed equal to the
/// selection seed reuses the tuning run. With protocol.selection set, a
/// selection run (`selection` true) has those options on top and its folder
/// under `selection/`.
PlannedRun plan_tune_run(const ExperimentFile& e, std::size_t method, double step, std::optional<double> secondary,
                         std::uint64_t seed, const PlanOptions& options = {}, bool selection = false);

/// Throws UsageError for a label of `options.only` that is not a run, sweep or
/// method label of `e`, listing the labels it has.
void check_only_labels(const ExperimentFile& e, const PlanOptions& options);

/// `label` with every character outside [A-Za-z0-9._-] replaced by '-'.
std::string folder_name(const std::string& label);


/// `points` values from `from` to `to` spaced evenly on a log scale, inner
/// values rounded to 3 significant digits (so labels and folder names stay
/// readable). Requires 0 < from < to, 2 <= points <= kMaxGridPoints (UsageError otherwise).
std::vector<double> geometric_grid(double from, double to, int points);

}  // namespace sibp
