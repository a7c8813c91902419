// The tuning protocol (experiment kind "tune"): the file's checks, the step
// grid, extensions, the second stage and selection on synthetic results (no
// training), the equal budget of every method, and a tiny tuning end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/json_read.hpp"
#include "experiment/compare.hpp"
#include "experiment/tuning.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

json tune_file() {
  return json::parse(R"({
    "name": "tiny-tune", "kind": "tune",
    "base": {"data": "csv:a.csv,b.csv", "layers": "4-8-3", "epochs": 2, "batch": 10, "val_split": 50, "threads": 1},
    "seeds": [1, 2, 3], "selection_seed": 1,
    "methods": [
      {"label": "sgd", "options": {"algo": "sgd"}, "step": {"param": "lr", "centre": 0.1}},
      {"label": "sibp", "options": {"algo": "sibp"}, "step": {"param": "eta", "centre": 1},
       "secondary": {"param": "lambda", "values": [1, 0.3, 3]}}
    ]})");
}

/// The UsageError message of parsing `j`, or "" when it parses.
std::string parse_error(const json& j) {
  try {
    parse_experiment(j, "t.json");
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

void expect_error(const json& j, const std::string& part) {
  const std::string msg = parse_error(j);
  EXPECT_NE(msg.find(part), std::string::npos) << "expected '" << part << "' in: " << msg;
}

TEST(TuneFile, ParsesMethodsAndProtocol) {
  const ExperimentFile e = parse_experiment(tune_file(), "t.json");
  EXPECT_EQ(e.kind, ExperimentKind::Tune);
  ASSERT_EQ(e.methods.size(), 2u);
  EXPECT_EQ(e.methods[0].step, "lr");
  EXPECT_EQ(e.methods[0].centre, 0.1);
  EXPECT_TRUE(e.methods[0].secondary.empty());
  EXPECT_EQ(e.methods[1].secondary, "lambda");
  EXPECT_EQ(e.methods[1].secondary_values, (std::vector<double>{1, 0.3, 3}));
  EXPECT_EQ(e.protocol.points_per_decade, 3);
  EXPECT_EQ(e.protocol.half_width(), 3);
  EXPECT_EQ(e.protocol.second_stage_runs, 2);  // lambda's values after the first
  EXPECT_EQ(e.protocol.selection_seed, 1u);
  EXPECT_TRUE(plan_runs(e).empty());  // its runs depend on results
}

TEST(TuneFile, SelectionOptionsShortenTheSelectionRunsInTheirOwnFolders) {
  json j = tune_file();
  j["protocol"] = {{"selection", {{"epochs", 1}}}};
  const ExperimentFile e = parse_experiment(j, "t.json");
  const PlannedRun chosen = plan_tune_run(e, 1, 1, 0.3, 1, {}, /*selection=*/true);
  EXPECT_EQ(chosen.subdir.generic_string(), "selection/sibp/eta-1/lambda-0.3/seed-1");
  EXPECT_EQ(chosen.config.epochs, 1);
  const PlannedRun final_run = plan_tune_run(e, 1, 1, 0.3, 1);
  EXPECT_EQ(final_run.subdir.generic_string(), "sibp/eta-1/lambda-0.3/seed-1");
  EXPECT_EQ(final_run.config.epochs, 2);
  EXPECT_TRUE(is_tuning_run_folder(e, "selection/sibp/eta-1/lambda-0.3/seed-1"));
  EXPECT_TRUE(is_tuning_run_folder(e, "sibp/eta-1/lambda-0.3/seed-1"));
  EXPECT_TRUE(is_tuning_run_folder(e, "sgd/lr-0.0464/seed-2"));
  EXPECT_TRUE(is_tuning_run_folder(e, "sgd/lr-0.1/seed-18446744073709551615"));  // the largest seed
  for (const char* bad : {"sgd/lr-0.1/seed-18446744073709551616", "sgd/lr-0.1/seed-1e300", "sgd/lr-0.1/seed-+1",
                          "selection/sgd/lr-0.1/lambda-1/seed-1", "sibp/eta-1/seed-1", "sgd/lr-0.10/seed-1",
                          "sgd/lr--1/seed-1", "sgd/lr-0.1/seed-1.5", "adam/lr-0.1/seed-1", "sgd/lr-0.1/seed-x",
                          "../sgd/lr-0.1/seed-1", ""})
    EXPECT_FALSE(is_tuning_run_folder(e, bad)) << bad;
  // Without selection options a selection run is the final run of its seed.
  const ExperimentFile plain = parse_experiment(tune_file(), "t.json");
  EXPECT_EQ(plan_tune_run(plain, 0, 0.1, std::nullopt, 1, {}, true).subdir, plan_tune_run(plain, 0, 0.1, std::nullopt, 1).subdir);
  EXPECT_FALSE(is_tuning_run_folder(plain, "selection/sgd/lr-0.1/seed-1"));

  for (const char* fixed : {"seed", "lr", "eta", "lambda", "layers", "algo", "threads", "val_split", "data"}) {
    j["protocol"] = {{"selection", {{fixed, 1}}}};
    expect_error(j, std::string("t.json: protocol.selection.") + fixed + " cannot differ");
  }
  j["protocol"] = {{"selection", {{"epochs", 1}}}};
  j["methods"][0]["label"] = "selection";
  expect_error(j, "methods[0].label 'selection' is the folder of the selection runs");
  j = tune_file();
  j["base"]["stop_at_accuracy"] = 0.9;
  expect_error(j, "base.stop_at_accuracy is not for a tuning");
  j = tune_file();
  j["protocol"] = {{"selection", {{"epochs", 0}}}};
  expect_error(j, "epochs");
  j["protocol"] = {{"selection", 1}};
  expect_error(j, "protocol.selection must be an object");
}

TEST(TuneFile, RefusesWhatWouldMakeTheProtocolUnfair) {
  json j = tune_file();
  j["base"]["val_split"] = 0;
  expect_error(j, "t.json: base.val_split must be > 0");
  j = tune_file();
  j["base"].erase("val_split");
  expect_error(j, "base.val_split");
  j = tune_file();
  j["methods"][1]["options"]["val_split"] = 0;
  expect_error(j, "methods[1].options.val_split must be > 0");
  j = tune_file();
  j["protocol"] = {{"points_per_decade", 2}};
  expect_error(j, "t.json: protocol.points_per_decade must be an integer from 3");
  j["protocol"] = {{"decades", 1}};
  expect_error(j, "protocol.decades must be a number from 2");
  j["protocol"] = {{"grid", 1}};
  expect_error(j, "protocol.grid is not a protocol key");
  j = tune_file();
  j["seeds"] = {1, 2};
  expect_error(j, "t.json: seeds lists 2 seeds; the tuning protocol runs 3 or more");
  j = tune_file();
  j["base"].erase("threads");
  expect_error(j, "base.threads is missing");
  j = tune_file();
  j["methods"][0]["options"]["threads"] = 2;
  expect_error(j, "methods[0].options.threads is not allowed");
  j = tune_file();
  j["methods"][0]["options"]["algo"] = "nope";
  expect_error(j, "methods[0].options.algo");
  j = tune_file();
  j["methods"][0]["options"].erase("algo");
  expect_error(j, "methods[0].options.algo is missing");
  j = tune_file();
  j["methods"][0]["options"]["lr"] = 0.1;
  expect_error(j, "methods[0].step.param 'lr' is tuned");
  j = tune_file();
  j["methods"][0]["step"]["centre"] = -1;
  expect_error(j, "methods[0].step.centre must be a finite number > 0");
  j = tune_file();
  j["methods"][0]["step"]["param"] = "eta";  // an SIBP option in an SGD method
  expect_error(j, "methods[0]");
  j = tune_file();
  json other = j["methods"][1];
  other["label"] = "sibp-2";
  other["secondary"]["values"] = {1, 0.5};  // 1 second-stage run, not 2
  j["methods"].push_back(other);
  expect_error(j, "methods[2].secondary.values has 2 values, so 1 second-stage runs; every method gets the same "
                  "number of runs, here 2 (as methods[1])");
  j = tune_file();
  j["protocol"] = {{"second_stage_runs", 4}};
  expect_error(j, "methods[1].secondary.values has 3 values");
  j = tune_file();
  j["kind"] = "sweep";
  expect_error(j, "methods is only for \"kind\": \"tune\"");
  j = tune_file();
  j["runs"] = json::array();
  expect_error(j, "runs is not for \"kind\": \"tune\"");
  EXPECT_EQ(parse_error(tune_file()), "");
}

TEST(TuneGrid, ThreePointsPerDecadeAroundTheCentre) {
  EXPECT_EQ(tune_step_value(1, 0, 3), 1);
  EXPECT_EQ(tune_step_value(1, -3, 3), 0.1);
  EXPECT_EQ(tune_step_value(1, 1, 3), 2.15);
  EXPECT_EQ(tune_step_value(0.5, -1, 3), 0.232);
  EXPECT_EQ(tune_step_value(1, 0.5, 3), 1.47);  // half a spacing: the second stage's refinement
  TuneProtocol p;
  p.decades = 2.5;
  EXPECT_EQ(p.half_width(), 4);  // 9 points, 2.67 decades
}

/// A synthetic validation accuracy: a bump peaking at log10(step) = `peak`;
/// steps above `diverge_above` diverge.
struct Landscape {
  double peak = 0;
  double diverge_above = INFINITY;
  std::map<double, double> secondary_bonus;  // added to the accuracy per secondary value
  std::vector<TuneTrial> seen;
  int budget = 1 << 30;                       // answers this many runs, then "no result"

  TuneEvaluator evaluator() {
    return [this](TuneTrial& t) {
      if (budget-- <= 0) return false;
      seen.push_back(t);
      if (t.step > diverge_above) {
        t.status = "diverged";
        t.reason = "synthetic";
        return true;
      }
      const double d = std::log10(t.step) - peak;
      t.status = "completed";
      t.val_acc = 0.9 - 0.1 * d * d + (t.secondary ? secondary_bonus[*t.secondary] : 0);
      t.val_loss = 1 - *t.val_acc;
      t.test_acc = 0.5;  // never read by the selection
      return true;
    };
  }
};

ExperimentFile tune_experiment(json j = tune_file()) { return parse_experiment(j, "t.json"); }

std::vector<double> steps_of(const std::vector<TuneTrial>& trials, const std::string& stage) {
  std::vector<double> out;
  for (const TuneTrial& t : trials)
    if (t.stage == stage) out.push_back(t.step);
  return out;
}

TEST(TuneProtocol, InteriorBestNeedsNoExtension) {
  const ExperimentFile e = tune_experiment();
  Landscape land;
  land.peak = std::log10(0.215);  // on sgd's grid (centre 0.1), position +1
  const std::vector<MethodTuning> r = run_protocol(e, {"sgd"}, land.evaluator());
  ASSERT_EQ(r.size(), 1u);
  const MethodTuning& m = r[0];
  EXPECT_EQ(steps_of(m.selection, "grid"), (std::vector<double>{0.01, 0.0215, 0.0464, 0.1, 0.215, 0.464, 1}));
  EXPECT_EQ(m.grid_runs, 7);
  EXPECT_EQ(m.extensions_low + m.extensions_high, 0);
  // The refinement: half a spacing each side of the best.
  EXPECT_EQ(steps_of(m.selection, "second"), (std::vector<double>{0.147, 0.316}));
  EXPECT_EQ(m.second_stage_runs, 2);
  ASSERT_TRUE(m.chosen);
  EXPECT_EQ(m.selection[*m.chosen].step, 0.215);
  EXPECT_FALSE(m.chosen_at_grid_end);
  ASSERT_EQ(m.finals.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(m.finals[i].seed, e.seeds[i]);
    EXPECT_EQ(m.finals[i].step, 0.215);
  }
  for (const TuneTrial& t : m.selection) EXPECT_EQ(t.seed, 1u);
  EXPECT_TRUE(m.finals_complete);
}

TEST(TuneProtocol, ExtendsUntilTheBestIsInside) {
  const ExperimentFile e = tune_experiment();
  Landscape land;
  land.peak = std::log10(4.64);  // 2 spacings above sgd's grid end (1)
  const MethodTuning m = run_protocol(e, {"sgd"}, land.evaluator())[0];
  EXPECT_EQ(steps_of(m.selection, "extension"), (std::vector<double>{2.15, 4.64, 10}));
  EXPECT_EQ(m.extensions_high, 3);
  EXPECT_EQ(m.extensions_low, 0);
  EXPECT_FALSE(m.extension_cap_reached);
  EXPECT_EQ(m.selection[*m.chosen].step, 4.64);
  EXPECT_FALSE(m.chosen_at_grid_end);

  land = Landscape();
  land.peak = -4;  // far below the grid
  const MethodTuning low = run_protocol(e, {"sgd"}, land.evaluator())[0];
  EXPECT_EQ(low.extensions_low, 4);  // the default cap
  EXPECT_TRUE(low.extension_cap_reached);
  EXPECT_TRUE(low.chosen_at_grid_end);
  EXPECT_EQ(steps_of(low.selection, "extension").back(), 0.000464);
}

TEST(TuneProtocol, ExtensionCapComesFromTheFile) {
  json j = tune_file();
  j["protocol"] = {{"max_extensions", 1}};
  Landscape land;
  land.peak = 3;
  const MethodTuning m = run_protocol(tune_experiment(j), {"sgd"}, land.evaluator())[0];
  EXPECT_EQ(m.extensions_high, 1);
  EXPECT_TRUE(m.extension_cap_reached);
}

TEST(TuneProtocol, DivergedRunsRankLast) {
  const ExperimentFile e = tune_experiment();
  Landscape land;
  land.peak = 3;               // larger is better on validation ...
  land.diverge_above = 0.25;   // ... until it diverges
  const MethodTuning m = run_protocol(e, {"sgd"}, land.evaluator())[0];
  EXPECT_EQ(m.extensions_high, 0);  // the best stable step (0.215) is inside the grid
  EXPECT_EQ(m.selection[*m.chosen].step, 0.215);
  EXPECT_EQ(m.selection[*m.chosen].status, "completed");
  EXPECT_EQ(steps_of(m.selection, "second"), (std::vector<double>{0.147, 0.316}));
}

TEST(TuneProtocol, NothingStableMeansNoFinalRuns) {
  Landscape land;
  land.diverge_above = 0;
  const MethodTuning m = run_protocol(tune_experiment(), {"sgd"}, land.evaluator())[0];
  ASSERT_TRUE(m.chosen);
  EXPECT_FALSE(m.selection[*m.chosen].usable());
  EXPECT_TRUE(m.finals.empty());
  EXPECT_FALSE(m.finals_complete);
}

TEST(TuneProtocol, SecondaryValuesAtTheBestStep) {
  Landscape land;
  land.peak = 0;  // sibp's centre
  land.secondary_bonus = {{1, 0}, {0.3, 0.01}, {3, -0.01}};
  const MethodTuning m = run_protocol(tune_experiment(), {"sibp"}, land.evaluator())[0];
  for (const TuneTrial& t : m.selection) {
    if (t.stage == "grid") {
      EXPECT_EQ(t.secondary, 1.0);  // the first value
    }
  }
  std::vector<double> second;
  for (const TuneTrial& t : m.selection)
    if (t.stage == "second") {
      EXPECT_EQ(t.step, 1);
      second.push_back(*t.secondary);
    }
  EXPECT_EQ(second, (std::vector<double>{0.3, 3}));
  EXPECT_EQ(m.selection[*m.chosen].secondary, 0.3);
  for (const TuneTrial& t : m.finals) EXPECT_EQ(t.secondary, 0.3);
}

TEST(TuneProtocol, TiesGoToTheLowerValidationLoss) {
  TuneTrial a, b;
  a.status = b.status = "completed";
  a.val_acc = b.val_acc = 0.9;
  a.val_loss = 0.3;
  b.val_loss = 0.2;
  a.step = 0.1;
  b.step = 1;
  EXPECT_TRUE(ranks_before(b, a));
  EXPECT_EQ(best_trial({a, b}), 1u);
  b.val_loss = 0.3;
  EXPECT_EQ(best_trial({b, a}), 1u);  // all alike: the smaller step
  b.val_acc = 0.95;
  b.status = "diverged";
  EXPECT_EQ(best_trial({b, a}), 1u);
  EXPECT_EQ(best_grid_end({a, b}), -1);
}

TEST(TuneProtocol, EveryMethodGetsTheSameRunsBeforeExtensions) {
  Landscape land;
  land.peak = -0.5;
  const std::vector<MethodTuning> r = run_protocol(tune_experiment(), {}, land.evaluator());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].grid_runs + r[0].second_stage_runs, r[1].grid_runs + r[1].second_stage_runs);
  for (const MethodTuning& m : r)
    EXPECT_EQ(m.selection.size(),
              static_cast<std::size_t>(m.grid_runs + m.second_stage_runs + m.extensions_low + m.extensions_high));
}

