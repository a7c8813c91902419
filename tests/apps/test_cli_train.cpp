// End-to-end tests of `sibp train` and `sibp eval` on small generated data.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/safetensors.hpp"
#include "nn/bf16.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

class CliTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = write_blob_split(dir_, 300, 90);
  }
  std::string train_args(const std::string& out, const std::string& extra = "") const {
    return "train --data '" + data_ + "' --layers 4-16-3 --epochs 4 --batch 10 --seed 3 --out '" +
           (dir_ / out).string() + "' " + extra;
  }
  TempDir dir_;
  std::string data_;
};

TEST_F(CliTrain, TrainWritesOutputsAndEvalReadsModel) {
  const auto r = run_sibp(train_args("run", "--algo sgd --lr 0.5 --val-split 30 --eval-every 7"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path run = dir_ / "run";
  for (const char* f : {"config.json", "metrics.csv", "metrics.json", "model.safetensors", "result.json"})
    EXPECT_TRUE(fs::exists(run / f)) << f;

  const std::string csv = slurp(run / "metrics.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "epoch,iteration,seconds,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc");
  // 270 training samples / 10 = 27 iterations per epoch; points at 0, every 7, and epoch ends.
  const auto metrics = nlohmann::json::parse(slurp(run / "metrics.json"));
  ASSERT_TRUE(metrics.is_array());
  EXPECT_EQ(metrics.front()["iteration"], 0);
  EXPECT_EQ(metrics.back()["iteration"], 108);
  EXPECT_FALSE(metrics.back()["val_acc"].is_null());
  EXPECT_GT(metrics.back()["test_acc"].get<double>(), 0.9);
  EXPECT_LT(metrics.back()["train_loss"].get<double>(), metrics.front()["train_loss"].get<double>());

  const auto config = nlohmann::json::parse(slurp(run / "config.json"));
  EXPECT_EQ(config["algo"], "sgd");
  EXPECT_EQ(config["val_split"], 30);
  EXPECT_TRUE(config["software"].contains("version"));
  const auto result = nlohmann::json::parse(slurp(run / "result.json"));
  EXPECT_EQ(result["status"], "completed");

  const auto e = run_sibp("eval --model '" + (run / "model.safetensors").string() + "' --data '" + data_ +
                          ":test' --json");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const auto ev = nlohmann::json::parse(e.out);
  EXPECT_EQ(ev["samples"], 90);
  // The model file holds the final parameters, so eval agrees with the last metrics row.
  EXPECT_NEAR(ev["accuracy"].get<double>(), metrics.back()["test_acc"].get<double>(), 1e-9);
  EXPECT_NEAR(ev["loss"].get<double>(), metrics.back()["test_loss"].get<double>(), 1e-4);
  long long total = 0;
  for (const auto& row : ev["confusion"])
    for (const auto& v : row) total += v.get<long long>();
  EXPECT_EQ(total, 90);

  const auto text = run_sibp("eval --model '" + (run / "model.safetensors").string() + "' --data '" + data_ + "'");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("confusion matrix"), std::string::npos);
}

TEST_F(CliTrain, SameSeedSameResultAndConfigReruns) {
  ASSERT_EQ(run_sibp(train_args("a", "--algo adam --lr 0.01")).exit_code, 0);
  ASSERT_EQ(run_sibp(train_args("b", "--algo adam --lr 0.01")).exit_code, 0);
  EXPECT_EQ(slurp(dir_ / "a" / "model.safetensors"), slurp(dir_ / "b" / "model.safetensors"));
  // Rerun from the recorded config alone.
  const auto r = run_sibp("train --config '" + (dir_ / "a" / "config.json").string() + "' --out '" +
                          (dir_ / "c").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(dir_ / "a" / "model.safetensors"), slurp(dir_ / "c" / "model.safetensors"));
  // A command-line option overrides the file.
  ASSERT_EQ(run_sibp("train --config '" + (dir_ / "a" / "config.json").string() + "' --seed 4 --out '" +
                     (dir_ / "d").string() + "'").exit_code, 0);
  EXPECT_NE(slurp(dir_ / "a" / "model.safetensors"), slurp(dir_ / "d" / "model.safetensors"));
}

TEST_F(CliTrain, TrainSubsetUsesTheFirstSamples) {
  ASSERT_EQ(run_sibp(train_args("sub", "--train-subset 60 --epochs 1")).exit_code, 0);
  const auto metrics = nlohmann::json::parse(slurp(dir_ / "sub" / "metrics.json"));
  EXPECT_EQ(metrics.back()["iteration"], 6);  // 60 samples in batches of 10
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "sub" / "config.json"))["data_shape"]["train"], 60);
  // --test-subset: the test metrics describe the first N test samples only.
  ASSERT_EQ(run_sibp(train_args("tsub", "--test-subset 7 --epochs 1")).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "tsub" / "config.json"))["data_shape"]["test"], 7);
  const auto tm = nlohmann::json::parse(slurp(dir_ / "tsub" / "metrics.json"));
  const double acc = tm.back()["test_acc"].get<double>();
  EXPECT_NEAR(acc * 7, std::round(acc * 7), 1e-9) << acc;  // a multiple of 1/7
}

