// `sibp sweep` on a tuning experiment (kind "tune") end to end on small
// generated data: the protocol's outputs, resume, `sibp plot`, and a file
// the protocol refuses.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/json_read.hpp"
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
