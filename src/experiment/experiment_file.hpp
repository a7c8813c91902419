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
/// A run's RunConfig is `base` overlaid with the run's own keys (for sweeps:
/// the sweep's `base`, then `param` = value) and the seed. Every run is
/// checked through RunConfig::from_json and validate() when the file is
/// loaded, so a typo in the last run fails before the first one trains.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiment/run_config.hpp"

namespace sibp {

enum class ExperimentKind { Compare, Sweep };
std::string to_string(ExperimentKind k);

/// One labelled configuration of a comparison.
struct RunSpec {
  std::string label;
  nlohmann::json options;  ///< the run's own RunConfig keys (without "label"), an object
};

/// One step-size sweep: `param` takes each of `values` on top of `base`.
struct SweepSpec {
  std::string label;
  nlohmann::json base = nlohmann::json::object();  ///< RunConfig keys of this sweep
  std::string param;                               ///< a floating-point RunConfig key, or "lambda"
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
  std::vector<RunSpec> runs;              ///< kind Compare
  std::vector<SweepSpec> sweeps;          ///< kind Sweep
  nlohmann::json json;                    ///< the file as read (copied next to the results)
};

/// One concrete training run of an experiment.
struct PlannedRun {
  std::string label;            ///< the run's (or sweep's) label
  std::uint64_t seed = 1;
  RunConfig config;             ///< validated
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
/// the key path (e.g. `x.json: runs[2].eta must be a number, got string "a"`)
/// for unknown keys, missing fields, wrong types, empty or repeated seeds,
/// duplicate labels (also labels that map to the same folder name), a bad
/// grid, and any run whose merged RunConfig fails from_json or validate().
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

/// The shortest decimal text that reads back to `v` ("0.1", "1e-05").
std::string format_number(double v);

/// `points` values from `from` to `to` spaced evenly on a log scale, inner
/// values rounded to 3 significant digits (so labels and folder names stay
/// readable). Requires 0 < from < to, points >= 2 (UsageError otherwise).
std::vector<double> geometric_grid(double from, double to, int points);

}  // namespace sibp
