// `sibp plot DIR`: redo the tables, plots and report of a comparison or
// sweep from its metrics files alone (no retraining, no data needed).
#include <iostream>
#include <memory>

#include "apps/commands.hpp"
#include "experiment/compare.hpp"
#include "experiment/layer_plot.hpp"

namespace sibp::cli {

void register_plot(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "plot",
      "Regenerate the plots (SVG, PNG and their gnuplot scripts), summary table and report.md of a `sibp compare` "
      "or `sibp sweep` output folder from its metrics files, without retraining; for the folder of one `sibp train` "
      "run, its curves and (with --diagnostics) its per-layer diagnostics, into DIR/plots/");
  cmd->add_option("DIR", *dir, "Output folder of sibp compare / sibp sweep, or of one sibp train run")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->callback([dir] {
    if (is_run_folder(*dir)) {  // one `sibp train` folder: its curves and per-layer diagnostics
      for (const PlotFiles& p : plot_run_folder(*dir)) std::cout << "plot:   " << p.svg.string() << "\n";
      return;
    }
    const ExperimentOutputs out = regenerate_outputs(*dir);
    std::cout << "table:  " << out.table.string() << "\n";
    std::cout << "report: " << out.report.string() << "\n";
    for (const PlotFiles& p : out.plots) std::cout << "plot:   " << p.svg.string() << "\n";
  });
}

}  // namespace sibp::cli
