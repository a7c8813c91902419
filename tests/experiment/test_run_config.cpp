#include <gtest/gtest.h>

#include "core/error.hpp"
#include "experiment/make_algorithm.hpp"
#include "experiment/run_config.hpp"

namespace sibp {
namespace {

TEST(RunConfig, JsonRoundTripKeepsEveryField) {
  RunConfig c;
  c.data = "csv:a.csv,b.csv";
  c.val_split = 7;
  c.standardize = true;
  c.layers = "4-8-3";
  c.algo = "sibp";
  c.eta = 0.3;
  c.lambda = "1,0.5";
  c.quirks = {"armijo-jump", "skip-unit-step"};
  c.seed = 12345678901ULL;
  c.epochs = 3;
  const RunConfig back = RunConfig::from_json(c.to_json(), "test");
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.quirks.size(), 2u);
  EXPECT_EQ(back.seed, 12345678901ULL);
}

TEST(RunConfig, UnknownKeyIsNamed) {
  nlohmann::json j = {{"algo", "sgd"}, {"learning_rate", 0.1}};
  try {
    RunConfig::from_json(j, "exp.json");
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("exp.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("learning_rate"), std::string::npos);
  }
}

TEST(RunConfig, WrongTypeIsNamed) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"epochs", "five"}, {"lr", "fast"}, {"standardize", 1}, {"quirks", 3}, {"seed", -1}, {"epochs", 2.5}}) {
    nlohmann::json j = {{key, value}};
    try {
      RunConfig::from_json(j, "exp.json");
      FAIL() << "expected UsageError for " << key;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(RunConfig, NumbersAcceptedForStringOptions) {
  const RunConfig c = RunConfig::from_json({{"lambda", 2}}, "x");
  EXPECT_EQ(c.lambda, "2");
}

TEST(RunConfig, ValidateRejectsBadValues) {
  auto expect_bad = [](auto mutate, const std::string& needle) {
    RunConfig c;
    mutate(c);
    try {
      c.validate();
      FAIL() << "expected UsageError mentioning " << needle;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_bad([](RunConfig& c) { c.epochs = 0; }, "--epochs");
  expect_bad([](RunConfig& c) { c.batch = -3; }, "--batch");
  expect_bad([](RunConfig& c) { c.lr = 0; }, "--lr");
  expect_bad([](RunConfig& c) { c.lr = -1; }, "--lr");
  expect_bad([](RunConfig& c) { c.algo = "lbfgs"; }, "--algo");
  expect_bad([](RunConfig& c) { c.dtype = "f16"; }, "--dtype");
  expect_bad([](RunConfig& c) { c.algo = "sibp"; c.eta = 0; }, "--eta");
  expect_bad([](RunConfig& c) { c.algo = "proxprop"; c.tau = -1; }, "--tau");
  expect_bad([](RunConfig& c) { c.val_split = -1; }, "--val-split");
}

TEST(MakeAlgorithm, MomentumNamesImplyMomentum) {
  RunConfig c;
  c.algo = "nesterov";
  const UpdateOptions o = update_options(c);
  EXPECT_TRUE(o.nesterov);
  EXPECT_DOUBLE_EQ(o.momentum, 0.9);
  c.algo = "adam";
  c.lr = 1e-3;
  EXPECT_EQ(update_options(c).kind, UpdateKind::Adam);
  c.momentum = 0.5;
  EXPECT_THROW(update_options(c), UsageError);
}

}  // namespace
}  // namespace sibp

namespace sibp {
namespace {

TEST(MakeAlgorithm, CompatAloneSelectsTheReferenceSolver) {
  RunConfig c;
  c.algo = "sibp";
  c.layers = "4-5-3";
  NetworkSpec spec;
  spec.widths = {4, 5, 3};
  const Network<double> net(spec);
  c.compat = "authors";
  EXPECT_NE(make_algorithm<double>(c, net), nullptr);  // default solver gives way to "reference"
  c.solver = "exact:gn-exact";                          // an explicit other solver is a contradiction
  EXPECT_THROW(make_algorithm<double>(c, net), UsageError);
  c.compat.clear();
  EXPECT_NE(make_algorithm<double>(c, net), nullptr);
  c.algo = "proxprop";
  c.outer = "rmsprop";
  EXPECT_THROW(make_algorithm<double>(c, net), UsageError);
}

}  // namespace
}  // namespace sibp
