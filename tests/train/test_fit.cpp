// The fit loop (DESIGN.md "train"): evaluation schedule, divergence and
// callback stops, reproducible shuffling, convergence on XOR, and a
// high-level vs low-level check in the spirit of ggml's test_epoch_vs_fit.
#include <gtest/gtest.h>

#include "test_support.hpp"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "train/backprop.hpp"
#include "train/update_rule.hpp"
#include "train/fit.hpp"

namespace sibp {
namespace {

using testing::spec_of;

// n samples of d Gaussian features; label = sign of the first feature, so
// the set is learnable but not trivially so for a random network.
Dataset random_dataset(Index n, Index d, std::uint64_t seed, const std::string& name = "train") {
  Rng rng(seed);
  std::vector<float> values(static_cast<std::size_t>(n * d));
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    for (Index k = 0; k < d; ++k) values[static_cast<std::size_t>(i * d + k)] = static_cast<float>(rng.normal());
    labels[static_cast<std::size_t>(i)] = values[static_cast<std::size_t>(i * d)] > 0 ? 1 : 0;
  }
  return Dataset::from_floats(std::move(values), std::move(labels), d, 2, name);
}

Network<double> make_net(const NetworkSpec& spec, std::uint64_t seed, const char* init = "normal:0.5") {
  Rng rng(seed);
  return Network<double>(spec, Initializer::parse(init), rng);
}

bool same_parameters(const Network<double>& a, const Network<double>& b) {
  for (std::size_t l = 0; l < a.num_param_layers(); ++l)
    if (a.params(l).W != b.params(l).W || a.params(l).b != b.params(l).b) return false;
  return true;
}

double max_relative_difference(const Network<double>& a, const Network<double>& b) {
  double worst = 0;
  for (std::size_t l = 0; l < a.num_param_layers(); ++l) {
    worst = std::max(worst, (a.params(l).W - b.params(l).W).norm() / b.params(l).W.norm());
    worst = std::max(worst, (a.params(l).b - b.params(l).b).norm() / b.params(l).b.norm());
  }
  return worst;
}

TEST(Fit, EvaluatesAtStartEveryEvalEveryAndEpochEnds) {
  // n = 10, batch 3 → 4 batches per epoch (the last has 1 sample); 2 epochs,
  // eval_every 3 → evaluation at iterations 0, 3, 4 (epoch end), 6, 8 (end).
  const Dataset train = random_dataset(10, 3, 1);
  const Dataset val = random_dataset(6, 3, 2, "val");
  const Dataset test = random_dataset(4, 3, 3, "test");
  Network<double> net = make_net(spec_of({3, 4, 2}, Activation::Tanh, Loss::SoftmaxCrossEntropy), 1);
  BackProp<double> algo(UpdateOptions{});
  FitOptions o;
  o.epochs = 2;
  o.batch_size = 3;
  o.eval_every = 3;
  o.gradient_norm = true;
  std::vector<StepInfo> steps;
  int evals_seen = 0;
  FitCallbacks<double> cb;
  cb.on_step = [&](const StepInfo& info, const StepReport&) { steps.push_back(info); };
  cb.on_eval = [&](const MetricsRow& row, const Network<double>& n, const FitState&) {
    ++evals_seen;
    // The row's train loss is the loss of the network handed to the callback.
    EXPECT_NEAR(*row.train_loss, evaluate(n, train, Normalization{}).loss, 1e-15);
    return true;
  };
  const FitResult r = fit(net, algo, train, &val, &test, Normalization{}, o, cb);
  EXPECT_FALSE(r.diverged);
  EXPECT_FALSE(r.stopped_by_callback);
  ASSERT_EQ(r.rows.size(), 5u);
  EXPECT_EQ(evals_seen, 5);
  const long long its[] = {0, 3, 4, 6, 8};
  const double epochs[] = {0, 0.75, 1, 1.5, 2};
  for (std::size_t i = 0; i < 5; ++i) {
    const MetricsRow& row = r.rows[i];
    EXPECT_EQ(row.iteration, its[i]);
    EXPECT_EQ(row.epoch, epochs[i]);
    ASSERT_TRUE(row.train_loss && row.train_acc && row.val_loss && row.val_acc && row.test_loss && row.test_acc);
    EXPECT_GE(*row.val_acc, 0.0);
    EXPECT_LE(*row.val_acc, 1.0);
    ASSERT_EQ(row.extra.size(), 1u);
    EXPECT_EQ(row.extra[0].first, "grad_norm");
    EXPECT_GT(row.extra[0].second, 0.0);
    if (i > 0) {
      EXPECT_GE(row.seconds, r.rows[i - 1].seconds);
    }
  }
  EXPECT_EQ(r.rows[0].seconds, 0.0);
  // Training moved the network: the loss at the end differs from the start.
  EXPECT_NE(*r.rows[4].train_loss, *r.rows[0].train_loss);

  ASSERT_EQ(steps.size(), 8u);
  const Index samples[] = {3, 6, 9, 10, 13, 16, 19, 20};
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(steps[i].iteration, static_cast<long long>(i + 1));
    EXPECT_EQ(steps[i].epoch, i < 4 ? 1 : 2);
    EXPECT_EQ(steps[i].total_iterations, 8);
    EXPECT_EQ(steps[i].samples, samples[i]);
  }
}

