// Sweeps: the divergence rule, the largest stable step, and a tiny sweep
// end to end in which SGD with a huge learning rate diverges.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "experiment/compare.hpp"
#include "experiment/sweep.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

MetricsRow row(long long it, std::optional<double> loss, std::optional<double> test) {
  MetricsRow r;
  r.iteration = it;
  r.train_loss = loss;
  r.test_acc = test;
  return r;
}

RunResult result(double value, std::string status, std::vector<MetricsRow> rows, std::uint64_t seed = 1) {
  RunResult r;
  r.plan.label = "sgd lr";
  r.plan.param = "lr";
  r.plan.value = value;
  r.plan.seed = seed;
  r.complete = status != "missing";
  r.status = std::move(status);
  r.rows = std::move(rows);
  return r;
}

TEST(Sweep, StableRunWhoseLossFell) {
  const SweepPoint p = classify_sweep_run(result(0.1, "completed", {row(0, 2.3, 0.1), row(50, 0.4, 0.9)}));
  EXPECT_TRUE(p.complete);
  EXPECT_FALSE(p.diverged);
  EXPECT_EQ(p.reason, "");
  EXPECT_EQ(p.initial_train_loss, 2.3);
  EXPECT_EQ(p.final_train_loss, 0.4);
  EXPECT_EQ(p.final_test_acc, 0.9);
}

TEST(Sweep, EachDivergenceRule) {
  RunResult stopped = result(10, "diverged", {row(0, 2.3, 0.1)});
  stopped.message = "non-finite loss at epoch 1, iteration 3";
  SweepPoint p = classify_sweep_run(stopped);
  EXPECT_TRUE(p.diverged);
  EXPECT_EQ(p.reason, stopped.message);

  p = classify_sweep_run(result(10, "completed", {row(0, 2.3, 0.1), row(50, 2.31, 0.1)}));
  EXPECT_TRUE(p.diverged);
  EXPECT_NE(p.reason.find("above its initial value"), std::string::npos) << p.reason;

  // Collapsed: just below the start (the MNIST SGD lr 10 case: 2.32 vs 2.39).
  p = classify_sweep_run(result(10, "completed", {row(0, 2.39, 0.1), row(50, 2.32, 0.1)}));
  EXPECT_TRUE(p.diverged);
  EXPECT_NE(p.reason.find("not clearly below"), std::string::npos) << p.reason;
  p = classify_sweep_run(result(10, "completed", {row(0, 2.3, 0.1), row(50, 2.1, 0.3)}));
  EXPECT_FALSE(p.diverged) << p.reason;

  p = classify_sweep_run(result(10, "completed", {row(0, 2.3, 0.1), row(50, 0.5, NAN)}));
  EXPECT_TRUE(p.diverged);
  EXPECT_NE(p.reason.find("not finite"), std::string::npos);

  p = classify_sweep_run(result(10, "completed", {row(0, 2.3, 0.1), row(50, INFINITY, 0.2)}));
  EXPECT_TRUE(p.diverged);

  p = classify_sweep_run(result(10, "missing", {}));
  EXPECT_FALSE(p.complete);
  EXPECT_FALSE(p.diverged);
}

ExperimentFile sweep_with_values(std::vector<double> values) {
  json j = {{"name", "s"}, {"kind", "sweep"}, {"seeds", {1, 2}},
            {"sweeps", {{{"label", "sgd lr"}, {"param", "lr"}, {"values", values}}}}};
  return parse_experiment(j, "s.json");
}

