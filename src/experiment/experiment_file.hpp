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
/// A run's options are `base` overlaid with the run's own keys (for sweeps:
/// the sweep's `base`, then `param` = value) and the seed. Every run is read
/// and resolved (RunSpec) when the file is loaded, so a typo in the last run
/// fails before the first one trains. A run's own keys must apply to its
/// algorithm ("eta" in an sgd run is an error); `base` keys need not.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/format.hpp"
#include "experiment/run_options.hpp"

namespace sibp {

enum class ExperimentKind { Compare, Sweep };

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

/// Every run × seed, in file order (for sweeps: sweep, value, seed).
/// Compare runs go to `<label>/seed-<s>`, sweep runs to
/// `<label>/<param>-<value>/seed-<s>` (labels made folder-safe).
/// Throws UsageError for an `only` label that the file does not have.
std::vector<PlannedRun> plan_runs(const ExperimentFile& e, const PlanOptions& options = {});

/// `label` with every character outside [A-Za-z0-9._-] replaced by '-'.
std::string folder_name(const std::string& label);


/// `points` values from `from` to `to` spaced evenly on a log scale, inner
/// values rounded to 3 significant digits (so labels and folder names stay
/// readable). Requires 0 < from < to, 2 <= points <= kMaxGridPoints (UsageError otherwise).
std::vector<double> geometric_grid(double from, double to, int points);

}  // namespace sibp