TEST(TuneProtocol, APartialRunIsAPrefixOfTheWholeOne) {
  // What makes resuming sound: the runs decided before an interruption are the
  // first runs of the uninterrupted protocol.
  const ExperimentFile e = tune_experiment();
  Landscape whole;
  whole.peak = 1;
  run_protocol(e, {}, whole.evaluator());
  Landscape part;
  part.peak = 1;
  part.budget = 9;
  const std::vector<MethodTuning> r = run_protocol(e, {}, part.evaluator());
  EXPECT_FALSE(r[0].selection_complete);
  ASSERT_EQ(part.seen.size(), 9u);
  for (std::size_t i = 0; i < part.seen.size(); ++i) {
    EXPECT_EQ(part.seen[i].step, whole.seen[i].step) << i;
    EXPECT_EQ(part.seen[i].stage, whole.seen[i].stage) << i;
  }
}

TEST(TuneProtocol, TuningJsonCountsEveryRun) {
  const ExperimentFile e = tune_experiment();
  Landscape land;
  land.peak = -1;
  const std::vector<MethodTuning> r = run_protocol(e, {}, land.evaluator());
  const json j = tuning_json(e, r);
  ASSERT_EQ(j["methods"].size(), 2u);
  std::size_t runs = 0;
  for (const MethodTuning& m : r) runs += m.selection.size() + m.finals.size();
  EXPECT_EQ(j["runs"].size(), runs);
  EXPECT_EQ(j["methods"][0]["runs"]["before_extensions"], j["methods"][1]["runs"]["before_extensions"]);
  EXPECT_EQ(j["methods"][1]["choice"]["secondary"], 1.0);
  EXPECT_EQ(j["methods"][0]["final"]["test_acc"]["n"], 3);
  const std::string md = tuning_markdown(e, r);
  EXPECT_NE(md.find("## Tuning protocol"), std::string::npos);
  EXPECT_NE(md.find("## Final runs at the chosen settings"), std::string::npos);
  EXPECT_NE(md.find("### sibp: selection runs"), std::string::npos);
  EXPECT_NE(md.find("| seed 1 | seed 2 | seed 3 |"), std::string::npos) << md;
}

