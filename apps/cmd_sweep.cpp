// `sibp sweep FILE --out DIR`: a step-size sweep (experiment file of kind
// "sweep"): each value x seed trained briefly, then sweep.csv, the
// accuracy-against-step-size plot, and the largest stable step per sweep.
// A file of kind "tune" runs the tuning protocol (experiment/tuning.hpp).
#include <iostream>
#include <memory>

#include "apps/commands.hpp"
#include "core/error.hpp"
#include "experiment/compare.hpp"

namespace sibp::cli {
namespace {

void run(const ExperimentArgs& args) {
  const ExperimentFile experiment = load_experiment(args.file);
  if (experiment.kind == ExperimentKind::Compare)
    throw UsageError(args.file + ": is an experiment of kind \"compare\"; run it with `sibp compare`");
  const ExperimentRunReport report = run_experiment(experiment, experiment_options(args));
  if (!communicator().is_root()) return;  // rank 0 reports (README, "Across processes")
  std::cout << report.planned << " runs: " << report.trained << " trained now (" << report.diverged
            << " stopped on a non-finite step), " << report.skipped << " already complete\n";
  std::cout << "table:  " << report.outputs.table.string() << "\n";
  std::cout << "report: " << report.outputs.report.string()
            << (experiment.kind == ExperimentKind::Tune ? " (each method's chosen setting and its seeds)"
                                                        : " (largest stable step per sweep)")
            << "\n";
  for (const PlotFiles& p : report.outputs.plots) std::cout << "plot:   " << p.svg.string() << "\n";
}

}  // namespace

void register_sweep(CLI::App& app) {
  add_experiment_command(
      app, "sweep",
      "Run a step-size sweep (experiment file of kind \"sweep\") into DIR, resuming an interrupted one; write "
      "DIR/sweep.csv, the test-accuracy-against-step-size plot and DIR/report.md with each sweep's largest stable "
      "step. A run counts as diverged if it stops on a non-finite step, ends with a training loss not clearly below (95% of) its "
      "initial one, or ends with a non-finite metric. A file of kind \"tune\" runs the tuning protocol instead: each "
      "method's step grid (extended while the best step is at an end) and second stage on the validation split, then "
      "every seed at the chosen setting; DIR/tuning.json and DIR/report.md.",
      "Run only these sweep (or method) labels (repeatable)", run);
}

}  // namespace sibp::cli