TEST(Fit, ColumnsStayEmptyWhenNotRequested) {
  const Dataset train = random_dataset(8, 3, 1);
  Network<double> net = make_net(spec_of({3, 2}, Activation::ReLU, Loss::SoftmaxCrossEntropy), 2);
  BackProp<double> algo(UpdateOptions{});
  FitOptions o;
  o.epochs = 1;
  o.batch_size = 4;
  o.train_eval = TrainEval::None;
  const FitResult r = fit(net, algo, train, nullptr, nullptr, Normalization{}, o);
  ASSERT_EQ(r.rows.size(), 2u);  // iteration 0 and the epoch end
  for (const auto& row : r.rows) {
    EXPECT_FALSE(row.train_loss || row.train_acc || row.val_loss || row.test_loss);
    EXPECT_TRUE(row.extra.empty());
  }
}

TEST(Fit, TrainingSetOnlyAtEpochEndsLeavesTheOtherPointsHeldOutAlone) {
  const Dataset train = random_dataset(8, 3, 1);
  const Dataset test = random_dataset(6, 3, 2);
  Network<double> net = make_net(spec_of({3, 2}, Activation::ReLU, Loss::SoftmaxCrossEntropy), 2);
  BackProp<double> algo(UpdateOptions{});
  FitOptions o;
  o.epochs = 2;
  o.batch_size = 2;  // 4 steps an epoch
  o.eval_every = 1;
  o.train_eval = TrainEval::EpochEnds;
  const FitResult r = fit(net, algo, train, nullptr, &test, Normalization{}, o);
  ASSERT_EQ(r.rows.size(), 9u);  // iteration 0 and every step
  for (const auto& row : r.rows) {
    const bool epoch_point = row.iteration % 4 == 0;
    EXPECT_EQ(row.train_loss.has_value(), epoch_point) << "iteration " << row.iteration;
    EXPECT_EQ(row.train_acc.has_value(), epoch_point) << "iteration " << row.iteration;
    EXPECT_TRUE(row.test_acc.has_value()) << "iteration " << row.iteration;
  }
}

