// `sibp sweep` on a tuning experiment (kind "tune") end to end on small
// generated data: the protocol's outputs, resume, `sibp plot`, and a file
// the protocol refuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "core/json_read.hpp"
#include "experiment/results_bundle.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

class CliTune : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string data = write_blob_split(dir_, 120, 60);
    file_ = {{"name", "cli-tune"},
             {"kind", "tune"},
             {"base",
              {{"data", data},
               {"layers", "4-8-3"},
               {"epochs", 2},
               {"batch", 10},
               {"val_split", 40},
               {"threads", 1}}},
             {"seeds", {1, 2, 3}},
             {"target_accuracy", 0.5},
             {"protocol", {{"max_extensions", 1}}},
             {"methods",
              {{{"label", "sgd"}, {"options", {{"algo", "sgd"}}}, {"step", {{"param", "lr"}, {"centre", 0.3}}}},
               // 5 CG steps, as when the expectations below were set: with 3 one final seed
               // at the chosen eta diverges on these 120 samples (the protocol is what is tested).
               {{"label", "sibp"},
                {"options", {{"algo", "sibp"}, {"solver_iters", 5}}},
                {"step", {{"param", "eta"}, {"centre", 1}}},
                {"secondary", {{"param", "lambda"}, {"values", {1, 0.5}}}}}}}};
    testing::write_bytes(dir_ / "tune.json", file_.dump(2));
  }
  fs::path out() const { return dir_ / "out"; }

  testing::TempDir dir_;
  json file_;
};

TEST_F(CliTune, SweepRunsTheProtocolAndResumes) {
  auto r = run_sibp("sweep " + q(dir_ / "tune.json") + " --out " + q(out()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tuning.json"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("[tune 1] sgd lr=0.03 seed 1 (grid): training"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("lambda=0.5 seed 1 (second)"), std::string::npos) << r.err;

  const json t = read_json_file(out() / "tuning.json");
  ASSERT_EQ(t["methods"].size(), 2u);
  // The same number of runs before extensions: 7 grid + 1 second stage each.
  for (const json& m : t["methods"]) {
    EXPECT_EQ(m["runs"]["before_extensions"], 8) << m.dump();
    EXPECT_TRUE(m["finals_complete"].get<bool>()) << m.dump();
    EXPECT_EQ(m["final"]["test_acc"]["n"], 3) << m.dump();
  }
  const std::string report = testing::slurp(out() / "report.md");
  EXPECT_NE(report.find("## Tuning protocol"), std::string::npos);
  EXPECT_NE(report.find("| sgd |"), std::string::npos);
  EXPECT_NE(report.find("Training seconds (and steps) to the first evaluation point with 50% test accuracy"), std::string::npos) << report;

  r = run_sibp("sweep " + q(dir_ / "tune.json") + " --out " + q(out()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" 0 trained now"), std::string::npos) << r.out;

  fs::remove(out() / "report.md");
  fs::remove(out() / "tuning.json");
  r = run_sibp("plot " + q(out()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(testing::slurp(out() / "report.md").find("## Final runs at the chosen settings"), std::string::npos);
  EXPECT_EQ(read_json_file(out() / "tuning.json"), t);

  // Packed, the tuning's runs (which plan_runs cannot list) are in the bundle,
  // and the report regenerated from the bundle alone replays the same protocol.
  const fs::path root = dir_ / "repo";
  const fs::path bundle = root / "docs" / "data" / "results" / "tuned.json.gz";
  fs::create_directories(bundle.parent_path());
  r = run_sibp("results pack " + q(out()) + " " + q(bundle));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> folders;  // a final run at the selection seed is its selection run
  for (const json& run : t["runs"]) folders.insert(run["folder"].get<std::string>());
  const int runs = static_cast<int>(folders.size());
  ASSERT_LT(runs, static_cast<int>(t["runs"].size()));
  EXPECT_NE(r.out.find("packed the " + std::to_string(runs) + " runs the tuning protocol reached"), std::string::npos)
      << r.out << " (expected " << runs << " runs)";
  r = run_sibp("results regenerate --no-plots --root " + q(root));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json_file(root / "docs" / "results" / "tuned" / "tuning.json"), t);

  // A run folder the protocol could not have made is refused, naming it.
  ResultsBundle b = read_bundle(bundle);
  b.runs[0].dir = "sgd/lr-0.3/lambda-1/seed-1";
  write_bundle(bundle, b);
  r = run_sibp("results regenerate --check --root " + q(root));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("runs[0]: field \"dir\": \"sgd/lr-0.3/lambda-1/seed-1\" is not a run folder"),
            std::string::npos) << r.err;
}

TEST_F(CliTune, RefusesATuningWithoutValidationSplit) {
  file_["base"]["val_split"] = 0;
  testing::write_bytes(dir_ / "bad.json", file_.dump(2));
  const auto r = run_sibp("sweep " + q(dir_ / "bad.json") + " --out " + q(out()));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.json: base.val_split must be > 0"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out() / "tuning.json"));
}

}  // namespace
}  // namespace sibp