/// The report's tuning sections: from "## Tuning protocol" to the final runs'
/// comparison table (whose seconds per epoch change when a run is retrained).
std::string from_protocol(const std::string& report) {
  const std::size_t at = report.find("## Tuning protocol");
  const std::size_t end = report.find("## Data:", at);
  if (at == std::string::npos || end == std::string::npos) return "no tuning or final-runs section in: " + report;
  return report.substr(at, end - at);
}

// A tiny tuning, trained: run folders, resume, and outputs regenerated from the folder.
class TuneEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_blobs(dir_.path() / "train.csv", 120, 1);
    testing::write_blobs(dir_.path() / "test.csv", 60, 2);
    file_ = tune_file();
    file_["base"]["data"] = "csv:" + (dir_.path() / "train.csv").string() + "," + (dir_.path() / "test.csv").string();
    file_["base"]["val_split"] = 40;
    file_["methods"].erase(1);  // SGD alone keeps it fast
    file_["protocol"] = {{"max_extensions", 1}, {"second_stage_runs", 1}};
  }
  ExperimentRunReport run() {
    ExperimentOptions options;
    options.out_dir = dir_.path() / "out";
    options.progress = &log_;
    return run_experiment(parse_experiment(file_, "tiny.json"), options);
  }
  testing::TempDir dir_;
  json file_;
  std::ostringstream log_;
};