TEST(Fit, DivergenceStopsWithEpochAndIteration) {
  // Squared error with lr 1e6 blows up within a few full-batch steps. The
  // low-level loop below finds the first non-finite step; fit must report
  // the same one (one batch per epoch, so epoch == iteration).
  const Dataset train = random_dataset(8, 3, 4);
  const NetworkSpec spec = spec_of({3, 4, 2}, Activation::Tanh, Loss::SquaredError);
  UpdateOptions big;
  big.lr = 1e6;

  Network<double> manual = make_net(spec, 3);
  BackProp<double> manual_algo(big);
  Batch<double> full;
  train.make_range_batch<double>(0, 8, Normalization{}, full);
  int first_bad = 0;
  for (int k = 1; k <= 50 && first_bad == 0; ++k) {
    const StepReport rep = manual_algo.step(manual, full);
    if (!rep.finite || !std::isfinite(rep.loss)) first_bad = k;
  }
  ASSERT_GT(first_bad, 1) << "the set-up should take at least one finite step";

  Network<double> net = make_net(spec, 3);
  BackProp<double> algo(big);
  FitOptions o;
  o.epochs = 50;
  o.batch_size = 8;
  int evals = 0;
  FitCallbacks<double> cb;
  cb.on_eval = [&](const MetricsRow&, const Network<double>&, const FitState&) {
    ++evals;
    return true;
  };
  const FitResult r = fit(net, algo, train, nullptr, nullptr, Normalization{}, o, cb);
  EXPECT_TRUE(r.diverged);
  EXPECT_FALSE(r.stopped_by_callback);
  EXPECT_EQ(r.diverged_iteration, first_bad);
  EXPECT_EQ(r.diverged_epoch, first_bad);
  EXPECT_NE(r.message.find("epoch " + std::to_string(first_bad)), std::string::npos) << r.message;
  // One evaluation per finished epoch plus the initial one; none after the bad step.
  EXPECT_EQ(static_cast<int>(r.rows.size()), first_bad);
  EXPECT_EQ(evals, first_bad);
  EXPECT_EQ(r.rows.back().iteration, first_bad - 1);
}

TEST(Fit, OnEvalReturningFalseStops) {
  const Dataset train = random_dataset(12, 3, 5);
  Network<double> net = make_net(spec_of({3, 3, 2}, Activation::Sigmoid, Loss::SoftmaxCrossEntropy), 4);
  BackProp<double> algo(UpdateOptions{});
  FitOptions o;
  o.epochs = 10;
  o.batch_size = 2;
  o.eval_every = 2;
  int calls = 0;
  long long steps = 0;
  FitCallbacks<double> cb;
  cb.on_eval = [&](const MetricsRow&, const Network<double>&, const FitState&) { return ++calls < 2; };
  cb.on_step = [&](const StepInfo&, const StepReport&) { ++steps; };
  const FitResult r = fit(net, algo, train, nullptr, nullptr, Normalization{}, o, cb);
  EXPECT_TRUE(r.stopped_by_callback);
  EXPECT_FALSE(r.diverged);
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[1].iteration, 2);
  EXPECT_EQ(steps, 2);

  // Stopping at iteration 0 takes no step at all.
  Network<double> untouched = make_net(net.spec(), 4);
  const Network<double> initial = untouched;
  FitCallbacks<double> stop_now;
  stop_now.on_eval = [](const MetricsRow&, const Network<double>&, const FitState&) { return false; };
  const FitResult r0 = fit(untouched, algo, train, nullptr, nullptr, Normalization{}, o, stop_now);
  EXPECT_TRUE(r0.stopped_by_callback);
  EXPECT_EQ(r0.rows.size(), 1u);
  EXPECT_TRUE(same_parameters(untouched, initial));
}

TEST(Fit, SeededShufflingIsReproducible) {
  const Dataset train = random_dataset(20, 3, 6);
  const NetworkSpec spec = spec_of({3, 5, 2}, Activation::Tanh, Loss::SoftmaxCrossEntropy);
  auto train_with = [&](std::uint64_t seed) {
    Network<double> net = make_net(spec, 11);  // same initial parameters every time
    BackProp<double> algo(UpdateOptions{});
    FitOptions o;
    o.epochs = 2;
    o.batch_size = 5;
    o.seed = seed;
    fit(net, algo, train, nullptr, nullptr, Normalization{}, o);
    return net;
  };
  const Network<double> a = train_with(7), b = train_with(7), c = train_with(8);
  EXPECT_TRUE(same_parameters(a, b));
  EXPECT_FALSE(same_parameters(a, c));
  // Different orders of the same data lead to nearby but distinct points.
  EXPECT_GT(max_relative_difference(a, c), 1e-6);
}

