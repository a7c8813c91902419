// The one typed description of a run: the option table, reading from JSON and
// from command-line text, the algorithm-dependent defaults, and RunSpec's checks.
#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "experiment/run_options.hpp"
#include "train/adam.hpp"
#include "train/sgd.hpp"

namespace sibp {
namespace {
using nlohmann::json;

/// Expects `fn` to throw an exception of type E whose message contains `needle`.
template <typename E = UsageError, typename Fn>
void expect_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    FAIL() << "expected an error mentioning " << needle;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

RunOptions from_json(const json& j) {
  RunOptions o;
  read_run_options(j, "x.json", o);
  return o;
}

TEST(RunOptions, JsonRoundTripKeepsEveryApplicableOption) {
  RunOptions o;
  o.data = "csv:a.csv,b.csv";
  o.val_split = 7;
  o.standardize = true;
  o.layers = {4, 8, 3};
  o.algo = Algo::SIBP;
  o.eta = 0.3;
  o.lambda = {1, 0.5};
  o.solver = SolverSpec{SolverKind::Reference, SolverKind::Reference};
  o.quirks.enable("armijo-jump");
  o.quirks.enable("skip-unit-step");
  o.seed = 12345678901ULL;
  o.epochs = 3;
  const json j = run_options_json(o);
  EXPECT_EQ(j.at("lambda"), "1,0.5");
  EXPECT_EQ(j.at("quirks"), json({"armijo-jump", "skip-unit-step"}));
  EXPECT_FALSE(j.contains("lr")) << "lr does not apply to SIBP";
  const RunOptions back = from_json(j);
  EXPECT_EQ(run_options_json(back), j);
  EXPECT_EQ(back.seed, 12345678901ULL);
  EXPECT_EQ(back.layers, (std::vector<Index>{4, 8, 3}));
}

TEST(RunOptions, ArchReplacesLayersAndActInTheRecord) {
  RunOptions o;
  o.arch = Architecture::parse("conv(4,3) relu maxpool(2) dense(10)");
  const json j = run_options_json(o);
  EXPECT_EQ(j.at("arch"), "conv(4,3) relu maxpool(2) dense(10)");
  EXPECT_FALSE(j.contains("layers"));
  EXPECT_FALSE(j.contains("act"));
  EXPECT_EQ(run_options_json(from_json(j)), j);
}

TEST(RunOptions, TextAndJsonReadTheSameValues) {
  // The command line and files go through the same codec for every option.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"lr", "0.25"}, {"epochs", "7"}, {"seed", "18446744073709551615"}, {"act", "tanh"},
      {"solver", "exact:gn-exact"}, {"lambda", "1,2"}, {"arch", "dense(3)"}, {"layers", "4-2-3"},
      {"init", "normal:0.1"}, {"dtype", "f64"}, {"prox_cg", "textbook"}, {"outer", "adam"}, {"update", "joint"},
      {"precision", "bf16"}};
  for (const auto& [key, text] : cases) {
    SCOPED_TRACE(key);
    const RunOptionInfo* info = find_run_option(key);
    ASSERT_NE(info, nullptr);
    RunOptions a, b;
    info->from_text(a, text);
    info->from_json(b, info->to_json(a));
    EXPECT_EQ(info->to_json(a), info->to_json(b));
  }
}

TEST(RunOptions, UnknownKeyAndWrongTypesAreNamed) {
  expect_error([] { from_json({{"algo", "sgd"}, {"learning_rate", 0.1}}); }, "'learning_rate'");
  for (const auto& [key, value] : std::vector<std::pair<std::string, json>>{
           {"epochs", "five"}, {"lr", "fast"}, {"standardize", 1}, {"quirks", 3}, {"seed", -1}, {"epochs", 2.5},
           {"act", 3}, {"arch", "conv(0,3)"}, {"layers", "784-16-10-"}, {"precision", "fp16"},
           {"precision", 16}}) {
    SCOPED_TRACE(key);
    expect_error([&] { from_json({{key, value}}); }, "x.json: key '" + key + "'");
  }
  expect_error([] { from_json(json::array({1, 2})); }, "expected a JSON object");
}

TEST(RunOptions, IntegersNeverWrapAround) {
  // 4294967298 = 2^32 + 2 would read as 2 epochs through a 32-bit cast.
  expect_error([] { from_json({{"epochs", 4294967298LL}}); }, "from 1 to 1000000");
  expect_error([] { from_json({{"threads", 1000}}); }, "from 0 to 256");
  expect_error([] { from_json({{"seed", json(std::numeric_limits<double>::max())}}); }, "'seed'");
  const RunOptionInfo* seed = find_run_option("seed");
  RunOptions o;
  expect_error<OptionError>([&] { seed->from_text(o, "-1"); }, "--seed");
  expect_error<OptionError>([&] { seed->from_text(o, "18446744073709551616"); }, "--seed");
  seed->from_text(o, "18446744073709551615");
  EXPECT_EQ(o.seed, std::numeric_limits<std::uint64_t>::max());
  const RunOptionInfo* batch = find_run_option("batch");
  expect_error<OptionError>([&] { batch->from_text(o, "0"); }, "--batch");
  expect_error<OptionError>([&] { batch->from_text(o, "1e3"); }, "--batch");
}

TEST(RunOptions, NumbersAcceptedForLambda) {
  EXPECT_EQ(from_json({{"lambda", 2}}).lambda, std::vector<double>{2});
  expect_error([] { from_json({{"lambda", -1}}); }, "'lambda'");
  EXPECT_EQ(from_json({{"lambda", " +1, 0.5 "}}).lambda, (std::vector<double>{1, 0.5}));
  expect_error([] { from_json({{"lambda", "1,,2"}}); }, "'lambda'");
  expect_error([] { from_json({{"lambda", "1e400"}}); }, "'lambda'");
}

// Found writing fuzz/fuzz_config.cpp (its round-trip check fails on it): the initialiser's standard deviation was
// written with 6 significant digits, so config.json described another run.
TEST(RunOptions, WrittenConfigKeepsTheInitialiserExactly) {
  const RunOptions o = from_json({{"init", "normal:0.0123456789"}});
  EXPECT_EQ(run_options_json(o).at("init"), "normal:0.0123456789");
  const RunOptions again = from_json(json::parse(run_options_json(o).dump()));
  EXPECT_EQ(again.init.std, 0.0123456789);
  EXPECT_EQ(from_json({{"init", "normal:1e-300"}}).init.to_string(), "normal:1e-300");
}

// Found writing fuzz/fuzz_config.cpp (corpus/config/regress-lambda-subnormal.json): "lambda": 1e-320 (a subnormal number) was
// accepted, written into config.json as the text "1e-320", and that text was
// refused when read back (std::stod: out of range), so `--resume` failed.
TEST(RunOptions, WrittenConfigReadsBackForSubnormalLambda) {
  RunOptions o = from_json({{"algo", "sibp"}, {"lambda", 1e-320}});
  const json stored = run_options_json(o);
  RunOptions again = from_json(json::parse(stored.dump()));
  EXPECT_EQ(again.lambda, o.lambda);
  EXPECT_EQ(run_options_json(again), stored);
}

TEST(RunOptions, OptionsThatDoNotApplyAreErrorsWhenGiven) {
  RunOptions o;  // sgd
  expect_error<OptionError>([&] { check_applicable(o, {"lr", "eta"}); }, "--eta: applies to --algo sibp, not sgd");
  o.algo = Algo::Adam;
  expect_error<OptionError>([&] { check_applicable(o, {"momentum"}); }, "--momentum");
  EXPECT_NO_THROW(check_applicable(o, {"beta1", "lr", "epochs", "data"}));
  o.algo = Algo::ProxProp;
  EXPECT_NO_THROW(check_applicable(o, {"tau", "lr", "momentum", "nesterov"}));
}

TEST(RunSpec, DefaultsThatDependOnTheAlgorithm) {
  RunOptions o;
  EXPECT_DOUBLE_EQ(RunSpec(o).algorithm().get<SgdOptions>().lr, 0.1);
  o.algo = Algo::Adam;
  EXPECT_DOUBLE_EQ(RunSpec(o).algorithm().get<AdamOptions>().lr, 1e-3);
  o.algo = Algo::Nesterov;
  const auto nesterov = RunSpec(o).algorithm().get<SgdOptions>();
  EXPECT_TRUE(nesterov.nesterov);
  EXPECT_DOUBLE_EQ(nesterov.momentum, 0.9);
  o.algo = Algo::ProxProp;
  EXPECT_DOUBLE_EQ(RunSpec(o).algorithm().get<ProxPropOptions>().outer.lr, 1.0);
  o.outer = UpdateKind::Adam;
  EXPECT_DOUBLE_EQ(RunSpec(o).algorithm().get<ProxPropOptions>().outer.lr, 1e-3);
  // The library's defaults are the command line's.
  o = RunOptions{};
  o.algo = Algo::SIBP;
  const SibpOptions s = RunSpec(o).algorithm().get<SibpOptions>();
  EXPECT_EQ(s.solver.to_string(), SibpOptions{}.solver.to_string());
  EXPECT_EQ(s.solver.to_string(), "exact:gn-cg");
  EXPECT_EQ(s.eta, SibpOptions{}.eta);
  EXPECT_EQ(s.solver_iters, SibpOptions{}.solver_iters);
  EXPECT_EQ(RunSpec(RunOptions{}).fit().batch_size, FitOptions{}.batch_size);
}

TEST(RunSpec, QuirksPickTheReferenceSolverUnlessAnotherIsNamed) {
  RunOptions o;
  o.algo = Algo::SIBP;
  o.compat_authors = true;
  const SibpOptions s = RunSpec(o).algorithm().get<SibpOptions>();
  EXPECT_EQ(s.solver.to_string(), "reference");
  EXPECT_TRUE(s.quirks.armijo_jump && s.quirks.skip_unit_step && s.quirks.first_gradient_omits_bias);
  EXPECT_EQ(run_options_json(o).at("solver"), "reference");
  o.solver = parse_solver_spec("exact:gn-exact");  // an explicit other solver is a contradiction
  expect_error<OptionError>([&] { RunSpec{o}; }, "--solver");
  o.solver.reset();
  o.quirks.enable("armijo-jump");
  expect_error<OptionError>([&] { RunSpec{o}; }, "drop --quirk");
}

TEST(RunSpec, RejectsBadValuesNamingTheOption) {
  auto expect_bad = [](auto mutate, const std::string& needle) {
    RunOptions o;
    mutate(o);
    expect_error<OptionError>([&] { RunSpec{o}; }, needle);
  };
  expect_bad([](RunOptions& o) { o.epochs = 0; }, "--epochs");
  expect_bad([](RunOptions& o) { o.batch = -3; }, "--batch");
  expect_bad([](RunOptions& o) { o.lr = 0; }, "--lr");
  expect_bad([](RunOptions& o) { o.lr = -1; }, "--lr");
  expect_bad([](RunOptions& o) { o.algo = Algo::SIBP; o.eta = 0; }, "--eta");
  expect_bad([](RunOptions& o) { o.algo = Algo::ProxProp; o.tau = -1; }, "--tau");
  expect_bad([](RunOptions& o) { o.algo = Algo::Adam; o.momentum = 0.5; }, "--momentum");
  expect_bad([](RunOptions& o) { o.algo = Algo::Momentum; o.momentum = 0; }, "--momentum");
  expect_bad([](RunOptions& o) { o.nesterov = true; }, "--nesterov");
  expect_bad([](RunOptions& o) { o.threads = 1000; }, "--threads");
  expect_bad([](RunOptions& o) { o.data = "nosuchdata"; }, "--data");
}

TEST(RunSpec, TrainEvalReachesTheLoopAndIsWrittenOnlyWhenSet) {
  const FitOptions epochs = RunSpec(from_json({{"train_eval", "epochs"}, {"eval_every", 50}})).fit();
  EXPECT_EQ(epochs.train_eval, TrainEval::EpochEnds);
  EXPECT_EQ(RunSpec(from_json({{"train_eval", "none"}})).fit().train_eval, TrainEval::None);
  const FitOptions every = RunSpec(from_json(json::object())).fit();
  EXPECT_EQ(every.train_eval, TrainEval::Every);
  // Configs written before the option existed still read (and resume) as "every".
  EXPECT_FALSE(run_options_json(from_json(json::object())).contains("train_eval"));
  EXPECT_EQ(run_options_json(from_json({{"train_eval", "epochs"}}))["train_eval"], "epochs");
  RunOptions both;
  both.skip_train_eval = true;
  both.train_eval = TrainEval::EpochEnds;
  expect_error<OptionError>([&] { RunSpec{both}; }, "--train-eval");
  RunOptions stopping;  // a stop between epoch ends would leave the final training loss empty
  stopping.train_eval = TrainEval::EpochEnds;
  stopping.stop_at_accuracy = 0.9;
  expect_error<OptionError>([&] { RunSpec{stopping}; }, "--train-eval");
  try {
    from_json({{"train_eval", "sometimes"}});
    ADD_FAILURE() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("expected one of every, epochs, none, got 'sometimes'"), std::string::npos)
        << e.what();
  }
}

