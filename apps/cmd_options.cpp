// `sibp options`: the option reference, generated from the option table
// (docs/options.md is its --markdown output; a CTest compares the two).
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "experiment/run_options.hpp"

namespace sibp::cli {

void register_options(CLI::App& app) {
  auto* cmd = app.add_subcommand("options", "Print the options of `sibp train` (the option table) as Markdown");
  auto markdown = std::make_shared<bool>(false);
  cmd->add_flag("--markdown", *markdown, "Markdown (the default and only format; docs/options.md is this output)");
  cmd->callback([markdown] { std::cout << run_options_markdown(); });
}

}  // namespace sibp::cli
