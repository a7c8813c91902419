#pragma once
/// Plots of an experiment with gnuplot, run as a subprocess. Each plot
/// keeps its generated script (`NAME.gp`) and data files next to the images,
/// so a user can restyle a figure and re-run `gnuplot NAME.gp` in that folder.
#include <filesystem>
#include <string>
#include <vector>

#include "experiment/report.hpp"
#include "experiment/sweep.hpp"

namespace sibp {

/// The gnuplot program and the PNG terminal it supports.
struct Gnuplot {
  std::string program;       ///< as passed to execvp
  std::string png_terminal;  ///< "pngcairo", or "png" when cairo is not built in
};

/// Finds gnuplot: $SIBP_GNUPLOT if set, else `gnuplot` on PATH, and asks it
/// (`gnuplot -e 'set terminal'`) which PNG terminal it has.
/// Throws DataError naming gnuplot (and the Debian package gnuplot-nox) if it
/// cannot be run, or if it has neither an svg nor a png terminal.
Gnuplot find_gnuplot();

/// `s` as a gnuplot single-quoted string: only ' needs escaping (as ''), and a
/// line break becomes a space.
std::string gq(const std::string& s);

/// Runs `gnuplot SCRIPT` with the script's folder as working directory.
/// A script written by sibp writes NAME.svg and NAME.png; with a non-empty
/// `output_prefix` it writes PREFIX + NAME.svg and PREFIX + NAME.png instead
/// (the plot functions draw into temporary names and rename them).
/// Throws DataError naming the script and quoting gnuplot's error output if
/// gnuplot fails.
void run_gnuplot(const Gnuplot& gnuplot, const std::filesystem::path& script, const std::string& output_prefix = "");

/// One evaluation point of a label's curve, aggregated over seeds.
struct CurvePoint {
  double epoch = 0;
  double seconds = 0;  ///< mean over the seeds that have this point
  /// For train_loss, train_acc, test_acc: mean, min, max (NaN when no seed has a finite value).
  double value[3][3];
};

/// One line of a plot: a label's runs, mean over seeds with the min–max band.
struct Curve {
  std::string label;
  std::string title;  ///< legend: label and hyper-parameters
  std::vector<CurvePoint> points;
};

/// Aggregates the complete runs of each label (in plan order), matching
/// evaluation points by iteration (the seeds of a label share one schedule).
std::vector<Curve> make_curves(const std::vector<RunResult>& results);

/// A plotted image in both formats (paths absolute). Each image is replaced
/// only by a complete new one (gnuplot draws into a temporary file in the
/// same folder, renamed once it ends with </svg> or the PNG IEND chunk), so
/// a failure leaves the previous images and no temporary file.
struct PlotFiles {
  std::string caption;
  std::filesystem::path script, svg, png;
};

/// Training loss (log y), training accuracy and test accuracy against
/// epochs, then the same three against wall-clock seconds, into `plot_dir`.
std::vector<PlotFiles> plot_curves(const Gnuplot& gnuplot, const std::filesystem::path& plot_dir,
                                   const std::vector<Curve>& curves);

/// Final test accuracy against the swept value (log x when every value is
/// positive), one line per sweep (mean over seeds), diverged values marked.
PlotFiles plot_sweeps(const Gnuplot& gnuplot, const std::filesystem::path& plot_dir,
                      const std::vector<SweepSummary>& sweeps);

}  // namespace sibp
