#pragma once
/// A finished experiment's results as one small file that can be committed:
/// a results bundle. It holds what the tables and plots are made from and
/// nothing else (no models, no checkpoints):
///
///     {"format": "sibp-results-bundle", "format_version": 1,
///      "source": "experiments/quick-mnist.json",   // the experiment file, as the report names it
///      "experiment": { ...experiment.json... },
///      "runs": [{"dir": "sgd-0.1/seed-1",          // the run's folder, as plan_runs names it
///                "config": { ...config.json... },   // the run's resolved options
///                "result": { ...result.json... },   // status, message, timings
///                "metrics_csv": "epoch,iteration,...\n..."},  // metrics.csv, verbatim
///               ...]}
///
/// as one JSON document, gzip-compressed (BUNDLE.json.gz; a plain .json reads
/// too). Only finished runs (with result.json) are packed; a planned run that
/// is absent is reported as not run, as in its results folder. A tuning
/// ("kind": "tune") packs the runs a replay of its protocol reaches.
///
/// unpack_bundle writes these files back into a folder laid out as the
/// output of `sibp compare` / `sibp sweep`, so the report code
/// (write_experiment_outputs) reads a bundle exactly as it reads the
/// folder it was packed from.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiment/experiment_file.hpp"

namespace sibp {

inline constexpr const char* kBundleFormat = "sibp-results-bundle";
inline constexpr int kBundleFormatVersion = 1;

/// One finished run of a bundle.
struct BundledRun {
  std::string dir;             ///< relative to the experiment folder, e.g. "sgd-0.1/seed-1"
  nlohmann::json config;       ///< config.json
  nlohmann::json result;       ///< result.json (an object with a string "status")
  std::string metrics_csv;     ///< metrics.csv as written by write_metrics
};

struct ResultsBundle {
  std::string source;             ///< the experiment file the report names (ExperimentFile::source)
  nlohmann::json experiment;      ///< experiment.json
  std::vector<BundledRun> runs;   ///< in plan order
  int planned = 0;                ///< runs the experiment plans (finished or not); a tuning: the runs packed
};

/// The experiment file to name in reports of `dir`'s bundle:
/// experiments/NAME.json (relative to the working directory) when it exists
/// and holds the same experiment as dir/experiment.json, else
/// dir/experiment.json.
std::string default_experiment_source(const std::filesystem::path& dir);

/// Packs the --out folder of `sibp compare` / `sibp sweep`: its
/// experiment.json and, for every planned run that finished, its
/// config.json, result.json and metrics.csv. `source` is the experiment file
/// the report names; empty: default_experiment_source(dir).
/// Throws DataError naming the file for one that is missing or malformed
/// (the same checks as read_bundle), and naming `dir` when no run finished.
ResultsBundle pack_results(const std::filesystem::path& dir, const std::string& source = "");

/// Writes `bundle` gzip-compressed (atomically). The bytes depend only on
/// the bundle's content, so packing the same results twice gives the same file.
void write_bundle(const std::filesystem::path& path, const ResultsBundle& bundle);

/// Reads and checks a bundle. Throws DataError naming `path` and the field
/// (e.g. `b.json.gz: runs[2].result: missing field "status" (a string)`) for
/// a file that is truncated, not gzip or JSON, of another format or version,
/// missing a field or holding one of the wrong type, an experiment that does
/// not parse, a run folder the experiment does not plan (or twice), or
/// metrics that do not parse.
ResultsBundle read_bundle(const std::filesystem::path& path);

/// The experiment of a bundle, parsed, with `source` as its file name.
ExperimentFile bundle_experiment(const ResultsBundle& bundle, const std::string& where);

/// Writes the bundle's files into `dir` as a results folder: experiment.json
/// and per run DIR/config.json, result.json and metrics.csv. `sibp plot dir`
/// then works on it.
void unpack_bundle(const ResultsBundle& bundle, const std::filesystem::path& dir);

}  // namespace sibp