TEST(Fit, XorConvergesToFullAccuracy) {
  // XOR, 2-8-2 tanh, plain SGD on the full batch of 4.
  std::vector<float> values = {0, 0, 0, 1, 1, 0, 1, 1};
  std::vector<std::uint8_t> labels = {0, 1, 1, 0};
  const Dataset xor_set = Dataset::from_floats(values, labels, 2, 2, "xor");
  for (std::uint64_t seed : {1, 2, 3}) {
    Network<double> net = make_net(spec_of({2, 8, 2}, Activation::Tanh, Loss::SoftmaxCrossEntropy), seed, "normal:1");
    UpdateOptions sgd;
    sgd.lr = 0.5;
    BackProp<double> algo(sgd);
    FitOptions o;
    o.epochs = 2000;
    o.batch_size = 4;
    o.seed = seed;
    const FitResult r = fit(net, algo, xor_set, nullptr, nullptr, Normalization{}, o);
    ASSERT_FALSE(r.diverged);
    EXPECT_GT(*r.rows.front().train_loss, 10 * *r.rows.back().train_loss);  // it learned
    EXPECT_EQ(*r.rows.back().train_acc, 1.0) << "seed " << seed;
    EXPECT_LT(*r.rows.back().train_loss, 0.05) << "seed " << seed;
  }
}

TEST(Fit, OneFullBatchEpochEqualsOneManualStep) {
  // High-level vs low-level (ggml's test_epoch_vs_fit): one epoch with one
  // batch holding every sample is one BackProp step on that batch. The fit
  // loop shuffles the columns, which only changes the summation order of
  // the gradient: 1e-13 relative covers that rounding (≈ 1e-16 per term).
  for (auto kind : {UpdateKind::SGD, UpdateKind::Adam}) {
    const Dataset train = random_dataset(16, 4, 9);
    const NetworkSpec spec = spec_of({4, 6, 2}, Activation::ReLU, Loss::SoftmaxCrossEntropy);
    UpdateOptions opt;
    opt.kind = kind;
    opt.lr = kind == UpdateKind::Adam ? 0.01 : 0.3;

    Network<double> high = make_net(spec, 21);
    BackProp<double> high_algo(opt);
    FitOptions o;
    o.epochs = 1;
    o.batch_size = 16;
    fit(high, high_algo, train, nullptr, nullptr, Normalization{}, o);

    Network<double> low = make_net(spec, 21);
    const Network<double> start = low;
    BackProp<double> low_algo(opt);
    Batch<double> batch;
    train.make_range_batch<double>(0, 16, Normalization{}, batch);
    low_algo.step(low, batch);

    EXPECT_LE(max_relative_difference(high, low), 1e-13);
    EXPECT_GT(max_relative_difference(start, low), 1e-4);  // the step did move
  }
}

/// evaluate() and full_gradient_norm() over `data` (13 samples) in chunks of 4
/// (4+4+4+1 samples, each chunk's mean weighted by its share) and of 100 agree
/// with one direct computation over all samples; 1e-14 relative allows the
/// different summation order.
void expect_chunked_evaluation_is_direct(const Network<double>& net, const Dataset& data) {
  Batch<double> all;
  data.make_range_batch<double>(0, 13, Normalization{}, all);
  Tape<double> tape;
  Gradients<double> g;
  BackpropWork<double> work;
  net.forward(all.X, tape);
  const double loss = backprop_gradients<double>(net, tape, all.Y, g, work);
  const double acc = static_cast<double>(count_correct<double>(tape.output(), all.Y)) / 13.0;
  const EvalResult e = evaluate(net, data, Normalization{}, 4);
  EXPECT_NEAR(e.loss, loss, 1e-14 * loss);
  EXPECT_EQ(e.accuracy, acc);
  EXPECT_NEAR(full_gradient_norm(net, data, Normalization{}, 4), g.norm(), 1e-14 * g.norm());
  EXPECT_NEAR(full_gradient_norm(net, data, Normalization{}, 100), g.norm(), 1e-14 * g.norm());
}

TEST(Fit, EvaluateAndFullGradientNormAgreeWithDirectComputation) {
  const Dataset data = random_dataset(13, 3, 10);
  Network<double> net = make_net(spec_of({3, 4, 2}, Activation::Tanh, Loss::SoftmaxCrossEntropy), 5);
  expect_chunked_evaluation_is_direct(net, data);
}

