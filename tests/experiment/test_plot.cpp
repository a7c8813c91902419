// Plots: curve aggregation over seeds, gnuplot discovery and errors, and
// the images and scripts written (valid PNG and SVG, re-runnable script).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "experiment/plot.hpp"
#include "scoped_env.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
namespace fs = std::filesystem;

using testing::ScopedEnv;
using testing::slurp;

/// PNG signature, then an IHDR chunk with a non-zero width and height.
::testing::AssertionResult is_png(const fs::path& p) {
  const std::string b = slurp(p);
  if (b.size() < 33) return ::testing::AssertionFailure() << p << " is too short for a PNG";
  if (b.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) != 0) return ::testing::AssertionFailure() << p << ": no PNG signature";
  if (b.compare(12, 4, "IHDR") != 0) return ::testing::AssertionFailure() << p << ": first chunk is not IHDR";
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned>(static_cast<unsigned char>(b[at])) << 24) |
           (static_cast<unsigned>(static_cast<unsigned char>(b[at + 1])) << 16) |
           (static_cast<unsigned>(static_cast<unsigned char>(b[at + 2])) << 8) |
           static_cast<unsigned>(static_cast<unsigned char>(b[at + 3]));
  };
  if (be32(16) == 0 || be32(20) == 0) return ::testing::AssertionFailure() << p << ": zero width or height";
  return ::testing::AssertionSuccess();
}

/// Minimal XML check: the first element is <svg ...>, the file ends with </svg>.
::testing::AssertionResult is_svg(const fs::path& p) {
  std::string s = slurp(p);
  std::size_t at = 0;
  for (;;) {  // skip the XML declaration, comments and DOCTYPE
    at = s.find('<', at);
    if (at == std::string::npos) return ::testing::AssertionFailure() << p << ": no element";
    if (s.compare(at, 2, "<?") == 0 || s.compare(at, 2, "<!") == 0) {
      at = s.find('>', at);
      if (at == std::string::npos) return ::testing::AssertionFailure() << p << ": unterminated prolog";
      continue;
    }
    break;
  }
  if (s.compare(at, 5, "<svg ") != 0 && s.compare(at, 5, "<svg\n") != 0)
    return ::testing::AssertionFailure() << p << ": root element is not <svg>: " << s.substr(at, 20);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  if (s.size() < 6 || s.compare(s.size() - 6, 6, "</svg>") != 0)
    return ::testing::AssertionFailure() << p << ": does not end with </svg>";
  return ::testing::AssertionSuccess();
}

MetricsRow row(long long it, double epoch, double secs, std::optional<double> loss, std::optional<double> acc,
               std::optional<double> test) {
  MetricsRow r;
  r.iteration = it;
  r.epoch = epoch;
  r.seconds = secs;
  r.train_loss = loss;
  r.train_acc = acc;
  r.test_acc = test;
  return r;
}

RunResult result(const std::string& label, std::uint64_t seed, std::vector<MetricsRow> rows, bool complete = true) {
  RunResult r;
  r.plan.label = label;
  r.plan.seed = seed;
  r.plan.options = {{"algo", "sgd"}, {"lr", 0.5}};
  r.complete = complete;
  r.status = complete ? "completed" : "missing";
  r.rows = std::move(rows);
  return r;
}

TEST(Plot, CurvesAreMeanMinMaxOverSeedsMatchedByIteration) {
  std::vector<RunResult> results;
  results.push_back(result("a", 1, {row(0, 0, 0, 2.0, 0.1, 0.2), row(10, 1, 1.0, 1.0, 0.5, 0.6)}));
  results.push_back(result("a", 2, {row(0, 0, 0, 4.0, 0.3, std::nullopt), row(10, 1, 3.0, 0.5, 0.7, 0.8)}));
  results.push_back(result("b", 1, {row(0, 0, 0, 1.0, 0.1, 0.1)}));
  results.push_back(result("b", 2, {row(0, 0, 0, 9.0, 0.9, 0.9)}, /*complete=*/false));  // ignored
  const std::vector<Curve> curves = make_curves(results);
  ASSERT_EQ(curves.size(), 2u);
  EXPECT_EQ(curves[0].label, "a");
  EXPECT_EQ(curves[0].title, "a (algo=sgd, lr=0.5)");
  ASSERT_EQ(curves[0].points.size(), 2u);
  const CurvePoint& p0 = curves[0].points[0];
  // Exact: means of two short binary fractions.
  EXPECT_EQ(p0.value[0][0], 3.0);
  EXPECT_EQ(p0.value[0][1], 2.0);
  EXPECT_EQ(p0.value[0][2], 4.0);
  EXPECT_EQ(p0.value[2][0], 0.2);  // one seed has no test accuracy here
  const CurvePoint& p1 = curves[0].points[1];
  EXPECT_EQ(p1.epoch, 1.0);
  EXPECT_EQ(p1.seconds, 2.0);
  EXPECT_EQ(p1.value[0][0], 0.75);
  EXPECT_DOUBLE_EQ(p1.value[2][0], 0.7);
  ASSERT_EQ(curves[1].points.size(), 1u);
  EXPECT_EQ(curves[1].points[0].value[0][0], 1.0);
}