TEST(RunSpec, InexactSolverOptionsReachSibpAndAreValidatedOnce) {
  // SIBP's inner-solve options (ALGORITHMS.md §3.5) come from a file or the command
  // line as any other option, reach SibpOptions, and bad values name the option.
  RunOptions o = from_json({{"algo", "sibp"}, {"solver_tol", 0.25}, {"solver_stop", "residual"},
                            {"conv_solver_iters", 2}, {"cg_space", "parameter"}, {"skip_train_eval", true},
                            {"lambda_units", "sample"}});
  const SibpOptions s = RunSpec(o).algorithm().get<SibpOptions>();
  EXPECT_EQ(s.solver_tol, 0.25);
  EXPECT_EQ(s.solver_stop, CgStop::RelativeTotal);
  EXPECT_EQ(s.conv_solver_iters, 2);
  EXPECT_EQ(s.cg_space, CgSpace::Parameter);
  EXPECT_TRUE(s.lambda_per_sample);
  EXPECT_EQ(RunSpec(o).fit().train_eval, TrainEval::None);
  EXPECT_EQ(s.solver_options(LayerKind::Conv2d).iters, 2);
  EXPECT_EQ(s.solver_options(LayerKind::Dense).tol, 0.25);
  // The defaults: every solve takes --solver-iters steps, as before the option existed.
  const SibpOptions d = RunSpec(from_json({{"algo", "sibp"}})).algorithm().get<SibpOptions>();
  EXPECT_EQ(d.solver_tol, 0.0);
  EXPECT_EQ(d.solver_stop, CgStop::RelativeDecrease);
  EXPECT_EQ(d.cg_space, CgSpace::Auto);
  EXPECT_FALSE(d.lambda_per_sample);  // the authors' convention
  for (const auto& [key, value, needle] : std::vector<std::tuple<std::string, json, std::string>>{
           {"solver_tol", 1.0, "--solver-tol"},
           {"solver_tol", -0.5, "--solver-tol"},
           {"solver_stop", "sometimes", "--solver-stop"},
           {"conv_solver_iters", -1, "--conv-solver-iters"},
           {"cg_space", "both", "--cg-space"},
           {"lambda_units", "per-batch", "--lambda-units"}}) {
    expect_error<OptionError>([&] { RunSpec{from_json({{"algo", "sibp"}, {key, value}})}; }, needle);
  }
  // An option of SIBP given to another algorithm is a mistake, as on the command line.
  RunOptions sgd;
  read_run_options(json{{"solver_tol", 0.1}}, "x.json", sgd);
  expect_error<OptionError>([&] { check_applicable(sgd, {"solver_tol"}); }, "sibp");
}

