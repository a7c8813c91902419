#include "experiment/compare.hpp"

#include <chrono>
#include <cstdio>
#include <map>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"
#include "experiment/layer_plot.hpp"
#include "experiment/report.hpp"
#include "experiment/sweep.hpp"
#include "experiment/tuning.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Options that may differ between a finished run and the plan without
/// making its results different: where the data lives and how many threads.
bool ignored_for_resume(const std::string& key) { return key == "data_dir" || key == "threads"; }

/// Throws UsageError if the complete run in `dir` was trained with options
/// other than `planned`'s.
void check_same_config(const fs::path& dir, const RunOptions& planned) {
  if (!fs::exists(dir / "config.json")) return;
  const json stored = read_run_config(dir);
  const json wanted = run_options_json(planned);  // named: items() refers into it
  for (const auto& [key, value] : wanted.items()) {
    if (ignored_for_resume(key) || !stored.contains(key)) continue;
    if (stored[key] != value)
      throw UsageError(dir.string() + " holds a finished run with " + key + " = " + stored[key].dump() +
                       ", but the experiment now asks for " + value.dump() +
                       "; delete that folder to retrain it, or use another --out");
  }
}

std::string percent(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", *v * 100);
  return buf;
}

std::string fixed(const std::optional<double>& v, int digits) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, *v);
  return buf;
}

std::string data_group_name(const std::string& data) { return folder_name(data); }

}  // namespace

void train_or_skip(const PlannedRun& p, const std::string& tag, const ExperimentOptions& options,
                   Communicator& comm, ExperimentRunReport& report) {
  const bool root = comm.is_root();
  const fs::path dir = options.out_dir / p.subdir;
  std::ostream* log = root ? options.progress : nullptr;
  if (root) {
    const RunFolder::Content c = run_folder_content(dir);
    if (c == RunFolder::Content::Complete || c == RunFolder::Content::Interrupted) check_same_config(dir, p.config);
  }
  char complete = root && run_is_complete(dir) ? 1 : 0;
  if (comm.size() > 1) comm.broadcast(&complete, 1, 0, "which runs are complete");
  if (complete) {
    ++report.skipped;
    if (log) *log << tag << ": already complete in " << dir.string() << ", skipped" << std::endl;
    return;
  }
  if (log)
    *log << tag << ": " << (run_folder_content(dir) == RunFolder::Content::Interrupted ? "resuming" : "training")
         << " (" << to_string(p.config.algo) << ", " << p.config.epochs << " epochs) into " << dir.string()
         << std::endl;
  const auto train = options.train ? options.train
                                   : [&comm](const RunOptions& c, const fs::path& d, const RunHooks& h) {
                                       return run_training(RunSpec(c), d, h, OutputMode::Continue, comm);
                                     };
  const auto start = std::chrono::steady_clock::now();
  const RunOutcome outcome = train(p.config, dir, options.hooks);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++report.trained;
  report.trained_dirs.push_back(dir);
  if (outcome.status == RunStatus::Diverged) ++report.diverged;
  if (log) {
    std::optional<double> loss, acc;
    if (!outcome.rows.empty()) {
      loss = outcome.rows.back().train_loss;
      acc = outcome.rows.back().test_acc;
    }
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", wall);
    if (options.hooks.on_step) *log << "\n";
    *log << tag << ": " << (outcome.status == RunStatus::Diverged ? "DIVERGED (" + outcome.message + ")"
                                                                   : to_string(outcome.status))
         << " in " << secs << " s; final train loss " << fixed(loss, 4) << ", test acc " << percent(acc)
         << std::endl;
  }
}

