// The option table learns algorithms from the registry (train/registry.hpp):
// the --algo names, which options apply to which algorithm, the options a
// unit declares itself, and the defaults its unit resolves.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "experiment/run_options.hpp"
#include "train/registry.hpp"
#include "train/rmsprop.hpp"

namespace sibp {
namespace {

TEST(AlgorithmRows, EveryRegisteredAlgorithmIsARun) {
  const RunOptionInfo* algo = find_run_option("algo");
  ASSERT_NE(algo, nullptr);
  for (const AlgorithmName* n : algorithm_names()) {
    SCOPED_TRACE(n->name);
    EXPECT_NE(algo->help.find(n->name), std::string::npos);
    RunOptions o;
    algo->from_text(o, n->name);
    const RunSpec spec(o);
    EXPECT_EQ(spec.algorithm().name(), n->name);
    // Every option of the resolved run applies to it, and reads back the same run.
    const nlohmann::json j = run_options_json(spec.options());
    RunOptions again;
    read_run_options(j, "test", again);
    EXPECT_EQ(run_options_json(RunSpec(again).options()), j);
  }
}

TEST(AlgorithmRows, AppliesToIsWhatTheUnitsRead) {
  const RunOptionInfo* alpha = find_run_option("alpha");
  ASSERT_NE(alpha, nullptr);
  EXPECT_EQ(alpha->applies_to, (std::set<Algo>{Algo{"rmsprop"}}));
  EXPECT_EQ(alpha->cli, "--alpha");
  EXPECT_TRUE(find_run_option("centered")->flag);
  for (const RunOptionInfo& info : run_option_table()) {
    for (const Algo& a : info.applies_to) EXPECT_TRUE(algorithm_info(a.name).reads(info.key)) << info.key;
  }
  EXPECT_TRUE(find_run_option("weight_decay")->applies(Algo{"adamw"}));
  EXPECT_FALSE(find_run_option("momentum")->applies(Algo{"adamw"}));
  EXPECT_TRUE(find_run_option("momentum")->applies(Algo{"rmsprop"}));
}

TEST(AlgorithmRows, UnitDefaultsAndOptionsReachTheRun) {
  RunOptions o;
  read_run_options({{"algo", "adamw"}}, "config.json", o);
  nlohmann::json j = run_options_json(o);
  EXPECT_EQ(j.at("weight_decay"), 0.01);
  EXPECT_EQ(j.at("lr"), 0.001);
  EXPECT_FALSE(j.contains("momentum"));

  read_run_options({{"algo", "rmsprop"}, {"alpha", 0.9}, {"centered", true}}, "config.json", o);
  const RMSpropOptions r = RunSpec(o).algorithm().get<RMSpropOptions>();
  EXPECT_EQ(r.alpha, 0.9);
  EXPECT_TRUE(r.centered);
  EXPECT_EQ(r.lr, 0.01);
  j = run_options_json(o);
  EXPECT_EQ(j.at("alpha"), 0.9);
  EXPECT_EQ(j.at("centered"), true);

  try {
    read_run_options({{"alpha", "x"}}, "config.json", o);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("config.json: key 'alpha': expected a finite number"), std::string::npos)
        << e.what();
  }
  o.unit_options["alpha"] = 1.0;
  EXPECT_THROW(RunSpec{o}, OptionError);
  try {
    check_applicable(o, {"alpha"});
  } catch (const OptionError&) {
    FAIL() << "alpha applies to rmsprop";
  }
  o.algo = Algo::Adam;
  EXPECT_THROW(check_applicable(o, {"alpha"}), OptionError);
}

}  // namespace
}  // namespace sibp