TEST(RunOptions, PrecisionIsTypedAndRecorded) {
  const RunOptionInfo* info = find_run_option("precision");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->cli, "--precision");
  EXPECT_TRUE(info->applies_to.empty());  // every algorithm
  RunOptions o;
  EXPECT_EQ(o.precision, Precision::F32);
  info->from_text(o, "bf16");
  EXPECT_EQ(o.precision, Precision::BF16);
  EXPECT_EQ(run_options_json(o).at("precision"), "bf16");  // what config.json records
  EXPECT_EQ(run_options_json(RunOptions{}).at("precision"), "f32");
  EXPECT_EQ(from_json({{"precision", "bf16"}}).precision, Precision::BF16);
  expect_error<OptionError>([&] { info->from_text(o, "bfloat16"); }, "--precision: expected f32 or bf16, got 'bfloat16'");
  expect_error([] { from_json({{"precision", "half"}}); }, "x.json: key 'precision': expected f32 or bf16, got 'half'");
}

TEST(RunSpec, Bf16NeedsFloat32MasterWeights) {
  RunOptions o;
  o.precision = Precision::BF16;
  o.dtype = DType::F64;
  expect_error<OptionError>([&] { RunSpec{o}; }, "--precision: bf16 products need --dtype f32");
  o.dtype = DType::F32;
  if (bf16_unsupported_reason().empty()) {
    EXPECT_EQ(RunSpec(o).model().precision, Precision::BF16);
  } else {
    expect_error<OptionError>([&] { RunSpec{o}; }, "--precision: bf16: ");
  }
}

TEST(RunOptions, TableCoversEveryOptionOnce) {
  std::set<std::string> keys, cli;
  const RunOptions defaults;
  for (const RunOptionInfo& info : run_option_table()) {
    EXPECT_TRUE(keys.insert(info.key).second) << info.key;
    EXPECT_TRUE(cli.insert(info.cli).second) << info.cli;
    EXPECT_FALSE(info.help.empty()) << info.key;
    EXPECT_TRUE(info.from_json && info.from_text && info.to_json) << info.key;
    // Every default written out reads back to itself.
    const json d = info.to_json(defaults);
    if (d.is_null()) continue;
    RunOptions o;
    info.from_json(o, d);
    EXPECT_EQ(info.to_json(o), d) << info.key;
  }
  for (const char* key : {"data", "layers", "arch", "algo", "lr", "eta", "lambda", "solver", "quirks", "tau", "epochs",
                          "batch", "seed", "threads", "diagnostics", "precision"})
    EXPECT_TRUE(keys.count(key)) << key;
}

}  // namespace
}  // namespace sibp
