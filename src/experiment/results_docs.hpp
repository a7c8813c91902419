#pragma once
/// `sibp results regenerate`: every committed results bundle's report, and
/// every document's generated tables, remade from the bundles alone (no
/// training, no data sets).
///
/// Layout, relative to the repository root:
///
///     docs/data/results/NAME.json.gz   the bundles (results_bundle.hpp)
///     docs/results/NAME/               each bundle's report.md, summary.csv or
///                                      sweep.csv, and plots/ (PNG and SVG)
///     README.md, docs/*.md             the documents whose generated blocks
///                                      (generated_blocks.hpp) are rewritten
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace sibp {

inline constexpr const char* kBundleFolder = "docs/data/results";
inline constexpr const char* kBundleReportFolder = "docs/results";
inline constexpr const char* kBundleExtension = ".json.gz";

struct RegenerateOptions {
  std::filesystem::path root;     ///< the repository
  /// Write nothing: regenerate the tables into a temporary folder and
  /// compare them with the committed ones (no plots, no gnuplot needed).
  bool check = false;
  bool plots = true;              ///< without check: also write the plots (needs gnuplot)
  std::ostream* log = nullptr;    ///< what was regenerated, one line per file
};

struct RegenerateResult {
  int bundles = 0;
  int blocks = 0;                  ///< generated blocks in the documents
  /// check: one message per committed table that differs from its
  /// regeneration (naming the file, the block and the first differing
  /// line), or per regenerated file that is missing.
  std::vector<std::string> stale;
};

/// Regenerates (or with options.check, compares) every bundle's outputs and
/// every generated block. Throws DataError naming the file and field for a
/// corrupt bundle, and naming the document and line for a block whose
/// marker is malformed or names a bundle, table or column that does not exist.
RegenerateResult regenerate_results(const RegenerateOptions& options);

}  // namespace sibp
