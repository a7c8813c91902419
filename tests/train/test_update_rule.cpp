// Update rules (torch.optim.SGD / Adam semantics, ALGORITHMS.md §2): steps
// hand-computed on numbers chosen so the results are exact, and a replay of
// the trajectories torch.optim produced (tests/fixtures/golden, made by
// scripts/golden/make_optimizer_golden.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "train/backprop.hpp"
#include "train/registry.hpp"
#include "train/update_rule.hpp"

namespace sibp {
namespace {

// A 1-1 network (one weight w, one bias b) plus a 1-1 second layer, so there
// are four parameter tensors in two layers.
Network<double> tiny_net(double w0, double b0, double w1, double b1) {
  Network<double> net(NetworkSpec::mlp({1, 1, 1}));
  net.params(0).W(0, 0) = w0;
  net.params(0).b(0) = b0;
  net.params(1).W(0, 0) = w1;
  net.params(1).b(0) = b1;
  return net;
}

Gradients<double> grads_of(const Network<double>& net, double g0, double gb0, double g1, double gb1) {
  Gradients<double> g;
  g.resize_like(net);
  g.dW[0](0, 0) = g0;
  g.db[0](0) = gb0;
  g.dW[1](0, 0) = g1;
  g.db[1](0) = gb1;
  return g;
}

UpdateOptions sgd(double lr, double momentum = 0, bool nesterov = false, double wd = 0) {
  UpdateOptions o;
  o.lr = lr;
  o.momentum = momentum;
  o.nesterov = nesterov;
  o.weight_decay = wd;
  return o;
}

// Powers of two everywhere below, so every product and sum is exact in
// double and the expectations are compared with ==.
TEST(UpdateRule, PlainSgdExact) {
  Network<double> net = tiny_net(1, 2, -1, 0.5);
  UpdateRule<double> rule(sgd(0.5));
  rule.step(net, grads_of(net, 0.25, -1, 2, 0));
  EXPECT_EQ(net.params(0).W(0, 0), 0.875);
  EXPECT_EQ(net.params(0).b(0), 2.5);
  EXPECT_EQ(net.params(1).W(0, 0), -2.0);
  EXPECT_EQ(net.params(1).b(0), 0.5);
  EXPECT_EQ(rule.step_count(), 1);
}

TEST(UpdateRule, MomentumExact) {
  // torch: buf₁ = g₁; buf₂ = μ buf₁ + g₂; p −= lr·buf.
  Network<double> net = tiny_net(4, 0, 0, 0);
  UpdateRule<double> rule(sgd(0.5, 0.5));
  rule.step(net, grads_of(net, 1, 0, 0, 0));
  EXPECT_EQ(net.params(0).W(0, 0), 3.5);   // 4 − 0.5·1
  rule.step(net, grads_of(net, 1, 0, 0, 0));
  EXPECT_EQ(net.params(0).W(0, 0), 2.75);  // buf = 1.5
  rule.step(net, grads_of(net, 0, 0, 0, 0));
  EXPECT_EQ(net.params(0).W(0, 0), 2.375);  // buf = 0.75: momentum keeps moving
}

TEST(UpdateRule, NesterovExact) {
  // torch: buf as for momentum, then p −= lr·(g + μ buf).
  Network<double> net = tiny_net(4, 0, 0, 0);
  UpdateRule<double> rule(sgd(0.5, 0.5, true));
  rule.step(net, grads_of(net, 1, 0, 0, 0));
  EXPECT_EQ(net.params(0).W(0, 0), 3.25);  // 4 − 0.5·(1 + 0.5·1)
  rule.step(net, grads_of(net, 1, 0, 0, 0));
  EXPECT_EQ(net.params(0).W(0, 0), 2.375);  // buf = 1.5: 3.25 − 0.5·(1 + 0.75)
}

TEST(UpdateRule, WeightDecayIsAddedToTheGradientExact) {
  // d = g + wd·p: p = 2, g = 1, wd = 0.5 → d = 2, p = 2 − 0.5·2 = 1.
  Network<double> net = tiny_net(2, 2, 0, 0);
  UpdateRule<double> rule(sgd(0.5, 0, false, 0.5));
  rule.step(net, grads_of(net, 1, 0, 0, 0));
  EXPECT_EQ(net.params(0).W(0, 0), 1.0);
  EXPECT_EQ(net.params(0).b(0), 1.5);  // zero gradient still decays
  // With momentum the decayed gradient enters the buffer: buf₁ = 2.
  Network<double> net2 = tiny_net(2, 0, 0, 0);
  UpdateRule<double> rule2(sgd(0.5, 0.5, false, 0.5));
  rule2.step(net2, grads_of(net2, 1, 0, 0, 0));
  EXPECT_EQ(net2.params(0).W(0, 0), 1.0);
  rule2.step(net2, grads_of(net2, 1, 0, 0, 0));  // d = 1.5, buf = 1 + 1.5 = 2.5
  EXPECT_EQ(net2.params(0).W(0, 0), -0.25);
}

TEST(UpdateRule, AdamFirstStepsAndSharedStepCounter) {
  // Step 1 with gradient g, step 2 with gradient 0:
  //   m̂₁ = g, v̂₁ = g² → Δ₁ = lr·g/(|g| + ε);
  //   m₂ = β1(1−β1)g, v₂ = β2(1−β2)g² → m̂₂ = β1 g/(1+β1), v̂₂ = β2 g²/(1+β2).
  // If the bias correction advanced once per tensor (tiny-dnn's bug) instead
  // of once per step(), the later tensors would be corrected with t = 3, 4, ...
  // Closed forms computed in double; 1e-15 relative covers pow/sqrt rounding.
  UpdateOptions o;
  o.kind = UpdateKind::Adam;
  o.lr = 0.01;
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const double g[4] = {0.5, -2.0, 3.0, 1e-3};
  Network<double> net = tiny_net(1, 1, 1, 1);
  UpdateRule<double> rule(o);
  rule.step(net, grads_of(net, g[0], g[1], g[2], g[3]));
  rule.step(net, grads_of(net, 0, 0, 0, 0));
  EXPECT_EQ(rule.step_count(), 2);
  const double p[4] = {net.params(0).W(0, 0), net.params(0).b(0), net.params(1).W(0, 0), net.params(1).b(0)};
  for (int i = 0; i < 4; ++i) {
    const double d1 = o.lr * g[i] / (std::abs(g[i]) + eps);
    const double mhat = b1 * g[i] / (1 + b1);
    const double vhat = b2 * g[i] * g[i] / (1 + b2);
    const double d2 = o.lr * mhat / (std::sqrt(vhat) + eps);
    EXPECT_NEAR(p[i], 1 - d1 - d2, 1e-15) << "parameter " << i;
  }
}

TEST(UpdateRule, OptionsValidationNamesTheProblem) {
  auto expect_bad = [](UpdateOptions o, const std::string& word) {
    try {
      o.validate();
      FAIL() << "expected UsageError mentioning " << word;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  UpdateOptions o;
  o.lr = 0;
  expect_bad(o, "lr");
  o = UpdateOptions{};
  o.momentum = 1;
  expect_bad(o, "momentum");
  o = UpdateOptions{};
  o.nesterov = true;
  expect_bad(o, "nesterov");
  o = UpdateOptions{};
  o.weight_decay = -1;
  expect_bad(o, "--weight-decay");
  o = UpdateOptions{};
  o.beta2 = 1;
  expect_bad(o, "beta2");
  o = UpdateOptions{};
  o.eps = 0;
  expect_bad(o, "eps");
  EXPECT_THROW(UpdateRule<double>(sgd(-1)), UsageError);
}

TEST(UpdateRule, RejectsGradientsOfAnotherShape) {
  Network<double> net = tiny_net(1, 1, 1, 1);
  Gradients<double> g;
  UpdateRule<double> rule(sgd(0.1));
  EXPECT_THROW(rule.step(net, g), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// PyTorch golden trajectories.

using nlohmann::json;

Mat<double> matrix_from_rows(const json& rows) {
  const Index r = static_cast<Index>(rows.size());
  const Index c = static_cast<Index>(rows.at(0).size());
  Mat<double> M(r, c);
  for (Index i = 0; i < r; ++i)
    for (Index j = 0; j < c; ++j) M(i, j) = rows.at(i).at(j).get<double>();
  return M;
}

Vec<double> vector_from(const json& v) {
  Vec<double> out(static_cast<Index>(v.size()));
  for (Index i = 0; i < out.size(); ++i) out(i) = v.at(i).get<double>();
  return out;
}

/// The network of a golden entry: an MLP ("widths", "hidden_activation") or a
/// CNN ("arch" in the --arch syntax, "input" CxHxW).
NetworkSpec spec_of(const json& nj) {
  const Loss loss = parse_loss(nj.at("loss").get<std::string>());
  if (nj.contains("arch"))
    return NetworkSpec::build(Architecture::parse(nj.at("arch").get<std::string>()),
                              Shape::parse(nj.at("input").get<std::string>()), loss);
  return NetworkSpec::mlp(nj.at("widths").get<std::vector<Index>>(),
                          parse_activation(nj.at("hidden_activation").get<std::string>()), loss);
}

void set_params(Network<double>& net, const json& params) {
  ASSERT_EQ(params.size(), net.num_param_layers());
  for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
    // A conv kernel's rows are (out, in·kh·kw): PyTorch's [out, in, kh, kw] row-major, our W.
    const Mat<double> W = matrix_from_rows(params[l].at("W"));
    ASSERT_EQ(W.rows(), net.params(l).W.rows());
    ASSERT_EQ(W.cols(), net.params(l).W.cols());
    net.params(l).W = W;
    net.params(l).b = vector_from(params[l].at("b"));
  }
}

json load_golden() {
  const std::string path = std::string(SIBP_FIXTURES_DIR) + "/golden/optimizer_steps.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return json::parse(in);
}

TEST(UpdateRuleGolden, ReplaysTorchOptimTrajectories) {
  const json doc = load_golden();
  ASSERT_EQ(doc.at("format").get<std::string>(), "sibp-optimizer-golden");
  ASSERT_EQ(doc.at("format_version").get<int>(), 2);
  // Tolerance 1e-12 relative (per tensor, Frobenius norm): both sides are
  // float64; they differ only in summation order inside GEMMs and in
  // exp/log/tanh implementations, ~1e-16 per operation, grown by a few
  // hundred operations and 3 steps (Adam's m/√v magnifies differences in
  // near-zero gradients the most) to well below 1e-13. A wrong rule (e.g.
  // missing dampening convention, decoupled decay, bias correction off by a
  // step) changes parameters by ≥ 1e-4 relative.
  // The CNNs (conv with stride and padding, max and average pooling) add
  // convolution sums of ≤ 18 terms per output: the same rounding regime.
  const double tol = 1e-12;
  int compared = 0, cnns = 0;
  for (const json& nj : doc.at("networks")) {
    const NetworkSpec spec = spec_of(nj);
    cnns += nj.contains("arch");
    Batch<double> batch;
    batch.X = matrix_from_rows(nj.at("X_samples")).transpose();  // samples are columns
    batch.Y = matrix_from_rows(nj.at("Y_samples")).transpose();
    for (const json& cj : nj.at("cases")) {
      const std::string name = nj.at("name").get<std::string>() + "/" + cj.at("name").get<std::string>();
      SCOPED_TRACE(name);
      const json& oj = cj.at("options");
      UpdateOptions o;
      o.kind = oj.at("kind").get<std::string>() == "adam" ? UpdateKind::Adam : UpdateKind::SGD;
      o.lr = oj.at("lr").get<double>();
      o.momentum = oj.at("momentum").get<double>();
      o.nesterov = oj.at("nesterov").get<bool>();
      o.weight_decay = oj.at("weight_decay").get<double>();
      Network<double> net(spec);
      set_params(net, nj.at("initial"));
      Network<double> expected(spec);
      BackProp<double> algo(o);
      int step = 0;
      for (const json& sj : cj.at("steps")) {
        ++step;
        const StepReport r = algo.step(net, batch);
        EXPECT_NEAR(r.loss, sj.at("loss_before").get<double>(), 1e-13) << "step " << step;
        set_params(expected, sj.at("params"));
        for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
          const auto& W = expected.params(l).W;
          const auto& b = expected.params(l).b;
          EXPECT_LE((net.params(l).W - W).norm() / W.norm(), tol) << "step " << step << " W" << l + 1;
          EXPECT_LE((net.params(l).b - b).norm() / b.norm(), tol) << "step " << step << " b" << l + 1;
        }
        ++compared;
      }
    }
  }
  EXPECT_EQ(cnns, 2);
  EXPECT_EQ(compared, 4 * 7 * 3);
}

TEST(UpdateRuleGolden, GoldenStepsActuallyMoveTheParameters) {
  // Guards the golden file itself: every step of every case changes every
  // layer's weights by far more than the replay tolerance.
  const json doc = load_golden();
  for (const json& nj : doc.at("networks")) {
    const NetworkSpec spec = spec_of(nj);
    Network<double> prev(spec), cur(spec);
    for (const json& cj : nj.at("cases")) {
      set_params(prev, nj.at("initial"));
      for (const json& sj : cj.at("steps")) {
        set_params(cur, sj.at("params"));
        for (std::size_t l = 0; l < cur.num_param_layers(); ++l)
          EXPECT_GT((cur.params(l).W - prev.params(l).W).norm() / cur.params(l).W.norm(), 1e-6)
              << cj.at("name") << " layer " << l;
        prev = cur;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Golden trajectories of registered algorithms (AdamW, RMSprop, ...), built by
// --algo name from run option settings through the registry, as a run builds
// them (scripts/golden/make_optimizer_golden.py --registry).

/// max over layers of the relative distance of `net`'s W and b to `params`.
double worst_relative_error(const Network<double>& net, const NetworkSpec& spec, const json& params) {
  Network<double> expected(spec);
  set_params(expected, params);
  double worst = 0;
  for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
    worst = std::max(worst, (net.params(l).W - expected.params(l).W).norm() / expected.params(l).W.norm());
    worst = std::max(worst, (net.params(l).b - expected.params(l).b).norm() / expected.params(l).b.norm());
  }
  return worst;
}

TEST(RegistryGolden, ReplaysTorchOptimTrajectoriesByAlgoName) {
  std::ifstream in(std::string(SIBP_FIXTURES_DIR) + "/golden/registry_steps.json");
  ASSERT_TRUE(in) << "registry_steps.json";
  const json doc = json::parse(in);
  ASSERT_EQ(doc.at("format").get<std::string>(), "sibp-registry-golden");
  // The tolerance of the SGD/Adam replay above, for the same reasons: float64
  // on both sides; a wrong rule (coupled instead of decoupled decay, a missing
  // centring term, momentum applied before the division) moves parameters by
  // ≥ 1e-4 relative.
  const double tol = 1e-12;
  std::set<std::string> algos;
  int compared = 0, cnns = 0;
  for (const json& nj : doc.at("networks")) {
    const NetworkSpec spec = spec_of(nj);
    cnns += nj.contains("arch");
    Batch<double> batch;
    batch.X = matrix_from_rows(nj.at("X_samples")).transpose();
    batch.Y = matrix_from_rows(nj.at("Y_samples")).transpose();
    for (const json& cj : nj.at("cases")) {
      const std::string algo = cj.at("algo").get<std::string>();
      SCOPED_TRACE(nj.at("name").get<std::string>() + "/" + cj.at("name").get<std::string>());
      algos.insert(algo);
      const auto algorithm = make_algorithm<double>(algorithm_options(algo, cj.at("settings")), spec);
      EXPECT_EQ(algorithm->name(), algo);
      Network<double> net(spec);
      set_params(net, nj.at("initial"));
      int step = 0;
      for (const json& sj : cj.at("steps")) {
        ++step;
        const StepReport r = algorithm->step(net, batch);
        EXPECT_NEAR(r.loss, sj.at("loss_before").get<double>(), 1e-13) << "step " << step;
        EXPECT_LE(worst_relative_error(net, spec, sj.at("params")), tol) << "step " << step;
        // The golden steps move every layer far more than the tolerance.
        if (step == 1) {
          EXPECT_GT(worst_relative_error(net, spec, nj.at("initial")), 1e-6);
        }
        ++compared;
      }
    }
  }
  EXPECT_EQ(cnns, 2);
  EXPECT_EQ(compared, 4 * 6 * 3);
  EXPECT_EQ(algos, (std::set<std::string>{"adamw", "rmsprop"}));
}

}  // namespace
}  // namespace sibp