TEST_F(CliTrain, InitFromStartsFromGivenWeights) {
  ASSERT_EQ(run_sibp(train_args("a", "--lr 0.5")).exit_code, 0);
  // Zero epochs are not allowed, so compare the first metrics row instead: it
  // is evaluated before any step, at the loaded weights.
  ASSERT_EQ(run_sibp(train_args("b", "--lr 0.5 --init-from '" + (dir_ / "a" / "model.safetensors").string() + "'"))
                .exit_code, 0);
  const auto a = nlohmann::json::parse(slurp(dir_ / "a" / "metrics.json"));
  const auto b = nlohmann::json::parse(slurp(dir_ / "b" / "metrics.json"));
  EXPECT_NEAR(b.front()["train_loss"].get<double>(), a.back()["train_loss"].get<double>(), 1e-6);
}

TEST_F(CliTrain, DivergenceStopsWithCode3AndKeepsOutputs) {
  const auto r = run_sibp(train_args("div", "--algo sgd --lr 1e30 --eval-every 1"));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("diverged"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("iteration"), std::string::npos) << r.err;
  const fs::path run = dir_ / "div";
  EXPECT_TRUE(fs::exists(run / "model.safetensors"));
  const auto metrics = nlohmann::json::parse(slurp(run / "metrics.json"));
  EXPECT_GE(metrics.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(slurp(run / "result.json"))["status"], "diverged");
  // The checkpoint kept is a finite one: eval can still use it.
  const auto e = run_sibp("eval --json --model '" + (run / "model.safetensors").string() + "' --data '" + data_ + "'");
  EXPECT_EQ(e.exit_code, 0) << e.err;
}

