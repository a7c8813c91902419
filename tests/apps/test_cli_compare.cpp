// End-to-end tests of `sibp compare`, `sibp sweep` and `sibp plot` on small
// generated data: outputs, resume, exit codes and messages.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "scoped_env.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

class CliCompare : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = {{"data", write_blob_split(dir_, 150, 60)},
             {"layers", "4-8-3"},
             {"epochs", 2},
             {"batch", 10},
             {"threads", 1}};
    json compare = {{"name", "cli-tiny"},
                    {"kind", "compare"},
                    {"base", base_},
                    {"seeds", {1, 2}},
                    {"target_accuracy", 0.8},
                    {"runs",
                     {{{"label", "sgd"}, {"algo", "sgd"}, {"lr", 0.5}},
                      {{"label", "adam"}, {"algo", "adam"}, {"lr", 0.01}}}}};
    testing::write_bytes(dir_ / "compare.json", compare.dump(2));
    json sweep = {{"name", "cli-sweep"},
                  {"kind", "sweep"},
                  {"base", base_},
                  {"seeds", {1}},
                  {"sweeps", {{{"label", "sgd lr"}, {"base", {{"algo", "sgd"}}}, {"param", "lr"},
                               {"values", {1.0, 1e6}}}}}};
    testing::write_bytes(dir_ / "sweep.json", sweep.dump(2));
  }
  std::string path(const std::string& name) const { return "'" + (dir_ / name).string() + "'"; }

  TempDir dir_;
  json base_;
};

TEST_F(CliCompare, CompareWritesOutputsAndResumes) {
  auto r = run_sibp("compare " + path("compare.json") + " --out " + path("out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4 runs: 4 trained now (0 diverged), 0 already complete"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[1/4] sgd seed 1: training"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[4/4] adam seed 2: completed"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "summary.csv"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "report.md"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "plots" / "test_acc_vs_seconds.png"));

  fs::remove(dir_ / "out" / "sgd" / "seed-2" / "result.json");
  r = run_sibp("compare " + path("compare.json") + " --out " + path("out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4 runs: 1 trained now (0 diverged), 3 already complete"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[2/4] sgd seed 2: training"), std::string::npos) << r.err;
}

TEST_F(CliCompare, PlotRegeneratesFromMetrics) {
  ASSERT_EQ(run_sibp("compare " + path("compare.json") + " --out " + path("out") + " --only adam").exit_code, 0);
  fs::remove_all(dir_ / "out" / "plots");
  fs::remove(dir_ / "out" / "report.md");
  const auto r = run_sibp("plot " + path("out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "report.md"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "plots" / "train_loss_vs_epoch.svg"));
  EXPECT_NE(slurp(dir_ / "out" / "report.md").find("| sgd | algo=sgd, lr=0.5 | 0/2 | – | not run |"),
            std::string::npos);

  const auto none = run_sibp("plot " + path(""));
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("experiment.json"), std::string::npos) << none.err;
}

TEST_F(CliCompare, SweepRecordsDivergenceAndCompareDispatchesOnKind) {
  auto r = run_sibp("sweep " + path("sweep.json") + " --out " + path("sweep"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = slurp(dir_ / "sweep" / "sweep.csv");
  EXPECT_NE(csv.find("sgd lr,lr,1,1,stable"), std::string::npos) << csv;
  EXPECT_NE(csv.find("sgd lr,lr,1e+06,1,diverged"), std::string::npos) << csv;

  // The same file through `compare`: everything is already complete.
  r = run_sibp("compare " + path("sweep.json") + " --out " + path("sweep"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("0 trained now"), std::string::npos) << r.out;

  r = run_sibp("sweep " + path("compare.json") + " --out " + path("x"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("sibp compare"), std::string::npos) << r.err;
}

TEST_F(CliCompare, UsageErrorsExitWithTwoAndNameTheProblem) {
  json bad = {{"name", "bad"}, {"kind", "compare"}, {"base", base_}, {"seeds", {1}},
              {"runs", {{{"label", "a"}, {"algo", "sgd"}}, {{"label", "b"}, {"algo", "sibp"}, {"eta", "big"}}}}};
  testing::write_bytes(dir_ / "bad.json", bad.dump());
  auto r = run_sibp("compare " + path("bad.json") + " --out " + path("out"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad.json: runs[1].eta: expected a finite number"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));

  r = run_sibp("compare " + path("compare.json") + " --out " + path("out") + " --only nope");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'nope'"), std::string::npos) << r.err;

  r = run_sibp("compare " + path("compare.json"));  // --out missing
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(CliCompare, MissingGnuplotExitsWithOneBeforeTraining) {
  const auto r = [&] {
    const testing::ScopedEnv gnuplot("SIBP_GNUPLOT", "/nonexistent/gnuplot");  // inherited by the child process
    return run_sibp("compare " + path("compare.json") + " --out " + path("out"));
  }();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("gnuplot"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "sgd"));
}

}  // namespace
}  // namespace sibp
