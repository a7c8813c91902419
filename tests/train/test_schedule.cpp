// Step schedules and batch sampling (train/schedule.hpp, train/fit.hpp):
// parsing and validation, the factors against torch.optim.lr_scheduler, golden
// trajectories of scheduled optimisers, how the fit loop sets factors and draws
// batches, and bit-identical resumption. (What each algorithm scales, through
// the run options: tests/experiment/test_schedule_options.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "golden_json.hpp"
#include "test_support.hpp"
#include "train/fit.hpp"
#include "train/registry.hpp"
#include "train/schedule.hpp"

namespace sibp {
namespace {

using nlohmann::json;
using testing::spec_of;

/// Expects `fn` to throw OptionError for `key` whose message contains `needle`.
template <typename Fn>
void expect_option_error(Fn&& fn, const std::string& key, const std::string& needle) {
  try {
    fn();
    FAIL() << "expected an error of --" << key << " mentioning " << needle;
  } catch (const OptionError& e) {
    EXPECT_EQ(e.key(), key) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(StepSchedule, ParsesAndPrintsEveryForm) {
  EXPECT_EQ(parse_step_schedule("constant").kind, StepSchedule::Kind::Constant);
  EXPECT_EQ(parse_step_schedule("cosine").kind, StepSchedule::Kind::Cosine);
  const StepSchedule m = parse_step_schedule("multistep:30,60,90:0.2");
  EXPECT_EQ(m.kind, StepSchedule::Kind::MultiStep);
  EXPECT_EQ(m.milestones, (std::vector<int>{30, 60, 90}));
  EXPECT_EQ(m.gamma, 0.2);
  EXPECT_EQ(parse_step_schedule("multistep:5").gamma, 0.1) << "GAMMA defaults to MultiStepLR's 0.1";
  for (const char* text : {"constant", "cosine", "multistep:30,60,90:0.2", "multistep:1:3.0000000000000004"})
    EXPECT_EQ(to_string(parse_step_schedule(text)), text);
}

TEST(StepSchedule, BadSchedulesAreNamed) {
  const auto bad = [](const std::string& text, const std::string& needle) {
    expect_option_error([&] { parse_step_schedule(text); }, "schedule", needle);
  };
  bad("linear", "expected constant, cosine or multistep");
  bad("multistep:", "milestones");
  bad("multistep::0.1", "milestones");
  bad("multistep:1,,2:0.1", "milestones");
  bad("multistep:1.5:0.1", "milestones");
  bad("multistep:0:0.1", ">= 1");
  bad("multistep:3,2:0.1", "strictly increasing");
  bad("multistep:2,2:0.1", "strictly increasing");
  bad("multistep:2:0", "GAMMA");
  bad("multistep:2:-0.5", "GAMMA");
  bad("multistep:2:inf", "GAMMA");
  bad("multistep:2:nan", "GAMMA");
  bad("multistep:2:x", "GAMMA");
  StepSchedule s;
  s.warmup = -1;
  expect_option_error([&] { s.validate(); }, "warmup", "got -1");
  FitOptions o;
  o.schedule.kind = StepSchedule::Kind::MultiStep;  // no milestones
  expect_option_error([&] { o.validate(); }, "schedule", "at least one milestone");
}

TEST(StepSchedule, ConstantWithoutWarmupIsExactlyOne) {
  const StepSchedule s;
  for (long long i = 0; i < 50; ++i) EXPECT_EQ(step_factor(s, i, static_cast<int>(i / 7) + 1, 50), 1.0);
}

TEST(StepSchedule, MilestoneEAppliesFromEpochEPlusOne) {
  const StepSchedule s = parse_step_schedule("multistep:2,3:0.5");
  // Iterations are irrelevant: epoch 1 and 2 at 1, epoch 3 at 0.5, epoch 4 on at 0.25.
  EXPECT_EQ(step_factor(s, 0, 1, 100), 1.0);
  EXPECT_EQ(step_factor(s, 40, 2, 100), 1.0);
  EXPECT_EQ(step_factor(s, 41, 3, 100), 0.5);
  EXPECT_EQ(step_factor(s, 99, 4, 100), 0.25);
}

// ---------------------------------------------------------------------------
// Against torch.optim.lr_scheduler (scripts/golden/make_optimizer_golden.py --schedule).

json schedule_golden() {
  const json doc = testing::load_golden("schedule_steps.json");
  EXPECT_EQ(doc.at("format").get<std::string>(), "sibp-schedule-golden");
  return doc;
}

StepSchedule schedule_of(const json& c) {
  StepSchedule s = parse_step_schedule(c.at("schedule").get<std::string>());
  s.warmup = c.at("warmup").get<long long>();
  s.validate();
  return s;
}

TEST(StepScheduleGolden, FactorsTimesLrAreTorchsLrSequences) {
  // torch computes the chained schedulers recursively (each step multiplies
  // the previous lr by a ratio) and we in closed form: they differ by a few
  // ulps (≤ 6e-17 here, over up to 300 steps). A wrong index (the factor of
  // iteration i+1, a milestone one epoch early) differs by ≥ 1e-4.
  const double tol = 1e-15;
  std::set<std::string> kinds;
  const json doc = schedule_golden();
  for (const json& c : doc.at("lr_sequences")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const StepSchedule s = schedule_of(c);
    kinds.insert(c.at("schedule").get<std::string>().substr(0, 6) + (s.warmup > 0 ? "+warmup" : ""));
    const long long per_epoch = c.at("batches_per_epoch").get<long long>();
    const long long total = per_epoch * c.at("epochs").get<long long>();
    const double lr = c.at("lr").get<double>();
    const json& lrs = c.at("lrs");
    ASSERT_EQ(static_cast<long long>(lrs.size()), total);
    for (long long i = 0; i < total; ++i) {
      const int epoch = static_cast<int>(i / per_epoch) + 1;
      EXPECT_NEAR(lr * step_factor(s, i, epoch, total), lrs[static_cast<std::size_t>(i)].get<double>(), tol)
          << "iteration " << i;
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"cosine", "cosine+warmup", "multis", "multis+warmup", "consta+warmup"}));
}

void set_params(Network<double>& net, const json& params) {
  for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
    net.params(l).W = testing::matrix_from_rows(params[l].at("W"));
    net.params(l).b = testing::vector_from(params[l].at("b"));
  }
}

/// The largest relative distance (per tensor, Frobenius norm) between `net` and `params`.
double worst_relative_error(const Network<double>& net, const json& params) {
  Network<double> want(net.spec());
  set_params(want, params);
  const auto relative = [](const auto& got, const auto& expected) { return (got - expected).norm() / expected.norm(); };
  double worst = 0;
  for (std::size_t l = 0; l < net.num_param_layers(); ++l)
    worst = std::max({worst, relative(net.params(l).W, want.params(l).W), relative(net.params(l).b, want.params(l).b)});
  return worst;
}

TEST(StepScheduleGolden, ScheduledOptimizersReplayTorchTrajectories) {
  // Momentum with cosine and warm-up, Nesterov with multistep, Adam with
  // multistep and warm-up, AdamW (whose decoupled decay uses the scheduled lr)
  // with cosine: 2 epochs of 3 batches in order, each step's factor as fit()
  // sets it. Tolerance as the unscheduled golden replays (test_update_rule.cpp):
  // float64 on both sides, differing in summation order; a factor applied one
  // step late moves the parameters by ≥ 1e-3 relative.
  const double tol = 1e-12;
  const json t = schedule_golden().at("trajectories");
  const NetworkSpec spec = spec_of(t.at("widths").get<std::vector<Index>>(), Activation::ReLU, Loss::SoftmaxCrossEntropy);
  const Mat<double> X = testing::matrix_from_rows(t.at("X_samples")).transpose();
  const Mat<double> Y = testing::matrix_from_rows(t.at("Y_samples")).transpose();
  const Index m = t.at("batch").get<Index>();
  const long long per_epoch = X.cols() / m, total = per_epoch * t.at("epochs").get<long long>();
  int compared = 0;
  for (const json& c : t.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const StepSchedule s = schedule_of(c);
    const auto algo = make_algorithm<double>(algorithm_options(c.at("algo").get<std::string>(), c.at("settings")), spec);
    Network<double> net(spec);
    set_params(net, t.at("initial"));
    const json& steps = c.at("steps");
    ASSERT_EQ(static_cast<long long>(steps.size()), total);
    for (long long i = 0; i < total; ++i) {
      const json& sj = steps[static_cast<std::size_t>(i)];
      const Index k = static_cast<Index>(i % per_epoch);
      Batch<double> batch;
      batch.X = X.middleCols(k * m, m);
      batch.Y = Y.middleCols(k * m, m);
      const double factor = step_factor(s, i, static_cast<int>(i / per_epoch) + 1, total);
      EXPECT_NEAR(c.at("settings").at("lr").get<double>() * factor, sj.at("lr").get<double>(), 1e-15);
      algo->set_step_factor(factor);
      const StepReport r = algo->step(net, batch);
      EXPECT_NEAR(r.loss, sj.at("loss_before").get<double>(), 1e-13) << "step " << i;
      EXPECT_LE(worst_relative_error(net, sj.at("params")), tol) << "step " << i;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 4 * 6);
}

// ---------------------------------------------------------------------------
// The fit loop: which factor before which step, which samples in which batch.

/// Records what fit() hands an algorithm: the step factor and the samples
/// (their first feature, the sample's index) of every batch.
class Recorder final : public TrainingAlgorithm<double> {
 public:
  StepReport step(Network<double>&, const Batch<double>& batch) override {
    factors.push_back(factor_);
    batches.emplace_back();
    for (Index j = 0; j < batch.X.cols(); ++j) batches.back().push_back(static_cast<Index>(batch.X(0, j)));
    return {};
  }
  std::string name() const override { return "recorder"; }
  void set_step_factor(double factor) override { factor_ = factor; }
  std::vector<double> factors;
  std::vector<std::vector<Index>> batches;

 private:
  double factor_ = 1;
};

/// n samples whose only feature is their index.
Dataset indexed_dataset(Index n) {
  std::vector<float> values(static_cast<std::size_t>(n));
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    values[static_cast<std::size_t>(i)] = static_cast<float>(i);
    labels[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i % 2);
  }
  return Dataset::from_floats(std::move(values), std::move(labels), 1, 2, "indexed");
}

/// What fit() hands a Recorder with `o` over `n` indexed samples.
Recorder record(const FitOptions& o, Index n = 10) {
  const Dataset train = indexed_dataset(n);
  Network<double> net(spec_of({1, 2}, Activation::ReLU, Loss::SoftmaxCrossEntropy));
  Recorder r;
  fit(net, r, train, nullptr, nullptr, Normalization{}, o);
  return r;
}

TEST(FitSchedule, SetsEachStepsFactorFromItsIterationAndEpoch) {
  FitOptions o;
  o.epochs = 2;
  o.batch_size = 4;  // 10 samples: 3 batches per epoch, 6 steps
  o.schedule = parse_step_schedule("multistep:1:0.5");
  o.schedule.warmup = 4;
  EXPECT_EQ(record(o).factors, (std::vector<double>{0.25, 0.5, 0.75, 0.5, 0.5, 0.5}));
  o.schedule = parse_step_schedule("cosine");
  const std::vector<double> cosine = record(o).factors;
  ASSERT_EQ(cosine.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(cosine[i], (1 + std::cos(std::acos(-1.0) * i / 6)) / 2) << i;
  o.schedule = {};
  EXPECT_EQ(record(o).factors, std::vector<double>(6, 1.0));
}

/// How many times each sample appears in `batches`.
std::map<Index, int> counts(const std::vector<std::vector<Index>>& batches, std::size_t from, std::size_t to) {
  std::map<Index, int> c;
  for (std::size_t b = from; b < to; ++b)
    for (Index i : batches[b]) ++c[i];
  return c;
}

TEST(FitSampling, ShuffleUsesEverySampleOncePerEpoch) {
  FitOptions o;
  o.epochs = 3;
  o.batch_size = 5;
  o.seed = 3;
  const Recorder r = record(o, 20);
  ASSERT_EQ(r.batches.size(), 12u);
  for (std::size_t e = 0; e < 3; ++e) {
    const std::map<Index, int> c = counts(r.batches, 4 * e, 4 * e + 4);
    EXPECT_EQ(c.size(), 20u);
    for (const auto& [i, k] : c) EXPECT_EQ(k, 1) << "sample " << i << ", epoch " << e + 1;
  }
}

TEST(FitSampling, IndependentBatchesAreDistinctDrawsThatRepeatAcrossAnEpoch) {
  FitOptions o;
  o.epochs = 3;
  o.batch_size = 5;
  o.seed = 3;
  o.sampling = BatchSampling::Independent;
  const Recorder r = record(o, 20);
  ASSERT_EQ(r.batches.size(), 12u) << "an epoch is still n / batch steps";
  int repeated = 0;
  for (std::size_t e = 0; e < 3; ++e) {
    for (std::size_t b = 4 * e; b < 4 * e + 4; ++b) {
      ASSERT_EQ(r.batches[b].size(), 5u);
      EXPECT_EQ(std::set<Index>(r.batches[b].begin(), r.batches[b].end()).size(), 5u) << "batch " << b;
    }
    // 4 batches of 5 out of 20: all 20 distinct has probability 20!/(15! 20^5 ...) < 1e-3.
    for (const auto& [i, k] : counts(r.batches, 4 * e, 4 * e + 4)) repeated += k > 1;
  }
  EXPECT_GT(repeated, 0) << "independent batches should share samples within an epoch";
  // Deterministic for a seed, different for another.
  EXPECT_EQ(record(o, 20).batches, r.batches);
  o.seed = 4;
  EXPECT_NE(record(o, 20).batches, r.batches);
  // Larger than the set: every sample, each once.
  o.batch_size = 30;
  for (const auto& batch : record(o, 20).batches) EXPECT_EQ(std::set<Index>(batch.begin(), batch.end()).size(), 20u);
}

TEST(FitSampling, DefaultsAreTheShuffleAndTheConstantStep) {
  const FitOptions o;
  EXPECT_EQ(o.sampling, BatchSampling::Shuffle);
  EXPECT_TRUE(o.schedule.trivial());
  EXPECT_EQ(parse_batch_sampling("independent"), BatchSampling::Independent);
  EXPECT_EQ(to_string(parse_batch_sampling("shuffle")), "shuffle");
  expect_option_error([] { parse_batch_sampling("bootstrap"); }, "sampling", "shuffle or independent");
}

// ---------------------------------------------------------------------------
// Resumption: a scheduled run with independent batches stopped mid-epoch.

struct Stopped {
  Network<double> net;
  FitState state;
  AlgorithmState<double> algo;
};

TEST(FitSchedule, CosineWarmupIndependentRunResumesBitIdenticalMidEpoch) {
  Rng data_rng(5);
  std::vector<float> values(26 * 3);
  std::vector<std::uint8_t> labels(26);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    for (int k = 0; k < 3; ++k) values[i * 3 + k] = static_cast<float>(data_rng.normal());
    labels[i] = values[i * 3] > 0;
  }
  const Dataset train = Dataset::from_floats(values, labels, 3, 2, "train");
  const NetworkSpec spec = spec_of({3, 5, 2}, Activation::Tanh, Loss::SoftmaxCrossEntropy);
  const AlgorithmOptions momentum = algorithm_options("momentum", {{"lr", 0.3}});
  FitOptions o;
  o.epochs = 3;
  o.batch_size = 4;  // 7 batches per epoch
  o.eval_every = 5;  // evaluation points inside epochs
  o.seed = 9;
  o.schedule = parse_step_schedule("cosine");
  o.schedule.warmup = 4;
  for (const BatchSampling sampling : {BatchSampling::Independent, BatchSampling::Shuffle}) {
    SCOPED_TRACE(to_string(sampling));
    o.sampling = sampling;
    Rng init(2);
    const Network<double> start(spec, Initializer::parse("normal:0.5"), init);
    Network<double> straight = start;
    fit(straight, *make_algorithm<double>(momentum, spec), train, nullptr, nullptr, Normalization{}, o);

    // Stop at the fourth evaluation point (0, 5, 7 = the end of epoch 1, then 10: epoch 2, batch 3 of 7).
    Network<double> net = start;
    const auto algo = make_algorithm<double>(momentum, spec);
    std::optional<Stopped> stop;
    int points = 0;
    FitCallbacks<double> cb;
    cb.on_eval = [&](const MetricsRow&, const Network<double>& n, const FitState& s) {
      if (++points < 4) return true;
      stop = Stopped{n, s, algo->state()};
      return false;
    };
    fit(net, *algo, train, nullptr, nullptr, Normalization{}, o, cb);
    ASSERT_TRUE(stop);
    EXPECT_EQ(stop->state.iteration, 10);
    EXPECT_EQ(stop->state.epoch, 2);
    EXPECT_EQ(stop->state.batch, 3);

    const auto resumed_algo = make_algorithm<double>(momentum, spec);
    resumed_algo->restore(stop->algo, stop->net);
    Network<double> resumed = stop->net;
    fit(resumed, *resumed_algo, train, nullptr, nullptr, Normalization{}, o, {}, &stop->state);
    for (std::size_t l = 0; l < straight.num_param_layers(); ++l) {
      EXPECT_EQ(resumed.params(l).W, straight.params(l).W) << "layer " << l;
      EXPECT_EQ(resumed.params(l).b, straight.params(l).b) << "layer " << l;
    }
  }
}

}  // namespace
}  // namespace sibp