TEST_F(TuneEndToEnd, TrainsResumesAndRegenerates) {
  const ExperimentRunReport first = run();
  EXPECT_EQ(first.skipped, 1) << log_.str();  // the final seed 1 is the selection run at the chosen step
  EXPECT_EQ(first.trained + first.skipped, first.planned);
  const fs::path out = dir_.path() / "out";
  const json j = read_json_file(out / "tuning.json");
  ASSERT_EQ(j["methods"].size(), 1u);
  EXPECT_TRUE(j["methods"][0]["finals_complete"].get<bool>()) << j.dump(1);
  for (const json& r : j["runs"]) {
    EXPECT_TRUE(fs::exists(out / r["folder"].get<std::string>() / "result.json")) << r.dump();
    EXPECT_TRUE(r["val_acc"].is_number()) << r.dump();
  }
  const std::string report = testing::slurp(out / "report.md");
  EXPECT_NE(report.find("## Final runs at the chosen settings"), std::string::npos);
  // The final runs as a comparison reports them: one row for the method's 3 seeds.
  EXPECT_NE(report.find("## Data:"), std::string::npos) << report;
  EXPECT_NE(report.find("| sgd | algo=sgd, lr="), std::string::npos) << report;

  // Interrupted: the last final run lost its result; only it trains again.
  const std::string last = j["runs"].back()["folder"].get<std::string>();
  fs::remove(out / last / "result.json");
  const ExperimentRunReport second = run();
  EXPECT_EQ(second.trained, 1);
  EXPECT_EQ(second.planned, first.planned);
  EXPECT_EQ(from_protocol(testing::slurp(out / "report.md")), from_protocol(report));

  // From the folder alone.
  fs::remove(out / "report.md");
  fs::remove(out / "tuning.json");
  regenerate_outputs(out);
  EXPECT_EQ(from_protocol(testing::slurp(out / "report.md")), from_protocol(report));
  EXPECT_EQ(read_json_file(out / "tuning.json"), j);
}