ExperimentRunReport run_experiment(const ExperimentFile& e, const ExperimentOptions& options) {
  const std::vector<PlannedRun> plan = plan_runs(e, options.plan);
  Communicator& comm = options.comm ? *options.comm : single_process();
  if (e.kind == ExperimentKind::Tune && comm.size() > 1)
    throw UsageError(e.source + ": a tuning experiment runs in one process (each run is chosen from the results "
                                "before it); run it without mpirun");
  const bool root = comm.is_root();
  // Rank 0 checks the folder; the others learn whether it may go on (a refusal
  // there must not leave them waiting in the first run's collectives).
  std::optional<RunFolder> lock;
  char ok = 1;
  try {
    if (root) {
      find_gnuplot();  // fail now, not after hours of training
      lock.emplace(options.out_dir);  // one writer of the summary, plots and report
      for (const PlannedRun& p : plan) {
        const RunFolder::Content c = run_folder_content(options.out_dir / p.subdir);
        if (c == RunFolder::Content::Complete || c == RunFolder::Content::Interrupted)
          check_same_config(options.out_dir / p.subdir, p.config);
      }
      write_file_atomic(options.out_dir / "experiment.json", e.json.dump(2) + "\n");
    }
  } catch (...) {
    ok = 0;
    if (comm.size() > 1) comm.broadcast(&ok, 1, 0, "the experiment folder's check");
    throw;
  }
  if (comm.size() > 1) comm.broadcast(&ok, 1, 0, "the experiment folder's check");
  if (!ok)
    throw UsageError("rank 0 refused the experiment folder " +
                     options.out_dir.string() + " (its message says why)");

  ExperimentRunReport report;
  report.planned = static_cast<int>(plan.size());
  if (e.kind == ExperimentKind::Tune)  // its runs depend on earlier results
    report.planned = run_tuning(e, options.plan, options.out_dir, [&](const PlannedRun& p, const std::string& tag) {
      train_or_skip(p, tag, options, comm, report);
    });
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const PlannedRun& p = plan[i];
    const std::string tag = "[" + std::to_string(i + 1) + "/" + std::to_string(plan.size()) + "] " + p.label +
                            (p.param.empty() ? "" : " " + p.param + "=" + format_number(p.value)) + " seed " +
                            std::to_string(p.seed);
    train_or_skip(p, tag, options, comm, report);
  }
  std::ostream* log = root ? options.progress : nullptr;
  if (!root) return report;
  report.outputs = write_experiment_outputs(options.out_dir, e);
  if (log) *log << "report: " << report.outputs.report.string() << std::endl;
  return report;
}

ExperimentOutputs write_experiment_outputs(const fs::path& dir, const ExperimentFile& e, bool plots) {
  const std::vector<PlannedRun> plan = plan_runs(e);
  const std::vector<RunResult> results = read_results(dir, plan);
  const Gnuplot gnuplot = plots ? find_gnuplot() : Gnuplot{};
  ExperimentOutputs out;
  ReportContent content;
  content.experiment = &e;
  auto relative = [&](const fs::path& p) { return fs::relative(p, dir).generic_string(); };
  auto add_images = [&](const std::string& heading, const std::vector<PlotFiles>& plots) {
    std::vector<ReportContent::Image> images;
    for (const PlotFiles& f : plots) {
      images.push_back({f.caption, relative(f.png), relative(f.svg)});
      out.plots.push_back(f);
    }
    content.image_groups.emplace_back(heading, std::move(images));
  };

  std::vector<SweepSummary> sweeps;
  if (e.kind == ExperimentKind::Tune) {
    out.table = dir / "tuning.json";
    const TuningOutputs tuning = write_tuning_outputs(dir, e);
    content.tuning_markdown = tuning.markdown;
    content.compare = summarize_compare(tuning.finals, e.target_accuracy);
    if (plots && !tuning.finals.empty())
      add_images("Plots: final runs", plot_curves(gnuplot, dir / "plots", make_curves(tuning.finals)));
  } else if (e.kind == ExperimentKind::Compare) {
    content.compare = summarize_compare(results, e.target_accuracy);
    out.table = dir / "summary.csv";
    write_summary_csv(out.table, content.compare, e.target_accuracy);
    // One set of plots per data set: curves of different data do not share axes.
    std::vector<std::string> datasets;
    std::map<std::string, std::vector<RunResult>> by_data;
    for (const RunResult& r : results) {
      if (!by_data.count(r.plan.config.data)) datasets.push_back(r.plan.config.data);
      by_data[r.plan.config.data].push_back(r);
    }
    for (const std::string& data : datasets) {
      if (!plots) break;
      const fs::path plot_dir = datasets.size() == 1 ? dir / "plots" : dir / "plots" / data_group_name(data);
      add_images("Plots: `" + data + "`", plot_curves(gnuplot, plot_dir, make_curves(by_data[data])));
      // Runs trained with --diagnostics: their per-layer columns against layer index (layer_plot.hpp).
      const std::vector<PlotFiles> layers = plot_layer_diagnostics(gnuplot, plot_dir / "layers", by_data[data]);
      if (!layers.empty()) add_images("Per-layer diagnostics: `" + data + "`", layers);
    }
  } else {
    std::vector<SweepPoint> points;
    for (const RunResult& r : results) points.push_back(classify_sweep_run(r));
    out.table = dir / "sweep.csv";
    write_sweep_csv(out.table, points);
    sweeps = summarize_sweeps(e, points);
    content.sweeps_markdown = sweep_markdown(sweeps);
    if (plots) add_images("Plot", {plot_sweeps(gnuplot, dir / "plots", sweeps)});
  }
  out.report = dir / "report.md";
  write_report(out.report, content);
  return out;
}

ExperimentOutputs regenerate_outputs(const fs::path& dir) {
  const fs::path file = dir / "experiment.json";
  if (!fs::exists(file))
    throw DataError(dir.string() + " holds no experiment.json: expected the --out folder of `sibp compare` or "
                                   "`sibp sweep` (or of `sibp train`: config.json and metrics.csv)");
  return write_experiment_outputs(dir, load_experiment(file));
}

}  // namespace sibp
