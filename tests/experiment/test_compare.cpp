// A tiny comparison end to end on generated CSV data: two algorithms, two
// seeds; summary.csv, report.md and the images; resuming after an
// interrupted run; refusing to mix results of a changed experiment file;
// regenerating the outputs from the metrics files alone.
#include <gtest/gtest.h>

#include <cstdio>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "experiment/compare.hpp"
#include "io/metrics_file.hpp"
#include "scoped_env.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(cell);
  return cells;
}

/// summary.csv as header name -> cell, one map per row.
std::vector<std::map<std::string, std::string>> read_summary(const fs::path& p) {
  std::istringstream in(slurp(p));
  std::string line;
  std::getline(in, line);
  const auto header = split_csv_line(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const auto cells = split_csv_line(line);
    EXPECT_EQ(cells.size(), header.size()) << line;
    std::map<std::string, std::string> m;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) m[header[i]] = cells[i];
    rows.push_back(m);
  }
  return rows;
}

class Compare : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string data = write_blob_split(dir_, 240, 90);
    file_ = {{"name", "tiny"},
             {"description", "two algorithms on blobs"},
             {"kind", "compare"},
             {"base",
              {{"data", data},
               {"layers", "4-16-3"},
               {"epochs", 3},
               {"batch", 10},
               {"eval_every", 8},
               {"threads", 1}}},
             {"seeds", {1, 2}},
             {"target_accuracy", 0.9},
             {"runs",
              {{{"label", "sgd"}, {"algo", "sgd"}, {"lr", 0.5}}, {{"label", "adam"}, {"algo", "adam"}, {"lr", 0.01}}}}};
  }

  /// Runs the experiment, recording which folders were trained.
  ExperimentRunReport run(const json& file) {
    ExperimentOptions options;
    options.out_dir = out();
    options.progress = &log_;
    options.train = [this](const RunOptions& c, const fs::path& d, const RunHooks& h) {
      trained_.push_back(d);
      return run_training(RunSpec(c), d, h, OutputMode::Continue);
    };
    return run_experiment(parse_experiment(file, "tiny.json"), options);
  }
  fs::path out() const { return dir_ / "out"; }

  testing::TempDir dir_;
  json file_;
  std::ostringstream log_;
  std::vector<fs::path> trained_;
};

