#pragma once
/// Command-line options of SIBP (ALGORITHMS.md §3), shared by the commands
/// that train with it.
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "train/sibp.hpp"

namespace sibp::cli {

/// The SIBP options as typed, before parsing into SibpOptions.
struct SibpCliStrings {
  std::string lambda = "1";
  std::string solver = "reference";
  std::string update = "sequential";
  std::vector<std::string> quirks;
  std::string compat;
};

/// Adds --eta, --lambda, --solver, --solver-iters, --update, --quirk,
/// --compat to `cmd` (in the group "SIBP"). Numbers go straight into
/// `options`; text goes into `raw` for sibp_finalize_options().
/// Requires: `options` and `raw` outlive the parse.
void add_sibp_options(CLI::App& cmd, SibpOptions& options, SibpCliStrings& raw);

/// Parses `raw` into `options` and validates them. Throws UsageError naming
/// the option.
void finalize_sibp_options(const SibpCliStrings& raw, SibpOptions& options);

}  // namespace sibp::cli
