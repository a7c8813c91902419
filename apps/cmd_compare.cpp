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
namespace {

struct CompareArgs {
  std::string file;
  std::string out;
  std::string data_dir;
  std::vector<std::string> only;
};

void run(const CompareArgs& args) {
  const ExperimentFile experiment = load_experiment(args.file);
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
  const ExperimentRunReport report = run_experiment(experiment, options);
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
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Run every run x seed of an experiment file (experiments/*.json) into DIR/<label>/seed-<s>/, skipping runs "
      "already complete (an interrupted comparison resumes), then write DIR/summary.csv, plots and DIR/report.md. "
      "A file of kind \"sweep\" is run as `sibp sweep` would.");
  cmd->add_option("FILE", args->file, "Experiment file (JSON)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Output folder (created if needed; reused to resume)")->required();
  cmd->add_option("--data-dir", args->data_dir,
                  "Folder of fetched data sets for every run (default: $SIBP_DATA_DIR or ./data)");
  cmd->add_option("--only", args->only, "Run only these labels (repeatable); the report still covers every run "
                                        "found in --out");
  cmd->callback([args] { run(*args); });
}

}  // namespace sibp::cli