TEST(Fit, EvaluatesAndTrainsACnnOnImageData) {
  // A data set of 1x4x4 images and a CNN built for its sample shape: evaluate()
  // and full_gradient_norm() in chunks agree with one direct computation over
  // all samples (1e-14 relative: summation order), and fit() with SGD lowers
  // the training loss.
  Dataset data = random_dataset(13, 16, 11);
  data.set_sample_shape({1, 4, 4});
  const NetworkSpec spec = NetworkSpec::build(Architecture::parse("conv(2,3,pad=1) tanh maxpool(2) dense(2)"),
                                              data.sample_shape(), Loss::SoftmaxCrossEntropy, data.num_classes());
  Network<double> net = make_net(spec, 6);
  expect_chunked_evaluation_is_direct(net, data);

  UpdateOptions sgd;
  sgd.lr = 0.5;
  BackProp<double> algo(sgd);
  FitOptions o;
  o.epochs = 20;
  o.batch_size = 5;
  const FitResult r = fit(net, algo, data, nullptr, nullptr, Normalization{}, o);
  ASSERT_FALSE(r.diverged) << r.message;
  ASSERT_GE(r.rows.size(), 2u);
  EXPECT_LT(*r.rows.back().train_loss, 0.8 * *r.rows.front().train_loss);
}

TEST(Fit, EvaluationChunkShrinksOnlyForLargeTapes) {
  // An MLP's tape is small: the requested chunk stands. A CNN on large images keeps
  // far more per sample (patch matrices), so its chunk shrinks, never below 1.
  EXPECT_EQ(evaluation_chunk(NetworkSpec::mlp({784, 500, 10}), 2000), 2000);
  EXPECT_EQ(evaluation_chunk(NetworkSpec::mlp({784, 500, 10}), 7), 7);
  const NetworkSpec big = NetworkSpec::build(
      Architecture::parse("conv(64,7,pad=3) relu conv(64,7,pad=3) relu maxpool(2) dense(10)"), Shape{3, 224, 224},
      Loss::SoftmaxCrossEntropy);
  const Index chunk = evaluation_chunk(big, 2000);
  EXPECT_GE(chunk, 1);
  EXPECT_LT(chunk, 2000);
  EXPECT_EQ(evaluation_chunk(big, 0), 1);
}

TEST(Fit, ValidatesOptions) {
  const Dataset train = random_dataset(4, 2, 1);
  Network<double> net = make_net(spec_of({2, 2}, Activation::ReLU, Loss::SoftmaxCrossEntropy), 1);
  BackProp<double> algo(UpdateOptions{});
  FitOptions o;
  o.epochs = 0;
  EXPECT_THROW(fit(net, algo, train, nullptr, nullptr, Normalization{}, o), UsageError);
  o = FitOptions{};
  o.batch_size = 0;
  EXPECT_THROW(fit(net, algo, train, nullptr, nullptr, Normalization{}, o), UsageError);
  o = FitOptions{};
  o.eval_every = -1;
  EXPECT_THROW(fit(net, algo, train, nullptr, nullptr, Normalization{}, o), UsageError);
}

// ---- per-layer diagnostics ----------------------------------------------------

/// The value of `name` among a row's extra columns (NaN when absent).
double extra(const MetricsRow& row, const std::string& name) {
  for (const auto& [n, v] : row.extra)
    if (n == name) return v;
  return std::nan("");
}

/// ‖∂L/∂(W_i, b_i)‖ of the mean loss over `data`, by central differences.
std::vector<double> finite_difference_layer_norms(Network<double> net, const Dataset& data) {
  const double h = 1e-6;
  auto loss = [&] { return evaluate(net, data, Normalization{}).loss; };
  std::vector<double> norms;
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    double sq = 0;
    auto probe = [&](double& theta) {
      const double keep = theta;
      theta = keep + h;
      const double up = loss();
      theta = keep - h;
      const double down = loss();
      theta = keep;
      const double d = (up - down) / (2 * h);
      sq += d * d;
    };
    Params<double>& p = net.params(i);
    for (Index k = 0; k < p.W.size(); ++k) probe(p.W.data()[k]);
    for (Index k = 0; k < p.b.size(); ++k) probe(p.b.data()[k]);
    norms.push_back(std::sqrt(sq));
  }
  return norms;
}