TEST_F(CliTrain, StopAtAccuracyEndsACompletedRunAtTheFirstPointBothHeldOutSetsReachIt) {
  const auto r = run_sibp(train_args("early", "--algo sgd --lr 0.5 --val-split 30 --eval-every 3 --stop-at-accuracy 0.8"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto metrics = nlohmann::json::parse(slurp(dir_ / "early" / "metrics.json"));
  ASSERT_GE(metrics.size(), 2u);
  const auto reached = [](const nlohmann::json& row) {
    return row["val_acc"].get<double>() >= 0.8 && row["test_acc"].get<double>() >= 0.8;
  };
  EXPECT_TRUE(reached(metrics.back()));
  for (std::size_t i = 0; i + 1 < metrics.size(); ++i) EXPECT_FALSE(reached(metrics[i])) << "row " << i;
  EXPECT_LT(metrics.back()["iteration"].get<int>(), 4 * 27);  // before the last epoch's end
  const auto result = nlohmann::json::parse(slurp(dir_ / "early" / "result.json"));
  EXPECT_EQ(result["status"], "completed");
  EXPECT_NE(result["message"].get<std::string>().find("reached"), std::string::npos);
  const auto bad = run_sibp(train_args("bad", "--algo sgd --stop-at-accuracy 1.5"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--stop-at-accuracy"), std::string::npos) << bad.err;
}

struct BadUsage {
  std::string args;
  int code;
  std::string needle;
};

TEST_F(CliTrain, BadOptionsGiveClearErrors) {
  const std::vector<BadUsage> cases = {
      {"--lr 0", 2, "--lr"},
      {"--lr -0.1", 2, "--lr"},
      {"--batch 0", 2, "--batch"},
      {"--epochs 0", 2, "--epochs"},
      {"--act swish", 2, "swish"},
      {"--algo lbfgs", 2, "lbfgs"},
      {"--init uniform", 2, "uniform"},
      {"--layers 5-16-3", 2, "features"},
      {"--layers 4-16-7", 2, "classes"},
      {"--layers 4-x-3", 2, "--layers"},
      {"--dtype f16", 2, "--dtype"},
      {"--precision f16", 2, "--precision: expected f32 or bf16, got 'f16'"},
      {"--precision bf16 --dtype f64", 2, "--precision: bf16 products need --dtype f32"},
      {"--train-subset 100000", 2, "--train-subset"},
      {"--test-subset 100000", 2, "--test-subset"},
      {"--algo sgd --eta 0.5", 2, "--eta: applies to --algo sibp, not sgd"},
      {"--seed -1", 2, "--seed"},
      {"--epochs 4294967298", 2, "--epochs"},
      {"--threads 1000", 2, "--threads"},
      {"--layers 4-16-3-", 2, "--layers"},
      {"--init-from /nonexistent/model.safetensors", 1, "/nonexistent/model.safetensors"},
  };
  for (const auto& c : cases) {
    const auto r = run_sibp(train_args("bad", c.args));
    EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "bad" / "metrics.csv"));
}

TEST_F(CliTrain, Bf16IsRecordedResumedAndRefusedWithoutTheCpuFeature) {
  if (!bf16_unsupported_reason().empty()) GTEST_SKIP() << bf16_unsupported_reason();
  // Trains, records the precision, and a resumed run keeps it (a conflicting
  // --precision on resume is refused like any changed option).
  const auto r = run_sibp(train_args("b", "--precision bf16 --epochs 2"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto config = nlohmann::json::parse(slurp(dir_ / "b" / "config.json"));
  EXPECT_EQ(config.at("precision"), "bf16") << config.dump();
  const auto f32 = run_sibp(train_args("f", "--epochs 2"));
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  EXPECT_NE(slurp(dir_ / "b" / "model.safetensors"), slurp(dir_ / "f" / "model.safetensors"));
  const auto changed = run_sibp("train --resume --precision f32 --out '" + (dir_ / "b").string() + "'");
  EXPECT_EQ(changed.exit_code, 2) << changed.err;
  EXPECT_NE(changed.err.find("precision"), std::string::npos) << changed.err;
  // The same run replayed from its config.json is bit-identical (bf16 products are deterministic).
  const auto again = run_sibp("train --config '" + (dir_ / "b" / "config.json").string() + "' --out '" +
                              (dir_ / "b2").string() + "'");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(slurp(dir_ / "b" / "model.safetensors"), slurp(dir_ / "b2" / "model.safetensors"));

  // With oneDNN capped below AVX512-BF16 the run is refused, naming the option;
  // never a silent fall back to float32.
  ::setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE", 1);
  const auto capped = run_sibp(train_args("capped", "--precision bf16"));
  ::unsetenv("DNNL_MAX_CPU_ISA");
  EXPECT_EQ(capped.exit_code, 2) << capped.err;
  EXPECT_NE(capped.err.find("--precision: bf16: oneDNN may not use"), std::string::npos) << capped.err;
  EXPECT_FALSE(fs::exists(dir_ / "capped" / "metrics.csv"));
}

TEST_F(CliTrain, UnwritableOutputAndMissingDataAreDataErrors) {
  testing::write_bytes(dir_ / "file", "x");
  auto r = run_sibp("train --data '" + data_ + "' --layers 4-16-3 --out '" + (dir_ / "file" / "sub").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find((dir_ / "file").string()), std::string::npos) << r.err;
  r = run_sibp("train --data 'csv:" + (dir_ / "missing.csv").string() + "' --layers 4-16-3 --out '" +
               (dir_ / "o").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("missing.csv"), std::string::npos) << r.err;
}


TEST_F(CliTrain, SibpAndProxPropTrainWithDiagnostics) {
  for (const std::string solver : {"reference", "exact:gn-exact", "exact:gn-cg"}) {
    const std::string out = "sibp-" + std::to_string(solver.size());
    const auto r = run_sibp(train_args(out, "--algo sibp --eta 0.5 --solver " + solver + " --diagnostics"));
    ASSERT_EQ(r.exit_code, 0) << solver << r.err;
    const auto metrics = nlohmann::json::parse(slurp(dir_ / out / "metrics.json"));
    EXPECT_GT(metrics.back()["test_acc"].get<double>(), 0.9) << solver;
    ASSERT_TRUE(metrics.back().contains("grad_norm"));
    EXPECT_LT(metrics.back()["grad_norm"].get<double>(), metrics.front()["grad_norm"].get<double>());
    for (const char* layer : {"layer1_", "layer2_"}) {
      const auto before = metrics.back()[std::string(layer) + "obj_before"].get<double>();
      const auto after = metrics.back()[std::string(layer) + "obj_after"].get<double>();
      EXPECT_LE(after, before) << solver << " " << layer;
    }
    for (const char* column : {"layer1_grad_norm", "layer2_grad_norm", "layer1_update", "layer2_update",
                               "layer1_target_move", "layer2_target_move", "layer1_solver_iters"})
      EXPECT_TRUE(metrics.back().contains(column)) << solver << " " << column;
    EXPECT_TRUE(metrics.front()["layer1_update"].is_null());  // no update before the first step
  }
  const auto p = run_sibp(train_args("pp", "--algo proxprop --tau 0.05 --prox-solver cg --prox-iters 3 --lr 1 "
                                           "--momentum 0.9 --nesterov"));
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const auto metrics = nlohmann::json::parse(slurp(dir_ / "pp" / "metrics.json"));
  EXPECT_GT(metrics.back()["test_acc"].get<double>(), 0.9);
  // Contradictory SIBP options are refused before training.
  const auto bad = run_sibp(train_args("bad", "--algo sibp --solver exact"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("exact"), std::string::npos) << bad.err;
}

TEST_F(CliTrain, DiagnosticsUpdateMatchesTheSavedModels) {
  // The models at two evaluation points: a 1-epoch run and the same run for 2
  // epochs (same seed, so the same first epoch); the second run's
  // layer<i>_update at epoch 2 is the relative change between them.
  const std::string common = "train --data '" + data_ + "' --layers 4-8-6-3 --act sigmoid --algo sibp --eta 0.5 "
                             "--batch 10 --seed 3 --dtype f64 --diagnostics ";
  ASSERT_EQ(run_sibp(common + "--epochs 1 --out '" + (dir_ / "e1").string() + "'").exit_code, 0);
  const auto r = run_sibp(common + "--epochs 2 --out '" + (dir_ / "e2").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Network<double> one = load_network<double>(dir_ / "e1" / "model.safetensors");
  const Network<double> two = load_network<double>(dir_ / "e2" / "model.safetensors");
  const auto metrics = nlohmann::json::parse(slurp(dir_ / "e2" / "metrics.json"));
  ASSERT_EQ(metrics.size(), 3u);
  ASSERT_EQ(metrics[2]["epoch"], 2.0);
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string layer = "layer" + std::to_string(i + 1) + "_";
    const double want = (two.params(i).W - one.params(i).W).norm() / one.params(i).W.norm();
    EXPECT_NEAR(metrics[2][layer + "update"].get<double>(), want, 1e-12 * want) << layer;
    EXPECT_GT(metrics[2][layer + "target_move"].get<double>(), 0) << layer;
    EXPECT_GT(metrics[2][layer + "grad_norm"].get<double>(), 0) << layer;
  }
  // `sibp plot` on a train folder: its curves and its per-layer figure.
  const auto p = run_sibp("plot '" + (dir_ / "e2").string() + "'");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  for (const char* f : {"layers.png", "layers.svg", "layers.gp", "data/layers.dat", "train_loss_vs_epoch.png"})
    EXPECT_TRUE(fs::exists(dir_ / "e2" / "plots" / f)) << f;
  EXPECT_NE(p.out.find("layers.svg"), std::string::npos) << p.out;
  // A folder that is neither a run nor an experiment is a data error naming it.
  fs::create_directories(dir_ / "empty");
  const auto bad = run_sibp("plot '" + (dir_ / "empty").string() + "'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("empty"), std::string::npos) << bad.err;
}

TEST(Cli, HelpOnEveryCommand) {
  for (const char* cmd : {"--help", "train --help", "eval --help", "data --help", "data fetch --help",
                          "reference-step --help"}) {
    const auto r = run_sibp(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd;
  }
  EXPECT_EQ(run_sibp("").exit_code, 2);
  EXPECT_EQ(run_sibp("frobnicate").exit_code, 2);
  EXPECT_EQ(run_sibp("train").exit_code, 2);  // --out is required
}

}  // namespace
}  // namespace sibp
