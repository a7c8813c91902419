// Per-layer diagnostics plots: reading the layer<i>_* columns, the geometric
// mean over seeds, which evaluation points become lines, and the figure's
// files (valid PNG and SVG, a script gnuplot re-runs on its own); and the
// plots a comparison with --diagnostics adds to its report.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "experiment/layer_plot.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

/// A row at `iteration` with per-layer columns: grad_norm g·(i+1), update u (not at 0),
/// target_move, and obj_before 2 / obj_after 1 for every layer.
MetricsRow row(long long iteration, double epoch, int layers, double g, double u, bool sibp) {
  MetricsRow r;
  r.iteration = iteration;
  r.epoch = epoch;
  r.extra.emplace_back("grad_norm", 1.0);
  for (int i = 1; i <= layers; ++i) {
    const std::string p = "layer" + std::to_string(i) + "_";
    r.extra.emplace_back(p + "grad_norm", g * i);
    if (iteration > 0) r.extra.emplace_back(p + "update", u);
    if (sibp && iteration > 0) {
      r.extra.emplace_back(p + "obj_before", 2.0);
      r.extra.emplace_back(p + "obj_after", 1.0);
      r.extra.emplace_back(p + "solver_iters", 5.0);
      r.extra.emplace_back(p + "target_move", 0.1 * i);
    }
  }
  return r;
}

TEST(LayerPlot, ReadsTheLayerColumns) {
  EXPECT_EQ(diagnosed_layers({}), 0u);
  MetricsRow plain;
  plain.extra.emplace_back("grad_norm", 1.0);  // --grad-norm alone: no layer columns
  EXPECT_EQ(diagnosed_layers({plain}), 0u);
  EXPECT_EQ(diagnosed_layers({row(0, 0, 12, 1, 0, false)}), 12u);  // two-digit layer numbers
}

TEST(LayerPlot, ProfileIsTheGeometricMeanOverSeedsByIteration) {
  const std::vector<MetricsRow> a{row(0, 0, 3, 1e-4, 0, true), row(10, 1, 3, 1e-2, 1e-3, true)};
  const std::vector<MetricsRow> b{row(0, 0, 3, 1e-2, 0, true), row(10, 1, 3, 1e-2, 1e-1, true)};
  const LayerProfile p = make_layer_profile("x", "x title", {&a, &b});
  EXPECT_EQ(p.layers, 3u);
  ASSERT_EQ(p.points.size(), 2u);
  EXPECT_EQ(p.points[1].iteration, 10);
  EXPECT_EQ(p.points[1].epoch, 1.0);
  const auto& g0 = p.points[0].values[static_cast<int>(LayerQuantity::GradNorm)];
  EXPECT_NEAR(g0[0], 1e-3, 1e-15);      // sqrt(1e-4 · 1e-2)
  EXPECT_NEAR(g0[2], 3e-3, 1e-15);      // layer 3: 3·1e-4 and 3·1e-2
  EXPECT_TRUE(std::isnan(p.points[0].values[static_cast<int>(LayerQuantity::Update)][0]));
  EXPECT_NEAR(p.points[1].values[static_cast<int>(LayerQuantity::Update)][1], 1e-2, 1e-15);
  EXPECT_NEAR(p.points[1].values[static_cast<int>(LayerQuantity::ObjRatio)][0], 0.5, 1e-15);
  EXPECT_NEAR(p.points[1].values[static_cast<int>(LayerQuantity::TargetMove)][1], 0.2, 1e-15);
  EXPECT_TRUE(p.has(LayerQuantity::TargetMove));
  const std::vector<MetricsRow> sgd{row(0, 0, 3, 1, 0, false), row(10, 1, 3, 1, 0.1, false)};
  EXPECT_FALSE(make_layer_profile("s", "s", {&sgd}).has(LayerQuantity::TargetMove));
}

TEST(LayerPlot, AtMostElevenLinesIncludingFirstAndLast) {
  LayerProfile p;
  p.points.resize(5);
  EXPECT_EQ(layer_lines(p), (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  p.points.resize(101);
  const std::vector<std::size_t> lines = layer_lines(p);
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(lines.front(), 0u);
  EXPECT_EQ(lines.back(), 100u);
  EXPECT_EQ(lines[5], 50u);
}

TEST(LayerPlot, WritesAFigureWhoseScriptGnuplotRerunsAlone) {
  testing::TempDir dir;
  std::vector<MetricsRow> rows;
  for (int k = 0; k <= 4; ++k) rows.push_back(row(10 * k, k, 16, std::pow(10.0, -k), 1e-2, true));
  const Gnuplot g = find_gnuplot();
  const PlotFiles f =
      plot_layer_profile(g, dir / "plots", "layers-sibp", make_layer_profile("sibp", "sibp 'quoted'", {&rows}));
  EXPECT_TRUE(is_png(f.png));
  EXPECT_TRUE(is_svg(f.svg));
  const std::string script = slurp(f.script);
  EXPECT_NE(script.find("set logscale y"), std::string::npos);
  EXPECT_NE(script.find("multiplot layout 2,2"), std::string::npos);  // four quantities
  EXPECT_NE(script.find("'data/layers-sibp.dat'"), std::string::npos);  // relative: the folder can move
  EXPECT_EQ(script.find(dir.path().string()), std::string::npos);
  const std::string dat = slurp(dir / "plots" / "data" / "layers-sibp.dat");
  EXPECT_NE(dat.find("# epoch 4, iteration 40\n1 4 1e-04 0.01 0.1 0.5\n"), std::string::npos) << dat;
  EXPECT_NE(dat.find("\n1 0 1 ? ? ?\n"), std::string::npos) << dat;  // nothing but the gradient at iteration 0
  // The script alone regenerates its images (gnuplot exits non-zero on any error).
  fs::remove(f.svg);
  fs::remove(f.png);
  run_gnuplot(g, f.script);
  EXPECT_TRUE(is_png(f.png));
  EXPECT_TRUE(is_svg(f.svg));
}

TEST(LayerPlot, OnePlotPerLabelWithDiagnostics) {
  testing::TempDir dir;
  auto result = [](const std::string& label, std::uint64_t seed, std::vector<MetricsRow> rows) {
    RunResult r;
    r.plan.label = label;
    r.plan.seed = seed;
    r.plan.options = {{"algo", "sgd"}};
    r.complete = true;
    r.status = "completed";
    r.rows = std::move(rows);
    return r;
  };
  MetricsRow bare;
  bare.extra.emplace_back("grad_norm", 1.0);
  const std::vector<RunResult> results{result("with", 1, {row(0, 0, 2, 1, 0, false), row(5, 1, 2, 1, 1, false)}),
                                       result("with", 2, {row(0, 0, 2, 2, 0, false), row(5, 1, 2, 2, 2, false)}),
                                       result("without", 1, {bare})};
  const auto plots = plot_layer_diagnostics(find_gnuplot(), dir / "layers", results);
  ASSERT_EQ(plots.size(), 1u);
  EXPECT_EQ(plots[0].png.filename(), "layers-with.png");
  EXPECT_TRUE(is_png(plots[0].png));
  EXPECT_NE(plots[0].caption.find("2 seeds"), std::string::npos) << plots[0].caption;
  // Only the two quantities an SGD run has: gradient norm and update.
  EXPECT_NE(slurp(plots[0].script).find("multiplot layout 1,2"), std::string::npos);
}

}  // namespace
}  // namespace sibp