TEST(Sweep, LargestStableStepAndWhetherSmallerOnesWereStable) {
  const ExperimentFile e = sweep_with_values({0.1, 1, 10, 100});
  std::vector<SweepPoint> points;
  auto add = [&](double v, std::uint64_t seed, const std::string& status, double final_loss) {
    points.push_back(classify_sweep_run(result(v, status, {row(0, 2.0, 0.1), row(9, final_loss, 0.8)}, seed)));
  };
  add(0.1, 1, "completed", 1.0);
  add(0.1, 2, "completed", 1.0);
  add(1, 1, "completed", 1.0);
  add(1, 2, "completed", 3.0);  // one seed's loss rose: the value is not stable
  add(10, 1, "completed", 0.5);
  add(10, 2, "completed", 0.7);
  add(100, 1, "diverged", NAN);
  add(100, 2, "missing", 0);
  const auto summaries = summarize_sweeps(e, points);
  ASSERT_EQ(summaries.size(), 1u);
  const SweepSummary& s = summaries[0];
  ASSERT_EQ(s.values.size(), 4u);
  EXPECT_EQ(s.values[1].diverged, 1);
  EXPECT_EQ(s.values[3].complete, 1);
  EXPECT_EQ(s.values[3].seeds, 2);
  ASSERT_TRUE(s.largest_stable);
  EXPECT_EQ(*s.largest_stable, 10);
  EXPECT_FALSE(s.all_smaller_stable);
  EXPECT_DOUBLE_EQ(s.values[2].final_train_loss.mean, 0.6);

  // Make value 1 stable: then everything below 10 is stable too.
  points[3] = classify_sweep_run(result(1, "completed", {row(0, 2.0, 0.1), row(9, 1.5, 0.8)}, 2));
  const auto fixed = summarize_sweeps(e, points);
  EXPECT_EQ(*fixed[0].largest_stable, 10);
  EXPECT_TRUE(fixed[0].all_smaller_stable);
}

TEST(Sweep, NoStableValue) {
  const ExperimentFile e = sweep_with_values({1, 10});
  std::vector<SweepPoint> points;
  for (double v : {1.0, 10.0})
    for (std::uint64_t seed : {1, 2}) points.push_back(classify_sweep_run(result(v, "diverged", {row(0, 2, 0)}, seed)));
  const auto s = summarize_sweeps(e, points);
  EXPECT_FALSE(s[0].largest_stable);
}

TEST(Sweep, HugeSgdStepIsRecordedAsDivergedEndToEnd) {
  testing::TempDir dir;
  const std::string data = write_blob_split(dir, 150, 60);
  json j = {{"name", "tiny-sweep"},
            {"kind", "sweep"},
            {"base", {{"data", data}, {"layers", "4-8-3"}, {"epochs", 2}, {"batch", 10}, {"threads", 1}}},
            {"seeds", {1}},
            {"sweeps", {{{"label", "sgd lr"}, {"base", {{"algo", "sgd"}}}, {"param", "lr"},
                         {"values", {1.0, 1e6}}}}}};
  const ExperimentFile e = parse_experiment(j, "tiny-sweep.json");
  ExperimentOptions options;
  options.out_dir = dir / "out";
  const ExperimentRunReport report = run_experiment(e, options);
  EXPECT_EQ(report.trained, 2);

  const std::string csv = slurp(dir / "out" / "sweep.csv");
  std::istringstream lines(csv);
  std::string header, small, huge;
  std::getline(lines, header);
  std::getline(lines, small);
  std::getline(lines, huge);
  EXPECT_EQ(header, "label,param,value,seed,status,final_train_loss,final_test_acc,reason");
  EXPECT_EQ(small.substr(0, small.find(",", 20)), "sgd lr,lr,1,1,stable") << small;
  EXPECT_EQ(huge.substr(0, 23), "sgd lr,lr,1e+06,1,diver") << huge;

  const std::string md = slurp(dir / "out" / "report.md");
  EXPECT_NE(md.find("| sgd lr | algo=sgd | lr | 1 … 1e+06 (2) | 1 | yes |"), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(dir / "out" / "plots" / "sweep_test_acc.svg"));
  EXPECT_TRUE(fs::exists(dir / "out" / "plots" / "sweep_test_acc.png"));
  EXPECT_TRUE(fs::exists(dir / "out" / "plots" / "sweep_test_acc.gp"));
}

}  // namespace
}  // namespace sibp
