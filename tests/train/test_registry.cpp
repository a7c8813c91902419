// The algorithm registry (train/registry.hpp): every --algo name belongs to one
// unit, algorithms are built and named by it, and a rule's checkpoint state
// continues a run exactly (AdamW, RMSprop: the policies added through it).
#include <gtest/gtest.h>

#include <set>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "nn/init.hpp"
#include "train/adamw.hpp"
#include "train/registry.hpp"
#include "train/rmsprop.hpp"

namespace sibp {
namespace {

TEST(Registry, EveryNameBelongsToOneUnitWithAPythonClass) {
  std::set<std::string> names, classes;
  for (const AlgorithmName* n : algorithm_names()) {
    EXPECT_TRUE(names.insert(n->name).second) << n->name;
    EXPECT_TRUE(classes.insert(n->python_class).second) << n->python_class;
    EXPECT_FALSE(n->summary.empty()) << n->name;
    const AlgorithmInfo* unit = find_algorithm(n->name);
    ASSERT_NE(unit, nullptr);
    EXPECT_TRUE(unit->build) << n->name;
  }
  for (const char* name : {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "sibp", "proxprop"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(find_algorithm("adamx"), nullptr);
}

TEST(Registry, UnknownNameListsTheRegisteredOnes) {
  try {
    algorithm_options("adamx", nlohmann::json::object());
    FAIL() << "no error";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "algo");
    EXPECT_NE(e.detail().find(algorithm_names_text()), std::string::npos) << e.what();
  }
}

nlohmann::json adamw_settings() {
  return {{"lr", 0.01}, {"beta1", 0.9}, {"beta2", 0.999}, {"eps", 1e-8}};
}

TEST(Registry, BuildsNamedValidatedOptions) {
  const AlgorithmOptions adamw = algorithm_options("adamw", adamw_settings());
  EXPECT_EQ(adamw.name(), "adamw");
  ASSERT_NE(adamw.get_if<AdamWOptions>(), nullptr);
  EXPECT_EQ(adamw.get<AdamWOptions>().weight_decay, 1e-2);  // resolved: torch.optim.AdamW's default
  EXPECT_EQ(make_algorithm<float>(adamw, NetworkSpec::mlp({3, 2}))->name(), "adamw");
  EXPECT_EQ(adamw.get_if<RMSpropOptions>(), nullptr);

  nlohmann::json bad = adamw_settings();
  bad["beta2"] = 1.0;
  try {
    algorithm_options("adamw", bad);
    FAIL() << "no error";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), "beta2");
  }
  // RMSprop's own options have defaults; alpha is checked where it is read.
  const nlohmann::json rms = {{"lr", 0.01}, {"eps", 1e-8}, {"alpha", 1.5}};
  EXPECT_THROW(algorithm_options("rmsprop", rms), OptionError);
  const AlgorithmOptions ok = algorithm_options("rmsprop", {{"lr", 0.01}, {"eps", 1e-8}});
  EXPECT_EQ(ok.get<RMSpropOptions>().alpha, 0.99);
  EXPECT_FALSE(ok.get<RMSpropOptions>().centered);
}

/// Runs `steps` steps of `algo` from a fixed network on fixed batches; with
/// `resume_after` > 0, continues from a fresh algorithm restored from the state.
Network<double> train(const AlgorithmOptions& options, int steps, int resume_after,
                      std::set<std::string>* tensor_names = nullptr) {
  const NetworkSpec spec = NetworkSpec::mlp({4, 3, 2});
  Rng rng(3);
  Network<double> net(spec, Initializer::parse("normal:0.5"), rng);
  auto algo = make_algorithm<double>(options, spec);
  for (int s = 0; s < steps; ++s) {
    if (s == resume_after) {
      const AlgorithmState<double> state = algo->state();
      if (tensor_names)
        for (const auto& [name, value] : state.tensors) tensor_names->insert(name);
      algo = make_algorithm<double>(options, spec);
      algo->restore(state, net);
    }
    Batch<double> b;
    b.X = Mat<double>::NullaryExpr(4, 5, [&] { return rng.normal(); });
    b.Y = Mat<double>::Zero(2, 5);
    for (Index j = 0; j < 5; ++j) b.Y(j % 2, j) = 1;
    EXPECT_TRUE(algo->step(net, b).finite);
  }
  return net;
}

TEST(Registry, CheckpointStateContinuesExactly) {
  nlohmann::json rms = {{"lr", 0.01}, {"eps", 1e-8}, {"momentum", 0.5}, {"centered", true},
                        {"weight_decay", 0.1}};
  const std::map<std::string, std::set<std::string>> expected_names = {
      {"adamw", {"W1.0", "W2.0", "b1.0", "b2.0", "W1.1", "W2.1", "b1.1", "b2.1"}},
      {"rmsprop", {"W1.0", "W2.0", "W3.0", "b1.0", "b2.0", "b3.0", "W1.1", "W2.1", "W3.1", "b1.1", "b2.1", "b3.1"}}};
  for (const auto& options : {algorithm_options("adamw", adamw_settings()), algorithm_options("rmsprop", rms)}) {
    SCOPED_TRACE(options.name());
    std::set<std::string> names;
    const Network<double> straight = train(options, 4, 0), resumed = train(options, 4, 2, &names);
    EXPECT_EQ(names, expected_names.at(options.name()));
    for (std::size_t l = 0; l < straight.num_param_layers(); ++l) {
      EXPECT_EQ(straight.params(l).W, resumed.params(l).W);
      EXPECT_EQ(straight.params(l).b, resumed.params(l).b);
    }
    // A state of another rule is refused, naming the tensor.
    AlgorithmState<double> foreign;
    foreign.tensors["W4.0"] = Mat<double>::Zero(3, 4);
    auto algo = make_algorithm<double>(options, NetworkSpec::mlp({4, 3, 2}));
    Network<double> net(NetworkSpec::mlp({4, 3, 2}));
    EXPECT_THROW(algo->restore(foreign, net), DataError);
  }
}

}  // namespace
}  // namespace sibp