TEST_F(Compare, RunsEverythingAndWritesSummaryReportAndPlots) {
  const ExperimentRunReport report = run(file_);
  EXPECT_EQ(report.planned, 4);
  EXPECT_EQ(report.trained, 4);
  EXPECT_EQ(report.skipped, 0);
  ASSERT_EQ(trained_.size(), 4u);
  EXPECT_EQ(trained_[0], out() / "sgd" / "seed-1");
  EXPECT_EQ(trained_[3], out() / "adam" / "seed-2");
  for (const fs::path& d : trained_) EXPECT_TRUE(run_is_complete(d)) << d;
  EXPECT_TRUE(fs::exists(out() / "experiment.json"));
  EXPECT_NE(log_.str().find("[1/4] sgd seed 1: training"), std::string::npos) << log_.str();
  EXPECT_NE(log_.str().find("[4/4] adam seed 2: completed"), std::string::npos) << log_.str();

  // summary.csv agrees with the metrics files it summarises.
  const auto rows = read_summary(out() / "summary.csv");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    const std::string label = r.at("label");
    SCOPED_TRACE(label);
    EXPECT_EQ(r.at("seeds"), "2");
    EXPECT_EQ(r.at("diverged"), "0");
    std::vector<double> acc, loss, best;
    for (const char* seed : {"seed-1", "seed-2"}) {
      const auto m = read_metrics_csv(out() / label / seed / "metrics.csv");
      acc.push_back(*m.back().test_acc);
      loss.push_back(*m.back().train_loss);
      double b = INFINITY;
      for (const auto& row : m) b = std::min(b, *row.train_loss);
      best.push_back(b);
    }
    // Printed shortest round-trip, so the parsed mean equals this computation up to rounding (1e-12).
    EXPECT_NEAR(std::stod(r.at("final_test_acc_mean")), (acc[0] + acc[1]) / 2, 1e-12);
    EXPECT_NEAR(std::stod(r.at("final_test_acc_std")), std::abs(acc[0] - acc[1]) / std::sqrt(2.0), 1e-12);
    EXPECT_NEAR(std::stod(r.at("final_train_loss_mean")), (loss[0] + loss[1]) / 2, 1e-12);
    EXPECT_NEAR(std::stod(r.at("best_train_loss_mean")), (best[0] + best[1]) / 2, 1e-12);
    // Separable blobs: both methods get well above chance (1/3) in 3 epochs.
    EXPECT_GT(std::stod(r.at("final_test_acc_mean")), 0.8);
    EXPECT_GT(std::stod(r.at("seconds_per_epoch_mean")), 0.0);
    EXPECT_EQ(r.at("target_accuracy"), "0.9");
  }

  const std::string md = slurp(out() / "report.md");
  EXPECT_NE(md.find("# tiny"), std::string::npos);
  EXPECT_NE(md.find("| sgd | algo=sgd, lr=0.5 | 2 | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("s to 90% test acc"), std::string::npos);
  EXPECT_EQ(md.find("final val acc"), std::string::npos) << "no validation split, no column";
  EXPECT_NE(md.find("![training loss"), std::string::npos);
  for (const char* name : {"train_loss_vs_epoch", "train_acc_vs_epoch", "test_acc_vs_epoch", "train_loss_vs_seconds",
                           "train_acc_vs_seconds", "test_acc_vs_seconds"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(is_png(out() / "plots" / (std::string(name) + ".png")));
    EXPECT_TRUE(is_svg(out() / "plots" / (std::string(name) + ".svg")));
    EXPECT_TRUE(fs::exists(out() / "plots" / (std::string(name) + ".gp")));
    EXPECT_NE(md.find("(plots/" + std::string(name) + ".png)"), std::string::npos);
  }
}

TEST_F(Compare, ReportsTheValidationAccuracySettingsAreChosenOn) {
  json file = file_;
  file["base"]["val_split"] = 40;
  file["seeds"] = {1};
  run(file);
  const auto rows = read_summary(out() / "summary.csv");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& r : rows) {
    const auto m = read_metrics_csv(out() / r.at("label") / "seed-1" / "metrics.csv");
    ASSERT_TRUE(m.back().val_acc.has_value());
    EXPECT_NEAR(std::stod(r.at("final_val_acc_mean")), *m.back().val_acc, 1e-12) << r.at("label");
  }
  const std::string md = slurp(out() / "report.md");
  EXPECT_NE(md.find("| final train acc (%) | final val acc (%) | final test acc (%) |"), std::string::npos) << md;
  const auto sgd = read_metrics_csv(out() / "sgd" / "seed-1" / "metrics.csv");
  char cells[64];
  std::snprintf(cells, sizeof cells, "| %.2f | %.2f |", 100 * *sgd.back().val_acc, 100 * *sgd.back().test_acc);
  EXPECT_NE(md.find(cells), std::string::npos) << cells << "\n" << md;
}

TEST_F(Compare, ResumesOnlyTheInterruptedRun) {
  run(file_);
  const fs::path victim = out() / "adam" / "seed-1";
  const auto untouched = fs::last_write_time(out() / "sgd" / "seed-2" / "metrics.csv");
  fs::remove(victim / "result.json");  // as if killed before the run finished
  trained_.clear();
  const ExperimentRunReport again = run(file_);
  EXPECT_EQ(again.trained, 1);
  EXPECT_EQ(again.skipped, 3);
  ASSERT_EQ(trained_.size(), 1u);
  EXPECT_EQ(trained_[0], victim);
  EXPECT_TRUE(run_is_complete(victim));
  EXPECT_EQ(fs::last_write_time(out() / "sgd" / "seed-2" / "metrics.csv"), untouched);
  EXPECT_NE(log_.str().find("sgd seed 2: already complete"), std::string::npos);
}

TEST_F(Compare, RefusesToMixResultsOfAChangedExperiment) {
  run(file_);
  json changed = file_;
  changed["runs"][0]["lr"] = 0.25;
  trained_.clear();
  try {
    run(changed);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((out() / "sgd" / "seed-1").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("lr"), std::string::npos) << msg;
  }
  EXPECT_TRUE(trained_.empty());
}

TEST_F(Compare, OnlyRunsTheNamedLabelAndReportsTheRestAsNotRun) {
  ExperimentOptions options;
  options.out_dir = out();
  options.plan.only = {"adam"};
  const ExperimentRunReport report = run_experiment(parse_experiment(file_, "tiny.json"), options);
  EXPECT_EQ(report.trained, 2);
  EXPECT_FALSE(fs::exists(out() / "sgd"));
  const std::string md = slurp(out() / "report.md");
  EXPECT_NE(md.find("| sgd | algo=sgd, lr=0.5 | 0/2 | – | not run |"), std::string::npos) << md;
}

TEST_F(Compare, PlotRegeneratesOutputsFromMetricsAlone) {
  run(file_);
  const std::string summary = slurp(out() / "summary.csv");
  fs::remove_all(out() / "plots");
  fs::remove(out() / "report.md");
  fs::remove(out() / "summary.csv");
  // The data files are gone too: nothing may be retrained or reloaded.
  fs::remove(dir_ / "train.csv");
  fs::remove(dir_ / "test.csv");
  const ExperimentOutputs o = regenerate_outputs(out());
  EXPECT_EQ(slurp(out() / "summary.csv"), summary);
  EXPECT_TRUE(fs::exists(o.report));
  ASSERT_EQ(o.plots.size(), 6u);
  for (const PlotFiles& p : o.plots) EXPECT_TRUE(is_png(p.png) && is_svg(p.svg)) << p.svg;
  EXPECT_THROW(regenerate_outputs(dir_.path()), DataError);  // no experiment.json there
}

TEST_F(Compare, MissingGnuplotFailsBeforeTraining) {
  {
    const testing::ScopedEnv gnuplot("SIBP_GNUPLOT", "/nonexistent/gnuplot");
    try {
      run(file_);
      ADD_FAILURE() << "no error";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("gnuplot"), std::string::npos);
    }
  }
  EXPECT_TRUE(trained_.empty());
}

}  // namespace
}  // namespace sibp
