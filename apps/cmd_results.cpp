// `sibp results pack|unpack|regenerate`: experiment results as committed
// data (docs/data/results/*.json.gz) and the reports and document tables
// regenerated from them (experiment/results_bundle.hpp, results_docs.hpp).
#include <iostream>
#include <memory>

#include "apps/commands.hpp"
#include "experiment/results_bundle.hpp"
#include "experiment/results_docs.hpp"

namespace sibp::cli {

namespace {

void register_pack(CLI::App& results) {
  struct Args {
    std::string dir, bundle, source;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = results.add_subcommand(
      "pack", "Pack the output folder of `sibp compare` / `sibp sweep` into one results bundle (gzip-compressed "
              "JSON: the experiment and, per finished run, its config.json, result.json and metrics.csv; no models "
              "or checkpoints), to commit as docs/data/results/NAME.json.gz");
  cmd->add_option("DIR", a->dir, "Output folder of sibp compare / sibp sweep")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("BUNDLE", a->bundle, "The bundle to write, e.g. docs/data/results/NAME.json.gz")->required();
  cmd->add_option("--source", a->source,
                  "The experiment file the regenerated report names (default: experiments/NAME.json when it holds "
                  "the same experiment as DIR/experiment.json, else DIR/experiment.json)");
  cmd->callback([a] {
    const ResultsBundle b = pack_results(a->dir, a->source);
    write_bundle(a->bundle, b);
    if (b.experiment.value("kind", "") == "tune")  // its runs are those its protocol reached
      std::cout << "packed the " << b.runs.size() << " runs the tuning protocol reached into " << a->bundle << "\n";
    else
      std::cout << "packed " << b.runs.size() << " of " << b.planned << " planned runs into " << a->bundle << "\n";
  });
}

void register_unpack(CLI::App& results) {
  struct Args {
    std::string bundle, dir;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = results.add_subcommand(
      "unpack", "Write a results bundle back as a results folder (experiment.json and per run config.json, "
                "result.json, metrics.csv), which `sibp plot` reads");
  cmd->add_option("BUNDLE", a->bundle, "A results bundle written by sibp results pack")->required()->check(CLI::ExistingFile);
  cmd->add_option("DIR", a->dir, "The folder to write")->required();
  cmd->callback([a] {
    const ResultsBundle b = read_bundle(a->bundle);
    unpack_bundle(b, a->dir);
    std::cout << "unpacked " << b.runs.size() << " runs into " << a->dir << "\n";
  });
}

void register_regenerate(CLI::App& results) {
  struct Args {
    std::string root = ".";
    bool check = false, no_plots = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = results.add_subcommand(
      "regenerate",
      std::string("From every bundle ") + kBundleFolder + "/NAME" + kBundleExtension + ", regenerate " +
          kBundleReportFolder + "/NAME/ (report.md, summary.csv or sweep.csv, plots) and every table between "
          "`<!-- generated: NAME/TABLE -->` and `<!-- end generated -->` in README.md and docs/*.md; no training, "
          "no data sets");
  cmd->add_option("--root", a->root, "The repository's root folder")->check(CLI::ExistingDirectory);
  cmd->add_flag("--check", a->check,
                "Write nothing: regenerate the tables into a temporary folder and exit 1 naming every committed "
                "table that differs (file, block, first differing line); plots are not compared");
  cmd->add_flag("--no-plots", a->no_plots, "Regenerate the tables and reports only (no gnuplot needed)");
  cmd->callback([a] {
    RegenerateOptions o;
    o.root = a->root;
    o.check = a->check;
    o.plots = !a->no_plots;
    o.log = &std::cout;
    const RegenerateResult r = regenerate_results(o);
    for (const std::string& s : r.stale) std::cerr << "stale: " << s << "\n";
    std::cout << r.bundles << " bundles, " << r.blocks << " generated blocks"
              << (a->check ? (r.stale.empty() ? ": all current" : ": " + std::to_string(r.stale.size()) + " stale")
                           : ": regenerated")
              << "\n";
    if (!r.stale.empty()) throw Exit{1};
  });
}

}  // namespace

void register_results(CLI::App& app) {
  CLI::App* results = app.add_subcommand(
      "results", "Experiment results as committed data: pack a results folder into a bundle, unpack one, and "
                 "regenerate every report and document table from the committed bundles");
  results->require_subcommand(1);
  register_pack(*results);
  register_unpack(*results);
  register_regenerate(*results);
}

}  // namespace sibp::cli
