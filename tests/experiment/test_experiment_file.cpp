// Experiment files: parsing, the errors for each kind of bad input, and
// the runs they expand to. No training here.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "experiment/experiment_file.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

json compare_file() {
  return json::parse(R"({
    "name": "t", "description": "d", "kind": "compare",
    "base": {"data": "csv:a.csv,b.csv", "layers": "4-8-3", "epochs": 2, "batch": 10},
    "seeds": [1, 2], "target_accuracy": 0.9,
    "runs": [{"label": "sgd-0.1", "algo": "sgd", "lr": 0.1},
             {"label": "adam", "algo": "adam", "lr": 0.001},
             {"label": "sibp", "algo": "sibp", "eta": 0.1, "lambda": 1}]})");
}

json sweep_file() {
  return json::parse(R"({
    "name": "s", "kind": "sweep", "base": {"layers": "4-8-3", "epochs": 1},
    "seeds": [3],
    "sweeps": [{"label": "sgd lr", "base": {"algo": "sgd"}, "param": "lr", "values": [1, 0.1, 10]},
               {"label": "sibp eta", "base": {"algo": "sibp", "lambda": "1"}, "param": "eta",
                "grid": {"from": 0.01, "to": 100, "points": 5}},
               {"label": "sibp lambda", "base": {"algo": "sibp"}, "param": "lambda",
                "grid": {"from": 0.1, "to": 10, "points": 3}}]})");
}

/// Expects parse_experiment to throw UsageError whose message contains every `parts`.
void expect_usage_error(const json& j, std::initializer_list<std::string> parts) {
  try {
    parse_experiment(j, "experiments/x.json");
    FAIL() << "no error for " << j.dump();
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

TEST(ExperimentFile, ParsesCompareFile) {
  const ExperimentFile e = parse_experiment(compare_file(), "x.json");
  EXPECT_EQ(e.name, "t");
  EXPECT_EQ(e.kind, ExperimentKind::Compare);
  ASSERT_EQ(e.runs.size(), 3u);
  EXPECT_EQ(e.runs[0].label, "sgd-0.1");
  EXPECT_FALSE(e.runs[0].options.contains("label"));
  EXPECT_EQ(e.seeds, (std::vector<std::uint64_t>{1, 2}));
  ASSERT_TRUE(e.target_accuracy);
  EXPECT_DOUBLE_EQ(*e.target_accuracy, 0.9);
}

TEST(ExperimentFile, PlansEveryRunTimesSeedWithMergedConfig) {
  const ExperimentFile e = parse_experiment(compare_file(), "x.json");
  const std::vector<PlannedRun> plan = plan_runs(e, {"/data/here", {}});
  ASSERT_EQ(plan.size(), 6u);
  EXPECT_EQ(plan[0].label, "sgd-0.1");
  EXPECT_EQ(plan[0].seed, 1u);
  EXPECT_EQ(plan[1].seed, 2u);
  EXPECT_EQ(plan[1].subdir, fs::path("sgd-0.1") / "seed-2");
  EXPECT_EQ(plan[1].config.seed, 2u);
  EXPECT_EQ(plan[1].config.layers, (std::vector<Index>{4, 8, 3}));  // from base
  EXPECT_EQ(plan[1].config.epochs, 2);
  EXPECT_DOUBLE_EQ(*plan[1].config.lr, 0.1);    // from the run
  EXPECT_EQ(plan[1].config.data_dir, "/data/here");
  EXPECT_EQ(plan[2].config.algo, Algo::Adam);
  EXPECT_DOUBLE_EQ(*plan[2].config.lr, 0.001);
  EXPECT_EQ(plan[4].config.lambda, std::vector<double>{1});  // a number is accepted for λ
}

TEST(ExperimentFile, OnlyKeepsTheNamedLabelsAndRejectsUnknownOnes) {
  const ExperimentFile e = parse_experiment(compare_file(), "x.json");
  const auto plan = plan_runs(e, {"", {"adam"}});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].label, "adam");
  try {
    plan_runs(e, {"", {"nope"}});
    FAIL();
  } catch (const UsageError& err) {
    EXPECT_NE(std::string(err.what()).find("'nope'"), std::string::npos);
    EXPECT_NE(std::string(err.what()).find("'sgd-0.1'"), std::string::npos);
  }
}

