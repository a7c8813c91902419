#pragma once
/// The per-run metrics files: one row per evaluation point, as CSV (for
/// spreadsheets, gnuplot, and re-plotting without retraining) and as JSON.
///
/// Columns, in order:
///   epoch,iteration,seconds,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc
/// followed by the `extra` names of the rows (e.g. grad_norm), in order of
/// first appearance over all rows. A missing optional value (or an extra
/// column a row does not have) is an empty CSV cell and a JSON null.
///
/// Numbers are written in the shortest form that reads back to the same
/// double (std::to_chars), so read_metrics_csv(write_metrics(rows)) == rows.
/// Non-finite values are written as nan / inf / -inf in CSV; JSON has no
/// spelling for them, so they are null there and the CSV is the lossless file.
#include <filesystem>
#include <string>
#include <vector>

#include "train/fit.hpp"

namespace sibp {

/// Names of the fixed leading columns, in order.
inline const std::vector<std::string>& metrics_base_columns() {
  static const std::vector<std::string> names{"epoch",    "iteration", "seconds",   "train_loss", "train_acc",
                                              "val_loss", "val_acc",   "test_loss", "test_acc"};
  return names;
}

/// The contents of metrics.csv and metrics.json for `rows` (Requires: as write_metrics).
struct MetricsText {
  std::string csv, json;
};
MetricsText metrics_text(const std::vector<MetricsRow>& rows);

/// Writes `dir`/metrics.csv and `dir`/metrics.json from scratch, each
/// atomically (a reader sees the previous or the new file, never a mix).
/// Meant to be called after every evaluation point; the files are small.
///
/// Requires: `dir` exists; every extra name is non-empty, has no ',', '"',
///   CR or LF, is not a base column name and appears at most once per row
///   (throws std::invalid_argument naming the column otherwise).
/// Throws DataError naming the file if it cannot be written.
void write_metrics(const std::filesystem::path& dir, const std::vector<MetricsRow>& rows);

/// Reads a metrics.csv written by write_metrics.
///
/// Ensures: empty optional cells are nullopt, and empty extra cells are left
///   out of the row's `extra` (so rows with different extras round-trip).
/// Throws DataError naming file:line for a header that does not start with
/// the base columns, a row with the wrong number of cells, or a cell that is
/// not a number (iteration must be an integer); and naming the file if it
/// cannot be read or is empty.
std::vector<MetricsRow> read_metrics_csv(const std::filesystem::path& path);

/// read_metrics_csv of text already in memory (e.g. from a results bundle);
/// `source` names it in messages where read_metrics_csv names the file.
std::vector<MetricsRow> parse_metrics_csv(const std::string& text, const std::string& source);

}  // namespace sibp
