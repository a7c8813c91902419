#pragma once
/// Each `sibp` subcommand registers itself on the top-level CLI11 app.
/// Only apps/ sees argv or decides exit codes (DESIGN.md): library errors
/// are exceptions that main() maps — UsageError → 2, DataError → 1.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/communicator.hpp"

namespace sibp {
struct ExperimentOptions;
}

namespace sibp::cli {

/// Thrown by a command that has already said what it had to say and must
/// end the process with `code` (e.g. 3 for a diverged run).
struct Exit {
  int code = 0;
};

/// The processes of this job (MPI's world under mpirun, else one), made once by
/// main() before any command runs (README, "Across processes").
Communicator& communicator();

/// What `sibp compare` and `sibp sweep` take: an experiment file, the output
/// folder, the data folder and the labels to run (apps/cmd_compare.cpp).
struct ExperimentArgs {
  std::string file;
  std::string out;
  std::string data_dir;
  std::vector<std::string> only;
};
/// Registers the subcommand `name` of `app` taking FILE, --out, --data-dir and
/// --only (described by `only_help`), which calls `run` with them.
void add_experiment_command(CLI::App& app, const std::string& name, const std::string& help,
                            const std::string& only_help, std::function<void(const ExperimentArgs&)> run);
/// The library's options for running `args` in this job, with a progress line
/// on stderr when it is a terminal.
ExperimentOptions experiment_options(const ExperimentArgs& args);

void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_data(CLI::App& app);
void register_reference_step(CLI::App& app);
void register_compare(CLI::App& app);
void register_plot(CLI::App& app);
void register_sweep(CLI::App& app);
void register_options(CLI::App& app);
void register_results(CLI::App& app);

}  // namespace sibp::cli