TEST_F(TuneEndToEnd, SelectionRunsAreShortenedAndTheFinalsTrainInFull) {
  file_["protocol"]["selection"] = {{"epochs", 1}};
  const ExperimentRunReport first = run();
  EXPECT_EQ(first.skipped, 0) << log_.str();  // no final run is a selection run now
  const fs::path out = dir_.path() / "out";
  const json j = read_json_file(out / "tuning.json");
  EXPECT_EQ(j["protocol"]["selection_options"], json({{"epochs", 1}}));
  int selection = 0, finals = 0;
  for (const json& r : j["runs"]) {
    const std::string folder = r["folder"].get<std::string>();
    const bool in_selection = folder.rfind("selection/", 0) == 0;
    EXPECT_EQ(in_selection, r["stage"] != "final") << folder;
    const json config = read_json_file(out / folder / "config.json");
    EXPECT_EQ(config["epochs"], in_selection ? 1 : 2) << folder;
    (in_selection ? selection : finals) += 1;
  }
  EXPECT_EQ(finals, 3);
  EXPECT_GE(selection, 8);
  // Replayed from the folder alone, the protocol reaches the same runs.
  const std::string report = from_protocol(testing::slurp(out / "report.md"));
  fs::remove(out / "tuning.json");
  regenerate_outputs(out);
  EXPECT_EQ(read_json_file(out / "tuning.json"), j);
  EXPECT_EQ(from_protocol(testing::slurp(out / "report.md")), report);
  EXPECT_EQ(finished_tuning_runs(out, parse_experiment(file_, "tiny.json")).size(), static_cast<std::size_t>(selection + finals));
}

}  // namespace
}  // namespace sibp