TEST(ExperimentFile, ParsesSweepFileAndGrid) {
  const ExperimentFile e = parse_experiment(sweep_file(), "s.json");
  ASSERT_EQ(e.sweeps.size(), 3u);
  EXPECT_EQ(e.sweeps[0].values, (std::vector<double>{0.1, 1, 10}));  // sorted
  EXPECT_EQ(e.sweeps[1].values, (std::vector<double>{0.01, 0.1, 1, 10, 100}));
  const auto plan = plan_runs(e);
  ASSERT_EQ(plan.size(), 11u);
  EXPECT_EQ(plan[0].subdir, fs::path("sgd-lr") / "lr-0.1" / "seed-3");
  EXPECT_EQ(plan[0].param, "lr");
  EXPECT_DOUBLE_EQ(plan[0].value, 0.1);
  EXPECT_DOUBLE_EQ(*plan[2].config.lr, 10);
  EXPECT_EQ(plan[3].config.algo, Algo::SIBP);
  EXPECT_DOUBLE_EQ(plan[3].config.eta, 0.01);
  EXPECT_EQ(plan[8].param, "lambda");
  EXPECT_EQ(plan[9].config.lambda, std::vector<double>{1.0});
}

TEST(ExperimentFile, GeometricGridRoundsInnerValuesToThreeDigits) {
  const auto g = geometric_grid(0.01, 100, 9);
  ASSERT_EQ(g.size(), 9u);
  EXPECT_EQ(g[0], 0.01);
  EXPECT_EQ(g[1], 0.0316);
  EXPECT_EQ(g[2], 0.1);
  EXPECT_EQ(g[8], 100);
  EXPECT_EQ(format_number(g[1]), "0.0316");
  EXPECT_THROW(geometric_grid(0, 1, 3), UsageError);
  EXPECT_THROW(geometric_grid(1, 1, 3), UsageError);
  EXPECT_THROW(geometric_grid(1, 10, 1), UsageError);
}

TEST(ExperimentFile, UnknownKeys) {
  json j = compare_file();
  j["colour"] = "red";
  expect_usage_error(j, {"experiments/x.json", "colour", "not an experiment key"});
  j = compare_file();
  j["runs"][2]["etaa"] = 0.1;
  expect_usage_error(j, {"experiments/x.json", "runs[2].etaa", "not a run option"});
  j = compare_file();
  j["base"]["epoch"] = 3;
  expect_usage_error(j, {"base.epoch", "not a run option"});
  j = sweep_file();
  j["sweeps"][0]["step"] = 1;
  expect_usage_error(j, {"sweeps[0].step", "not a sweep key"});
  j = sweep_file();
  j["sweeps"][1]["grid"]["count"] = 3;
  expect_usage_error(j, {"sweeps[1].grid.count"});
}

TEST(ExperimentFile, MissingFields) {
  for (const char* key : {"name", "kind", "seeds", "runs"}) {
    json j = compare_file();
    j.erase(key);
    expect_usage_error(j, {"experiments/x.json", std::string(key) + " is missing"});
  }
  json j = compare_file();
  j["runs"][1].erase("label");
  expect_usage_error(j, {"runs[1].label is missing"});
  j = sweep_file();
  j.erase("sweeps");
  expect_usage_error(j, {"sweeps is missing"});
  j = sweep_file();
  j["sweeps"][0].erase("param");
  expect_usage_error(j, {"sweeps[0].param is missing"});
  j = sweep_file();
  j["sweeps"][0].erase("values");
  expect_usage_error(j, {"sweeps[0]", "needs \"values\" or \"grid\""});
  j = compare_file();
  j["runs"] = json::array();
  expect_usage_error(j, {"runs must be a non-empty list"});
}

