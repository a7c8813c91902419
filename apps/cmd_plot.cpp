// `sibp plot DIR`: redo the tables, plots and report of a comparison or
// sweep from its metrics files alone (no retraining, no data needed).
#include <iostream>
#include <memory>

#include "apps/commands.hpp"
#include "experiment/compare.hpp"

namespace sibp::cli {

void register_plot(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "plot",
      "Regenerate the plots (SVG, PNG and their gnuplot scripts), summary table and report.md of a `sibp compare` "
      "or `sibp sweep` output folder from its metrics files, without retraining");
  cmd->add_option("DIR", *dir, "Output folder of sibp compare / sibp sweep")->required()->check(CLI::ExistingDirectory);
  cmd->callback([dir] {
    const ExperimentOutputs out = regenerate_outputs(*dir);
    std::cout << "table:  " << out.table.string() << "\n";
    std::cout << "report: " << out.report.string() << "\n";
    for (const PlotFiles& p : out.plots) std::cout << "plot:   " << p.svg.string() << "\n";
  });
}

}  // namespace sibp::cli
