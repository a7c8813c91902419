#pragma once
/// Each `sibp` subcommand registers itself on the top-level CLI11 app.
/// Only apps/ sees argv or decides exit codes (DESIGN.md).
#include <CLI/CLI.hpp>

namespace sibp::cli {

void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_data(CLI::App& app);
void register_reference_step(CLI::App& app);

}  // namespace sibp::cli