TEST(ExperimentFile, WrongTypes) {
  json j = compare_file();
  j["runs"][2]["eta"] = "fast";
  expect_usage_error(j, {"experiments/x.json: runs[2].eta: expected a finite number", "string"});
  j = compare_file();
  j["base"]["epochs"] = 2.5;
  expect_usage_error(j, {"base.epochs: expected an integer"});
  j = compare_file();
  j["base"]["epochs"] = 4294967298LL;  // 2^32 + 2: must not wrap to 2
  expect_usage_error(j, {"base.epochs: expected an integer from 1 to"});
  j = compare_file();
  j["runs"][0]["nesterov"] = "yes";
  expect_usage_error(j, {"runs[0].nesterov: expected true or false"});
  j = compare_file();
  j["runs"][1]["act"] = "swish";  // caught when the file is read, not when runs[1] starts
  expect_usage_error(j, {"runs[1].act", "swish"});
  j = compare_file();
  j["kind"] = "race";
  expect_usage_error(j, {"kind must be \"compare\", \"sweep\" or \"tune\""});
  j = compare_file();
  j["target_accuracy"] = 97;
  expect_usage_error(j, {"target_accuracy must be a number in (0, 1]"});
  j = compare_file();
  j["runs"][0] = "sgd";
  expect_usage_error(j, {"runs[0] must be an object"});
  j = sweep_file();
  j["sweeps"][0]["values"] = json::array({0.1, "big"});
  expect_usage_error(j, {"sweeps[0].values[1] must be a finite number"});
  j = sweep_file();
  j["sweeps"][0]["param"] = "epochs";
  expect_usage_error(j, {"sweeps[0].param", "'epochs' is not a numeric run option", "lr"});
}

TEST(ExperimentFile, BadGrid) {
  json j = sweep_file();
  j["sweeps"][1]["grid"] = {{"from", 1}, {"to", 0.1}, {"points", 4}};
  expect_usage_error(j, {"sweeps[1].grid", "0 < from < to"});
  j["sweeps"][1]["grid"] = {{"from", 0.1}, {"to", 10}, {"points", 1}};
  expect_usage_error(j, {"sweeps[1].grid", "from 2 to 1000"});
  // A grid of two billion points is refused before anything is expanded.
  j["sweeps"][1]["grid"] = {{"from", 0.1}, {"to", 10}, {"points", 2000000000}};
  expect_usage_error(j, {"sweeps[1].grid", "from 2 to 1000"});
  j["sweeps"][1]["grid"] = {{"from", 0.1}, {"to", 10}, {"points", 2.5}};
  expect_usage_error(j, {"sweeps[1].grid.points must be an integer"});
  j["sweeps"][1]["grid"] = {{"from", 0.1}, {"points", 3}};
  expect_usage_error(j, {"sweeps[1].grid.to is missing"});
  j["sweeps"][1]["grid"] = {{"from", 1}, {"to", 1.001}, {"points", 50}};
  expect_usage_error(j, {"repeats values"});
  j = sweep_file();
  j["sweeps"][1]["values"] = json::array({1, 2});
  expect_usage_error(j, {"sweeps[1]", "both \"values\" and \"grid\""});
  // Found writing fuzz/fuzz_experiment.cpp: 4294967298 points was read as an int
  // (2 after wrapping around) and accepted as a 2-point grid.
  j = sweep_file();
  j["sweeps"][1]["grid"] = {{"from", 0.1}, {"to", 10}, {"points", 4294967298ULL}};
  expect_usage_error(j, {"sweeps[1].grid.points", "from 2 to 1000", "4294967298"});
  j["sweeps"][1]["grid"] = {{"from", 0.1}, {"to", 10}, {"points", -4294967294LL}};
  expect_usage_error(j, {"sweeps[1].grid.points", "from 2 to 1000", "-4294967294"});
}

TEST(ExperimentFile, EmptyOrRepeatedSeeds) {
  json j = compare_file();
  j["seeds"] = json::array();
  expect_usage_error(j, {"seeds must be a non-empty list"});
  j["seeds"] = json::array({1, -2});
  expect_usage_error(j, {"seeds[1] must be a non-negative integer"});
  j["seeds"] = json::array({1, 1});
  expect_usage_error(j, {"seeds[1] repeats seed 1"});
  j["seeds"] = json::array();
  for (int s = 0; s < 1001; ++s) j["seeds"].push_back(s);
  expect_usage_error(j, {"seeds", "at most 1000"});
  j = sweep_file();
  j["seeds"] = json::array();
  for (int s = 0; s < 1000; ++s) j["seeds"].push_back(s);
  j["sweeps"][0]["grid"] = {{"from", 0.001}, {"to", 1000}, {"points", 200}};
  j["sweeps"][0].erase("values");
  expect_usage_error(j, {"sweeps[0]", "200000 runs", "at most 100000"});
  j = compare_file();
  j["runs"][0]["seed"] = 4;
  expect_usage_error(j, {"runs[0].seed is not allowed here"});
}

TEST(ExperimentFile, DuplicateLabels) {
  json j = compare_file();
  j["runs"][1]["label"] = "sgd-0.1";
  expect_usage_error(j, {"runs[1].label", "'sgd-0.1' repeats"});
  // Different labels that would share a folder are duplicates too.
  j = sweep_file();
  j["sweeps"][1]["label"] = "sgd/lr";
  expect_usage_error(j, {"sweeps[1].label", "folder name 'sgd-lr'"});
}