TEST(Plot, MissingGnuplotIsADataErrorNamingIt) {
  ScopedEnv env("SIBP_GNUPLOT", "/nonexistent/gnuplot");
  try {
    find_gnuplot();
    FAIL() << "no error";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gnuplot"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/nonexistent/gnuplot"), std::string::npos) << msg;
  }
}

TEST(Plot, FindsGnuplotAndAPngTerminal) {
  const Gnuplot g = find_gnuplot();
  EXPECT_TRUE(g.png_terminal == "pngcairo" || g.png_terminal == "png") << g.png_terminal;
}

TEST(Plot, GnuplotFailureNamesTheScript) {
  testing::TempDir dir;
  testing::write_bytes(dir / "broken.gp", "plot 'no-such-file.dat' using 1:2\n");
  try {
    run_gnuplot(find_gnuplot(), dir / "broken.gp");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.gp"), std::string::npos) << e.what();
  }
}

TEST(Plot, WritesSixPlotsAsSvgAndPngWithRerunnableScripts) {
  testing::TempDir dir;
  std::vector<RunResult> results;
  for (std::uint64_t seed : {1, 2})
    results.push_back(result("sgd 'quoted' label", seed,
                             {row(0, 0, 0, 1.1, 0.3, 0.3), row(5, 0.5, 0.4 * seed, 0.6, 0.7, 0.65),
                              row(10, 1, 0.9 * seed, 0.3 + 0.01 * seed, 0.9, 0.85)}));
  results.push_back(result("adam", 1, {row(0, 0, 0, 1.1, 0.3, 0.3), row(10, 1, 1.5, 0.2, 0.95, 0.9)}));
  const Gnuplot g = find_gnuplot();
  const auto plots = plot_curves(g, dir / "plots", make_curves(results));
  ASSERT_EQ(plots.size(), 6u);
  for (const PlotFiles& p : plots) {
    EXPECT_TRUE(is_png(p.png));
    EXPECT_TRUE(is_svg(p.svg));
    EXPECT_TRUE(fs::exists(p.script));
  }
  EXPECT_EQ(plots[0].svg.filename(), "train_loss_vs_epoch.svg");
  EXPECT_EQ(plots[5].svg.filename(), "test_acc_vs_seconds.svg");
  const std::string script = slurp(plots[0].script);
  EXPECT_NE(script.find("set logscale y"), std::string::npos);
  EXPECT_EQ(script.find("set yrange"), std::string::npos);
  // Accuracy axes start just below the lowest trained value (0.65 → 0.6), not at 0.
  EXPECT_NE(slurp(plots[2].script).find("set yrange [0.6:1]"), std::string::npos);
  EXPECT_NE(slurp(plots[1].script).find("set yrange [0.65:1]"), std::string::npos);
  // Their bands leave out the untrained first point, which lies below that axis.
  EXPECT_NE(slurp(plots[2].script).find("every ::1 using"), std::string::npos);
  EXPECT_EQ(script.find("every ::1"), std::string::npos);
  EXPECT_NE(script.find("filledcurves"), std::string::npos);
  EXPECT_NE(script.find("data/adam.dat"), std::string::npos);  // relative: the folder can be moved
  EXPECT_EQ(script.find(dir.path().string()), std::string::npos);
  // The script alone regenerates its images.
  fs::remove(plots[0].svg);
  fs::remove(plots[0].png);
  run_gnuplot(g, plots[0].script);
  EXPECT_TRUE(is_svg(plots[0].svg));
  EXPECT_TRUE(is_png(plots[0].png));
}

