// --schedule, --warmup and --sampling as run options: read from text and JSON
// through the option table, reaching FitOptions, written to config.json (and
// so to the run digest) only when set, and the step each algorithm scales.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "experiment/run_digest.hpp"
#include "experiment/run_options.hpp"
#include "nn/init.hpp"
#include "train/registry.hpp"

namespace sibp {
namespace {
using nlohmann::json;

TEST(ScheduleOptions, TextAndJsonReachTheFitOptions) {
  RunOptions text;
  find_run_option("warmup")->from_text(text, "7");
  find_run_option("schedule")->from_text(text, "multistep:2,4:0.5");
  find_run_option("sampling")->from_text(text, "independent");
  RunOptions file;
  read_run_options({{"schedule", "multistep:2,4:0.5"}, {"warmup", 7}, {"sampling", "independent"}}, "x.json", file);
  for (const RunOptions* o : {&text, &file}) {
    const RunSpec spec(*o);
    EXPECT_EQ(spec.fit().schedule, o->schedule);
    EXPECT_EQ(spec.fit().schedule.kind, StepSchedule::Kind::MultiStep);
    EXPECT_EQ(spec.fit().schedule.milestones, (std::vector<int>{2, 4}));
    EXPECT_EQ(spec.fit().schedule.gamma, 0.5);
    EXPECT_EQ(spec.fit().schedule.warmup, 7) << "--warmup survives a later --schedule";
    EXPECT_EQ(spec.fit().sampling, BatchSampling::Independent);
  }
  const json j = run_options_json(file);
  EXPECT_EQ(j.at("schedule"), "multistep:2,4:0.5");
  EXPECT_EQ(j.at("warmup"), 7);
  EXPECT_EQ(j.at("sampling"), "independent");
  RunOptions back;
  read_run_options(j, "config.json", back);
  EXPECT_EQ(run_options_json(back), j);
}

TEST(ScheduleOptions, DefaultsAreLeftOutSoOlderRunsKeepTheirIdentity) {
  // A run recorded before these options existed has no such keys in its
  // config.json; its digest must stay what it was, so the defaults are not written.
  const RunOptions defaults;
  const json j = run_options_json(defaults);
  for (const char* key : {"schedule", "warmup", "sampling"}) {
    EXPECT_FALSE(j.contains(key)) << key;
    EXPECT_FALSE(find_run_option(key)->unwritten_default.is_null()) << key;
  }
  RunOptions explicit_defaults;
  read_run_options({{"schedule", "constant"}, {"warmup", 0}, {"sampling", "shuffle"}}, "x.json", explicit_defaults);
  EXPECT_EQ(run_digest(explicit_defaults), run_digest(defaults));
  // Null reads as the default (what Python's resume path hands back).
  RunOptions set;
  read_run_options({{"schedule", "cosine"}, {"warmup", 3}, {"sampling", "independent"}}, "x.json", set);
  read_run_options({{"schedule", nullptr}, {"warmup", nullptr}, {"sampling", nullptr}}, "x.json", set);
  EXPECT_EQ(run_digest(set), run_digest(defaults));
  // Each one changes the run, so each one changes its identity.
  for (const json& change : {json{{"schedule", "cosine"}}, json{{"warmup", 1}}, json{{"sampling", "independent"}},
                             json{{"schedule", "multistep:1:0.5"}}, json{{"schedule", "multistep:1:0.25"}}}) {
    RunOptions o;
    read_run_options(change, "x.json", o);
    EXPECT_NE(run_digest(o), run_digest(defaults)) << change.dump();
  }
}

TEST(ScheduleOptions, BadValuesNameTheOptionAndTheFile) {
  const auto expect_bad = [](const json& j, const std::string& needle) {
    RunOptions o;
    try {
      read_run_options(j, "x.json", o);
      FAIL() << "no error for " << j.dump();
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_bad({{"schedule", "multistep:3,2:0.1"}}, "x.json: key 'schedule': multistep milestones must be strictly");
  expect_bad({{"schedule", "multistep:2:0"}}, "key 'schedule': multistep GAMMA must be a finite number > 0");
  expect_bad({{"schedule", 3}}, "key 'schedule': expected a string");
  expect_bad({{"warmup", -1}}, "key 'warmup': expected an integer from 0");
  expect_bad({{"warmup", 1.5}}, "key 'warmup'");
  expect_bad({{"sampling", "replacement"}}, "key 'sampling': expected shuffle or independent");
  RunOptions o;
  try {
    find_run_option("schedule")->from_text(o, "cosin");
    FAIL() << "no error";
  } catch (const OptionError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--schedule: expected constant, cosine or multistep", 0), 0u) << e.what();
  }
}

/// Two steps of a run's algorithm (`o`) with step factor `factor` from a fixed start.
Network<double> two_steps(const RunOptions& o, double factor) {
  const NetworkSpec spec = NetworkSpec::mlp({3, 4, 2}, Activation::Tanh, Loss::SoftmaxCrossEntropy);
  Rng rng(7);
  Network<double> net(spec, Initializer::parse("normal:0.5"), rng);
  Batch<double> batch;
  batch.X = Mat<double>::NullaryExpr(3, 6, [&] { return rng.normal(); });
  batch.Y = Mat<double>::Zero(2, 6);
  for (Index j = 0; j < 6; ++j) batch.Y(j % 2, j) = 1;
  const auto algo = make_algorithm<double>(RunSpec(o).algorithm(), spec);
  algo->set_step_factor(factor);
  for (int s = 0; s < 2; ++s) algo->step(net, batch);
  return net;
}

TEST(ScheduleOptions, EveryAlgorithmScalesItsStepExactly) {
  // Halving 0.4 is exact in binary: the run with step 0.4 and factor 0.5 must
  // equal the run with step 0.2 bit for bit (and differ from step 0.4 alone).
  // The step is --lr for the gradient rules and ProxProp's outer optimizer,
  // and --eta for SIBP, whose λ stays as given.
  for (const AlgorithmName* n : algorithm_names()) {
    SCOPED_TRACE(n->name);
    RunOptions o;
    o.algo = Algo{n->name};
    const auto with_step = [&](double step) {
      RunOptions r = o;
      if (n->name == "sibp")
        r.eta = step;
      else
        r.lr = step;
      return r;
    };
    const Network<double> scaled = two_steps(with_step(0.4), 0.5), plain = two_steps(with_step(0.2), 1.0),
                          unscaled = two_steps(with_step(0.4), 1.0);
    for (std::size_t l = 0; l < plain.num_param_layers(); ++l) {
      EXPECT_EQ(scaled.params(l).W, plain.params(l).W) << "layer " << l;
      EXPECT_EQ(scaled.params(l).b, plain.params(l).b) << "layer " << l;
    }
    EXPECT_NE(unscaled.params(0).W, plain.params(0).W);
  }
}

}  // namespace
}  // namespace sibp