// Found writing fuzz/fuzz_experiment.cpp (its folder check fails on it): a label ".." planned its runs in
// OUT/../seed-1, outside the output folder, and "." in OUT/seed-1; a label too
// long for a folder name failed only when its run started.
TEST(ExperimentFile, LabelsMustNameAFolderInsideTheOutput) {
  for (const char* label : {"..", "."}) {
    json j = compare_file();
    j["runs"][1]["label"] = label;
    expect_usage_error(j, {"runs[1].label", std::string("'") + label + "' cannot name a folder"});
    j = sweep_file();
    j["sweeps"][0]["label"] = label;
    expect_usage_error(j, {"sweeps[0].label", "cannot name a folder"});
  }
  json j = compare_file();
  j["runs"][1]["label"] = std::string(101, 'a');
  expect_usage_error(j, {"runs[1].label", "101 characters", "at most 100"});
  // Dots inside a label are fine, and the longest label is accepted.
  j["runs"][1]["label"] = std::string(100, 'a');
  j["runs"][2]["label"] = "...";
  const std::vector<PlannedRun> plan = plan_runs(parse_experiment(j, "x.json"));
  ASSERT_EQ(plan.size(), 6u);
  EXPECT_EQ(plan[4].subdir, fs::path("...") / "seed-1");
}

TEST(ExperimentFile, RunsAreValidatedBeforeAnythingTrains) {
  json j = compare_file();
  j["runs"][2]["algo"] = "sgdd";
  expect_usage_error(j, {"experiments/x.json: runs[2].algo", "'sgdd'"});
  j = compare_file();
  j["runs"][0]["lr"] = -1;
  expect_usage_error(j, {"runs[0].lr: expected a finite number > 0, got -1"});
  j = sweep_file();
  j["sweeps"][0]["values"] = json::array({0.1, -1});
  expect_usage_error(j, {"sweeps[0] (lr -1).lr: expected a finite number > 0"});
  // A run's own options must apply to its algorithm; the base's need not.
  j = compare_file();
  j["runs"][0]["eta"] = 0.5;
  expect_usage_error(j, {"runs[0].eta", "applies to --algo sibp, not sgd"});
  j = compare_file();
  j["base"]["eta"] = 0.5;
  EXPECT_NO_THROW(parse_experiment(j, "x.json"));
  j = compare_file();
  j["kind"] = "sweep";
  expect_usage_error(j, {"runs is only for \"kind\": \"compare\""});
}

TEST(ExperimentFile, LoadReportsUnreadableAndInvalidJson) {
  testing::TempDir dir;
  EXPECT_THROW(load_experiment(dir / "missing.json"), DataError);
  testing::write_bytes(dir / "bad.json", "{\"name\": ");
  try {
    load_experiment(dir / "bad.json");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos);
  }
  // A number beyond double's range and deep nesting are clean errors naming the file.
  testing::write_bytes(dir / "big.json", "{\"name\": \"x\", \"target_accuracy\": 1e400}");
  try {
    load_experiment(dir / "big.json");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("big.json"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("[json.exception"), std::string::npos) << e.what();
  }
  testing::write_bytes(dir / "deep.json", std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_THROW(load_experiment(dir / "deep.json"), DataError);
  testing::write_bytes(dir / "ok.json", compare_file().dump());
  EXPECT_EQ(load_experiment(dir / "ok.json").source, (dir / "ok.json").string());
}

TEST(ExperimentFile, ShippedExperimentsParse) {
  const fs::path dir = fs::path(SIBP_SOURCE_DIR) / "experiments";
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    const ExperimentFile e = load_experiment(entry.path());
    // A tuning experiment's runs depend on its results: it lists methods instead.
    EXPECT_FALSE(e.kind == ExperimentKind::Tune ? e.methods.empty() : plan_runs(e).empty());
    // Rerunning a file reproduces its timings' conditions: the thread count is pinned.
    EXPECT_TRUE(e.base.contains("threads")) << "base.threads is not set";
    ++n;
  }
  EXPECT_GE(n, 6);  // paper-mnist(-sweep), fashion-mnist(-sweep), paper-cifar10, quick-mnist
}

}  // namespace
}  // namespace sibp
