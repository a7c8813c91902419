// `sibp train --schedule/--warmup/--sampling`: a scheduled run with batches
// drawn independently, stopped mid-epoch, resumes bit-identical; the options
// are recorded in config.json (and so guard --resume); bad values exit 2
// naming the option.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "experiment/training_run.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

class CliSchedule : public ::testing::Test {
 protected:
  void SetUp() override { data_ = write_blob_split(dir_, 300, 60); }
  /// The run's options as command-line pairs (read through the option table for the library run).
  std::vector<std::pair<std::string, std::string>> options(const std::string& schedule) const {
    return {{"data", data_},
            {"layers", "4-16-3"}, {"epochs", "2"}, {"batch", "10"}, {"eval_every", "7"}, {"seed", "5"},
            {"threads", "1"}, {"algo", "momentum"}, {"lr", "0.05"}, {"schedule", schedule}, {"warmup", "5"},
            {"sampling", "independent"}};
  }
  std::string cli(const std::string& out, const std::string& schedule = "cosine") const {
    std::string s = "train";
    for (auto [k, v] : options(schedule)) {
      for (char& c : k)
        if (c == '_') c = '-';
      s += " --" + k + " '" + v + "'";
    }
    return s + " --out " + q(dir_ / out);
  }
  testing::TempDir dir_;
  std::string data_;
};

TEST_F(CliSchedule, StoppedMidEpochResumesBitIdentical) {
  const auto ref = run_sibp(cli("ref"));
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  // The same run stopped (as by a kill) after its 4th evaluation point:
  // iteration 21 of 30 in the first epoch, in the cosine's and after the warm-up's steps.
  RunOptions o;
  for (const auto& [k, v] : options("cosine")) find_run_option(k)->from_text(o, v);
  int seen = 0;
  RunHooks hooks;
  hooks.on_eval = [&](const MetricsRow& row) {
    if (seen == 3) EXPECT_EQ(row.iteration, 21);
    return ++seen < 4;
  };
  ASSERT_EQ(run_training(RunSpec(o), dir_ / "cut", hooks).status, RunStatus::Stopped);
  const auto resumed = run_sibp("train --resume --out " + q(dir_ / "cut"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(slurp(dir_ / "cut" / "model.safetensors"), slurp(dir_ / "ref" / "model.safetensors"));
  // The options matter: another schedule trains another model.
  const auto other = run_sibp(cli("other", "multistep:1:0.5"));
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(slurp(dir_ / "other" / "model.safetensors"), slurp(dir_ / "ref" / "model.safetensors"));
}

TEST_F(CliSchedule, RecordedInConfigAndGuardingResume) {
  const auto ref = run_sibp(cli("ref") + " --epochs 1");
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const nlohmann::json config = nlohmann::json::parse(slurp(dir_ / "ref" / "config.json"));
  EXPECT_EQ(config.at("schedule"), "cosine");
  EXPECT_EQ(config.at("warmup"), 5);
  EXPECT_EQ(config.at("sampling"), "independent");
  const auto changed = run_sibp("train --resume --schedule constant --out " + q(dir_ / "ref"));
  EXPECT_NE(changed.exit_code, 0);
  EXPECT_NE(changed.err.find("schedule"), std::string::npos) << changed.err;
}

TEST_F(CliSchedule, BadValuesExitTwoNamingTheOption) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--schedule multistep:2,1:0.1", "--schedule: multistep milestones must be strictly increasing"},
      {"--schedule multistep:0:0.1", "--schedule: multistep milestones count completed epochs and must be >= 1"},
      {"--schedule multistep:1:-2", "--schedule: multistep GAMMA must be a finite number > 0"},
      {"--schedule step", "--schedule: expected constant, cosine or multistep:E1,E2,...:GAMMA"},
      {"--warmup -3", "--warmup: expected an integer from 0"},
      {"--sampling bootstrap", "--sampling: expected shuffle or independent"}};
  for (const auto& [args, message] : cases) {
    const auto r = run_sibp("train --data csv:" + (dir_ / "train.csv").string() + " --layers 4-3 " + args +
                            " --out " + q(dir_ / "bad"));
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "bad")) << args;
  }
}

}  // namespace
}  // namespace sibp