TEST(FitDiagnostics, LayerGradNormsMatchFiniteDifferences) {
  // A 3-layer sigmoid network (the gradient shrinks towards the input); the
  // columns at iteration 0 describe the initial network, those at the end the
  // trained one. Central differences with h = 1e-6 are good to ~1e-8 here.
  const Dataset train = random_dataset(10, 3, 21);
  const NetworkSpec spec = spec_of({3, 5, 4, 2}, Activation::Sigmoid, Loss::SoftmaxCrossEntropy);
  Network<double> net = make_net(spec, 4, "normal:1");
  const Network<double> start = net;
  UpdateOptions sgd;
  sgd.lr = 0.5;
  BackProp<double> algo(sgd);
  FitOptions o;
  o.epochs = 2;
  o.batch_size = 5;
  o.diagnostics = true;
  const FitResult r = fit(net, algo, train, nullptr, nullptr, Normalization{}, o);
  ASSERT_EQ(r.rows.size(), 3u);
  using Point = std::pair<const MetricsRow*, const Network<double>*>;
  for (const auto& [row, at] : {Point{&r.rows.front(), &start}, Point{&r.rows.back(), &net}}) {
    const std::vector<double> fd = finite_difference_layer_norms(*at, train);
    double total = 0;
    for (std::size_t i = 0; i < fd.size(); ++i) {
      const double ours = extra(*row, "layer" + std::to_string(i + 1) + "_grad_norm");
      SCOPED_TRACE("iteration " + std::to_string(row->iteration) + ", layer " + std::to_string(i + 1));
      EXPECT_NEAR(ours, fd[i], 1e-6 * fd[i]);
      total += ours * ours;
    }
    EXPECT_NEAR(extra(*row, "grad_norm"), std::sqrt(total), 1e-12 * std::sqrt(total));
  }
  // Sigmoid' <= 1/4: at this initialisation the layer next to the input gets the smallest share.
  EXPECT_LT(extra(r.rows.front(), "layer1_grad_norm"), extra(r.rows.front(), "layer3_grad_norm"));
}

TEST(FitDiagnostics, UpdateIsTheRelativeChangeSinceThePreviousPoint) {
  // layer<i>_update against the networks the loop hands to on_eval.
  const Dataset train = random_dataset(12, 3, 22);
  Network<double> net = make_net(spec_of({3, 4, 2}, Activation::Tanh, Loss::SoftmaxCrossEntropy), 6);
  BackProp<double> algo(UpdateOptions{});
  FitOptions o;
  o.epochs = 2;
  o.batch_size = 4;
  o.eval_every = 2;
  o.diagnostics = true;
  std::vector<std::vector<Mat<double>>> weights;
  FitCallbacks<double> cb;
  cb.on_eval = [&](const MetricsRow&, const Network<double>& n, const FitState&) {
    weights.emplace_back();
    for (std::size_t i = 0; i < n.num_param_layers(); ++i) weights.back().push_back(n.params(i).W);
    return true;
  };
  const FitResult r = fit(net, algo, train, nullptr, nullptr, Normalization{}, o, cb);
  ASSERT_EQ(r.rows.size(), weights.size());
  ASSERT_GE(r.rows.size(), 4u);
  EXPECT_TRUE(std::isnan(extra(r.rows[0], "layer1_update")));
  for (std::size_t k = 1; k < r.rows.size(); ++k)
    for (std::size_t i = 0; i < 2; ++i) {
      const double want = (weights[k][i] - weights[k - 1][i]).norm() / weights[k - 1][i].norm();
      EXPECT_NEAR(extra(r.rows[k], "layer" + std::to_string(i + 1) + "_update"), want, 1e-14 * want);
      EXPECT_GT(want, 0);
    }
}

}  // namespace
}  // namespace sibp
