// `sibp compare FILE --out DIR`: every run of an experiment file, then the
// summary table, plots and report (src/experiment/compare.hpp). A sweep
// file is dispatched to the same machinery, so `compare` runs either kind.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "apps/commands.hpp"
#include "experiment/compare.hpp"

namespace sibp::cli {

void add_experiment_command(CLI::App& app, const std::string& name, const std::string& help,
                            const std::string& only_help, std::function<void(const ExperimentArgs&)> run) {
  auto args = std::make_shared<ExperimentArgs>();
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_option("FILE", args->file, "Experiment file (JSON)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Output folder (created if needed; reused to resume)")->required();
  cmd->add_option("--data-dir", args->data_dir,
                  "Folder of fetched data sets for every run (default: $SIBP_DATA_DIR or ./data)");
  cmd->add_option("--only", args->only, only_help);
  cmd->callback([args, run] { run(*args); });
}

ExperimentOptions experiment_options(const ExperimentArgs& args) {
  ExperimentOptions options;
  options.out_dir = args.out;
  options.plan.data_dir = args.data_dir;
  options.plan.only = args.only;
  options.progress = &std::cerr;
  options.comm = &communicator();
  if (::isatty(STDERR_FILENO) == 1) {
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    options.hooks.on_step = [last](const StepInfo& info) {
      const auto now = std::chrono::steady_clock::now();
      if (info.iteration != info.total_iterations && now - *last < std::chrono::milliseconds(250)) return;
      *last = now;
      std::fprintf(stderr, "\r    epoch %d  iter %lld/%lld  loss %.4f  %.0f s   ", info.epoch, info.iteration,
                   info.total_iterations, info.loss, info.seconds);
      std::fflush(stderr);
    };
  }
  return options;
}

namespace {

void run(const ExperimentArgs& args) {
  const ExperimentFile experiment = load_experiment(args.file);
  const ExperimentRunReport report = run_experiment(experiment, experiment_options(args));
  if (!communicator().is_root()) return;  // rank 0 reports (README, "Across processes")
  std::cout << report.planned << " runs: " << report.trained << " trained now (" << report.diverged
            << " diverged), " << report.skipped << " already complete\n";
  std::cout << "table:  " << report.outputs.table.string() << "\n";
  std::cout << "report: " << report.outputs.report.string() << "\n";
  std::cout << "plots:  " << report.outputs.plots.size() << " (SVG and PNG, gnuplot scripts alongside) in "
            << (report.outputs.plots.empty() ? std::string("-")
                                             : report.outputs.plots.front().svg.parent_path().string())
            << "\n";
}

}  // namespace

void register_compare(CLI::App& app) {
  add_experiment_command(
      app, "compare",
      "Run every run x seed of an experiment file (experiments/*.json) into DIR/<label>/seed-<s>/, skipping runs "
      "already complete (an interrupted comparison resumes), then write DIR/summary.csv, plots and DIR/report.md. "
      "A file of kind \"sweep\" is run as `sibp sweep` would.",
      "Run only these labels (repeatable); the report still covers every run found in --out", run);
}

}  // namespace sibp::cli
