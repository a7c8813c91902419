#pragma once
/// Each `sibp` subcommand registers itself on the top-level CLI11 app.
/// Only apps/ sees argv or decides exit codes (DESIGN.md): library errors
/// are exceptions that main() maps — UsageError → 2, DataError → 1.
#include <CLI/CLI.hpp>

#include "core/communicator.hpp"
namespace sibp::cli {

/// Thrown by a command that has already said what it had to say and must
/// end the process with `code` (e.g. 3 for a diverged run).
struct Exit {
  int code = 0;
};

/// The processes of this job (MPI's world under mpirun, else one), made once by
/// main() before any command runs (README, "Across processes").
Communicator& communicator();

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