TEST(Plot, SweepPlotMarksDivergedValues) {
  testing::TempDir dir;
  SweepSummary s;
  s.label = "sgd lr";
  s.param = "lr";
  for (double v : {0.1, 1.0, 10.0}) {
    SweepValueSummary vs;
    vs.value = v;
    vs.seeds = vs.complete = 1;
    vs.diverged = v > 5 ? 1 : 0;
    vs.final_test_acc = Stat::of({v > 5 ? NAN : 0.9});
    s.values.push_back(vs);
  }
  const PlotFiles f = plot_sweeps(find_gnuplot(), dir / "plots", {s});
  EXPECT_TRUE(is_png(f.png));
  EXPECT_TRUE(is_svg(f.svg));
  EXPECT_NE(slurp(f.script).find("set logscale x"), std::string::npos);
  const std::string dat = slurp(dir / "plots" / "data" / "sweep-sgd-lr.dat");
  EXPECT_NE(dat.find("0.1 0.9 0 ?\n"), std::string::npos) << dat;
  EXPECT_NE(dat.find("10 ? 1 0\n"), std::string::npos) << dat;  // diverged, no accuracy: marked on the axis
}

/// A gnuplot that runs out of disk: the real gnuplot with its file size
/// limited to 1 KiB (`ulimit -f 2`, 512-byte blocks), so every image it
/// writes is cut short. With `ignore_signal` the SIGXFSZ that would kill it
/// is ignored: its writes fail and it may exit 0 with the cut files.
fs::path full_disk_gnuplot(const testing::TempDir& dir, bool ignore_signal) {
  const fs::path stub = dir / (ignore_signal ? "gnuplot-silent" : "gnuplot-killed");
  testing::write_bytes(stub, std::string("#!/bin/sh\n") + (ignore_signal ? "trap '' XFSZ\n" : "") +
                                 "ulimit -f 2\nexec gnuplot \"$@\"\n");
  fs::permissions(stub, fs::perms::owner_all);
  return stub;
}

TEST(Plot, AFailingGnuplotLeavesThePreviousImagesAndNoTemporaryFile) {
  testing::TempDir dir;
  std::vector<RunResult> results;
  results.push_back(result("sgd", 1, {row(0, 0, 0, 1.1, 0.3, 0.3), row(10, 1, 0.9, 0.3, 0.9, 0.85)}));
  results.push_back(result("adam", 1, {row(0, 0, 0, 1.1, 0.3, 0.3), row(10, 1, 1.5, 0.2, 0.95, 0.9)}));
  const auto curves = make_curves(results);
  const auto good = plot_curves(find_gnuplot(), dir / "plots", curves);
  std::vector<std::string> before;
  for (const PlotFiles& p : good) {
    ASSERT_GT(fs::file_size(p.svg), 1024u) << "the test needs images larger than the size limit";
    ASSERT_GT(fs::file_size(p.png), 1024u);
    before.push_back(slurp(p.svg) + slurp(p.png));
  }
  for (const bool ignore_signal : {false, true}) {
    ScopedEnv env("SIBP_GNUPLOT", full_disk_gnuplot(dir, ignore_signal).c_str());
    try {
      (void)plot_curves(find_gnuplot(), dir / "plots", curves);
      ADD_FAILURE() << "no DataError (ignore_signal " << ignore_signal << ")";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("train_loss_vs_epoch"), std::string::npos) << e.what();
    }
    for (std::size_t i = 0; i < good.size(); ++i) {
      EXPECT_TRUE(is_svg(good[i].svg));
      EXPECT_TRUE(is_png(good[i].png));
      EXPECT_EQ(slurp(good[i].svg) + slurp(good[i].png), before[i]) << good[i].svg << " was replaced";
    }
    for (const auto& e : fs::directory_iterator(dir / "plots"))
      EXPECT_EQ(e.path().filename().string().find(".sibp-tmp"), std::string::npos) << e.path() << " left behind";
  }
}

TEST(Plot, ImagesAreWrittenUnderTheirFinalNamesOnlyWhenComplete) {
  // The first run into an empty folder: a failure leaves no image at all,
  // rather than a 0-byte PNG or a cut SVG a report would link to.
  testing::TempDir dir;
  ScopedEnv env("SIBP_GNUPLOT", full_disk_gnuplot(dir, true).c_str());
  SweepSummary s;
  s.label = "sgd lr";
  s.param = "lr";
  EXPECT_THROW((void)plot_sweeps(find_gnuplot(), dir / "plots", {s}), DataError);
  EXPECT_FALSE(fs::exists(dir / "plots" / "sweep_test_acc.svg"));
  EXPECT_FALSE(fs::exists(dir / "plots" / "sweep_test_acc.png"));
}

}  // namespace
}  // namespace sibp
