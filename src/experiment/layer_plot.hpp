#pragma once
/// Per-layer diagnostics plotted against layer index: the `layer<i>_*`
/// columns that `--diagnostics` adds to metrics.csv (train/fit.hpp), one line
/// per evaluation point coloured by its epoch. This is where vanishing
/// gradients show: layer<i>_grad_norm falling towards the input side, and
/// whether an algorithm's updates (layer<i>_update) or SIBP's targets
/// (layer<i>_target_move) follow it.
///
/// Drawn with plot.hpp's gnuplot helpers, by `sibp compare` / `sibp plot` for
/// every label whose runs have the columns, and by `sibp plot RUN_DIR` for
/// the folder of a single `sibp train --diagnostics` run.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "experiment/plot.hpp"
#include "experiment/report.hpp"

namespace sibp {

/// The per-layer quantities, in panel order.
enum class LayerQuantity : int {
  GradNorm = 0,    ///< layer<i>_grad_norm
  Update = 1,      ///< layer<i>_update
  TargetMove = 2,  ///< layer<i>_target_move (SIBP)
  ObjRatio = 3,    ///< layer<i>_obj_after / layer<i>_obj_before (SIBP, ProxProp)
};
inline constexpr int kLayerQuantities = 4;

/// One evaluation point: values[q][i] for quantity q and layer i (0-based);
/// NaN where the column is missing or not positive.
struct LayerPoint {
  double epoch = 0;
  long long iteration = 0;
  std::vector<double> values[kLayerQuantities];
};

/// One label's (or one run's) per-layer diagnostics over training.
struct LayerProfile {
  std::string label;
  std::string title;   ///< plot title: label and hyper-parameters
  std::size_t layers = 0;
  std::vector<LayerPoint> points;  ///< by iteration
  /// Whether any point has a finite value of quantity q.
  bool has(LayerQuantity q) const;
};

/// The number of layers i with a layer<i>_grad_norm column in `rows` (the
/// largest such i; 0 when the run had no --diagnostics).
std::size_t diagnosed_layers(const std::vector<MetricsRow>& rows);

/// The profile of several seeds of one configuration, matched by iteration
/// (the seeds share a schedule). Each value is the geometric mean over the
/// seeds that have it finite and positive: the quantities span orders of
/// magnitude, and are drawn on log axes.
LayerProfile make_layer_profile(const std::string& label, const std::string& title,
                                const std::vector<const std::vector<MetricsRow>*>& seeds);

/// At most `max_lines` points of `p`: all of them when they are few, else
/// evenly spaced ones that always include the first and the last.
std::vector<std::size_t> layer_lines(const LayerProfile& p, std::size_t max_lines = 11);

/// One figure of up to four panels (the quantities `p` has, log y) against the
/// layer index, one line per evaluation point of layer_lines(p), coloured by
/// epoch. Writes NAME.gp, NAME.svg, NAME.png and data/NAME.dat into `plot_dir`.
PlotFiles plot_layer_profile(const Gnuplot& gnuplot, const std::filesystem::path& plot_dir,
                             const std::string& name, const LayerProfile& p);

/// For the complete runs of a comparison: one plot per label whose runs have
/// diagnostics columns, named after the label, into `plot_dir` (in plan order).
/// Empty when no run has them.
std::vector<PlotFiles> plot_layer_diagnostics(const Gnuplot& gnuplot, const std::filesystem::path& plot_dir,
                                              const std::vector<RunResult>& results);

/// True when `dir` holds a single run (config.json and metrics.csv, as
/// `sibp train` writes) rather than an experiment's outputs.
bool is_run_folder(const std::filesystem::path& dir);

/// `sibp plot RUN_DIR` for a single run: the six curves of plot_curves and,
/// when the run has diagnostics columns, the per-layer figure (`layers`),
/// into RUN_DIR/plots/. Needs no data. Throws DataError naming the folder
/// when it is not a run folder or its metrics cannot be read.
std::vector<PlotFiles> plot_run_folder(const std::filesystem::path& dir);

}  // namespace sibp
