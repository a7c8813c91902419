// Data-parallel training (ALGORITHMS.md §6), run under mpirun with R = 2 and 3
// ranks (tests/CMakeLists.txt). Each test trains the same network on the same
// batches twice on every rank: once alone on whole batches (the single-process
// reference, a SingleProcess communicator) and once sharded over the R ranks
// (rank r stepping on its slice of every batch). After N steps the sharded
// parameters must equal the reference to the tolerance below, and be the same
// bits on every rank.
//
// Tolerances. float64: 1e-6 relative (the bound); the two runs differ
// only in the order of floating-point sums over samples (a shard's partial sums
// added by the allreduce), i.e. ~1e-16 relative per sum, amplified by the few
// solver iterations and steps to at most 5e-16 seen (each case prints its own).
// float32: 1e-5 relative. A reordered sum of n terms differs by about
// sqrt(n)·2^-24 ≈ 1e-7 relative here (n ≤ a few hundred terms); each SIBP or
// ProxProp step passes such differences through a few CG iterations (condition
// numbers up to ~10 for λ = 1 on these shapes) and into the next layer's
// targets, and 3 steps compound them: the largest seen with R = 2 and 3 is
// 6.4e-7, and the bound leaves 15× room while still failing for a wrong
// scaling (a shard's mean instead of the global one is off by R/(R−1) ≥ 1.5×),
// a missing sum or a wrong shard (off by O(1)).
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "core/communicator.hpp"
#include "core/rng.hpp"
#include "nn/architecture.hpp"
#include "nn/init.hpp"
#include "test_support.hpp"
#include "train/algorithms.hpp"
#include "train/backprop.hpp"
#include "train/fit.hpp"
#include "train/update_rule.hpp"
#include "train/proxprop.hpp"
#include "train/sibp.hpp"

namespace sibp {
namespace {

Communicator* g_world = nullptr;

struct Case {
  std::string name;
  std::string arch;   // --arch syntax
  std::string input;  // "d" or "CxHxW"
  AlgorithmOptions algo;
  Index batch = 7;    // not divisible by 2 or 3: uneven shards
  int steps = 3;
};

SibpOptions sibp(const std::string& solver, int iters = 3, UpdateMode mode = UpdateMode::Sequential,
                 double eta = 0.5, CgSpace space = CgSpace::Auto) {
  SibpOptions o;
  o.cg_space = space;
  o.eta = eta;
  o.lambda = {1.0};
  o.solver = parse_solver_spec(solver);
  o.solver_iters = iters;
  o.mode = mode;
  return o;
}

ProxPropOptions proxprop(ProxPropSolver solver, UpdateOptions outer = UpdateOptions::sgd(0.5)) {
  ProxPropOptions o;
  o.solver = solver;
  o.tau = 0.5;
  o.prox_iters = 3;
  o.outer = outer;
  return o;
}

template <typename T>
Batch<T> make_batch(Index d0, Index classes, Index m, Rng& rng) {
  Batch<T> b;
  b.X.resize(d0, m);
  for (Index i = 0; i < b.X.size(); ++i) b.X.data()[i] = static_cast<T>(rng.normal());
  b.Y = Mat<T>::Zero(classes, m);
  for (Index j = 0; j < m; ++j) b.Y(static_cast<Index>(rng.below(static_cast<std::uint64_t>(classes))), j) = 1;
  return b;
}

template <typename T>
std::vector<T> flat_parameters(const Network<T>& net) {
  std::vector<T> out;
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    const Params<T>& p = net.params(i);
    out.insert(out.end(), p.W.data(), p.W.data() + p.W.size());
    out.insert(out.end(), p.b.data(), p.b.data() + p.b.size());
  }
  return out;
}

/// Trains `c` alone and sharded; returns max over layers of ‖θ − θ_ref‖/‖θ_ref‖.
template <typename T>
double sharded_vs_single(const Case& c) {
  Communicator& world = *g_world;
  const NetworkSpec spec = testing::spec_of(c.arch, c.input);
  Rng init(11);
  const Network<T> start(spec, Initializer::parse("normal:0.3"), init);
  Network<T> alone = start, sharded = start;
  auto ref = make_algorithm<T>(c.algo, spec, single_process());
  auto par = make_algorithm<T>(c.algo, spec, world);
  Rng data(5);
  const Index d0 = spec.input.size(), classes = spec.shapes.back().size();
  for (int s = 0; s < c.steps; ++s) {
    const Batch<T> whole = make_batch<T>(d0, classes, c.batch, data);
    const StepReport r1 = ref->step(alone, whole);
    const Shard mine = shard_of(c.batch, world.rank(), world.size());
    Batch<T> part;
    part.X = whole.X.middleCols(mine.begin, mine.size());
    part.Y = whole.Y.middleCols(mine.begin, mine.size());
    part.global_size = c.batch;
    const StepReport r2 = par->step(sharded, part);
    EXPECT_TRUE(r1.finite && r2.finite) << c.name << " step " << s;
    EXPECT_NEAR(r2.loss, r1.loss, 1e-5 * std::abs(r1.loss) + 1e-12) << c.name << " step " << s << ": batch loss";
  }
  // Every rank holds the same bits: compare each rank's parameters with rank 0's.
  const std::vector<T> mine = flat_parameters(sharded);
  std::vector<std::size_t> counts(static_cast<std::size_t>(world.size()), mine.size());
  std::vector<T> all(mine.size() * counts.size());
  world.allgatherv(mine.data(), counts, all.data(), "test parameters");
  for (std::size_t r = 1; r < counts.size(); ++r)
    EXPECT_EQ(std::memcmp(all.data(), all.data() + r * mine.size(), mine.size() * sizeof(T)), 0)
        << c.name << ": rank " << r << "'s parameters differ from rank 0's";
  double worst = 0;
  for (std::size_t i = 0; i < alone.num_param_layers(); ++i) {
    const double dw = static_cast<double>((sharded.params(i).W - alone.params(i).W).norm()) /
                      static_cast<double>(alone.params(i).W.norm());
    const double db = static_cast<double>((sharded.params(i).b - alone.params(i).b).norm()) /
                      std::max(1e-30, static_cast<double>(alone.params(i).b.norm()));
    worst = std::max({worst, dw, db});
  }
  // The run must actually move the parameters, or equality would prove nothing.
  const std::vector<T> before = flat_parameters(start), after = flat_parameters(alone);
  double moved = 0;
  for (std::size_t i = 0; i < before.size(); ++i) moved = std::max(moved, std::abs(double(after[i] - before[i])));
  EXPECT_GT(moved, 1e-3) << c.name << ": the reference run did not move the parameters";
  return worst;
}

// 4 → 6 → 5 → 3 (ReLU hidden layers), and a small CNN on 1×6×6 images.
const char* kMlp = "dense(6) relu dense(5) relu dense(3)";
const char* kCnn = "conv(3,3,pad=1) relu maxpool(2) dense(6) relu dense(3)";

std::vector<Case> cases() {
  const UpdateMode joint = UpdateMode::Joint;
  return {
      {"sgd", kMlp, "4", UpdateOptions::sgd(0.5)},
      {"nesterov", kMlp, "4", UpdateOptions::sgd(0.3, 0.9, true)},
      {"adam", kMlp, "4", UpdateOptions::adam(0.05)},
      {"sibp_default", kMlp, "4", sibp("exact:gn-cg")},
      // Gauss–Newton CG forced into each space: parameter space runs sharded
      // (allreduced products), sample space gathers the problem.
      {"sibp_gn_cg_parameter_space", kMlp, "4",
       sibp("exact:gn-cg", 3, UpdateMode::Sequential, 0.5, CgSpace::Parameter)},
      {"sibp_gn_cg_sample_space", kMlp, "12", sibp("exact:gn-cg", 3, UpdateMode::Sequential, 0.5, CgSpace::Sample)},
      {"sibp_gn_exact", kMlp, "4", sibp("exact:gn-exact")},
      {"sibp_reference", kMlp, "4", sibp("reference", 5)},
      {"sibp_reference_joint", kMlp, "4", sibp("reference", 5, joint)},
      {"sibp_exact_joint", kMlp, "4", sibp("exact:gn-cg", 3, joint)},
      {"proxprop_exact", kMlp, "4", proxprop(ProxPropSolver::Exact)},
      {"proxprop_cg", kMlp, "4", proxprop(ProxPropSolver::CG)},
      {"proxprop_gradient_adam", kMlp, "4", proxprop(ProxPropSolver::Gradient, UpdateOptions::adam(0.05))},
      {"cnn_sgd", kCnn, "1x6x6", UpdateOptions::sgd(0.5)},
      {"cnn_sibp_gn_cg", kCnn, "1x6x6", sibp("exact:gn-cg")},
      {"cnn_sibp_reference", kCnn, "1x6x6", sibp("reference", 3)},
      {"cnn_proxprop_cg", kCnn, "1x6x6", proxprop(ProxPropSolver::CG)},
      {"cnn_proxprop_exact", kCnn, "1x6x6", proxprop(ProxPropSolver::Exact)},
  };
}

class Sharded : public ::testing::TestWithParam<Case> {};

TEST_P(Sharded, Float64MatchesOneProcessTo1e6) {
  const double err = sharded_vs_single<double>(GetParam());
  EXPECT_LE(err, 1e-6) << GetParam().name;
  if (g_world->is_root()) std::cout << "  " << GetParam().name << " f64 R=" << g_world->size() << ": " << err << "\n";
}

TEST_P(Sharded, Float32MatchesOneProcessTo1e5) {
  const double err = sharded_vs_single<float>(GetParam());
  EXPECT_LE(err, 1e-5) << GetParam().name;
  if (g_world->is_root()) std::cout << "  " << GetParam().name << " f32 R=" << g_world->size() << ": " << err << "\n";
}

INSTANTIATE_TEST_SUITE_P(EveryAlgorithm, Sharded, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(ShardedFit, IndependentBatchesAndAScheduleMatchOneProcess) {
  // --sampling independent draws every batch from the shared seed, so every
  // rank steps on its shard of the same batch; the schedule's factor is the
  // same on every rank. Through fit(), as a run trains.
  Rng rng(3);
  std::vector<float> values(30 * 4);
  std::vector<std::uint8_t> labels(30);
  for (float& v : values) v = static_cast<float>(rng.normal());
  for (std::uint8_t& l : labels) l = static_cast<std::uint8_t>(rng.below(3));
  const Dataset train = Dataset::from_floats(values, labels, 4, 3, "train");
  const NetworkSpec spec = testing::spec_of(kMlp, "4");
  FitOptions o;
  o.epochs = 2;
  o.batch_size = 7;
  o.sampling = BatchSampling::Independent;
  o.schedule.kind = StepSchedule::Kind::Cosine;
  o.schedule.warmup = 3;
  const AlgorithmOptions momentum = UpdateOptions::sgd(0.3, 0.9);
  Rng init(11);
  const Network<double> start(spec, Initializer::parse("normal:0.3"), init);
  Network<double> alone = start, sharded = start;
  fit(alone, *make_algorithm<double>(momentum, spec), train, nullptr, nullptr, Normalization{}, o);
  fit(sharded, *make_algorithm<double>(momentum, spec, *g_world), train, nullptr, nullptr, Normalization{}, o, {},
      nullptr, *g_world);
  for (std::size_t i = 0; i < alone.num_param_layers(); ++i) {
    EXPECT_LE((sharded.params(i).W - alone.params(i).W).norm() / alone.params(i).W.norm(), 1e-6) << "layer " << i;
    EXPECT_GT((alone.params(i).W - start.params(i).W).norm(), 1e-3) << "layer " << i << " did not move";
  }
}

TEST(Shards, CoverTheBatchInOrderWithSizesDifferingByAtMostOne) {
  for (Index n : {1, 2, 7, 100, 101})
    for (int R : {1, 2, 3, 5}) {
      Index next = 0;
      for (int r = 0; r < R; ++r) {
        const Shard s = shard_of(n, r, R);
        EXPECT_EQ(s.begin, next);
        EXPECT_GE(s.size(), n / R);
        EXPECT_LE(s.size(), n / R + 1);
        next = s.end;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(Collectives, AllreduceGivesEveryRankTheSameSum) {
  Communicator& w = *g_world;
  std::vector<double> v(5);
  for (int i = 0; i < 5; ++i) v[i] = 0.1 * (w.rank() + 1) + i;
  w.allreduce_sum(v.data(), v.size(), "test sum");
  const double R = w.size();
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(v[i], 0.1 * R * (R + 1) / 2 + R * i, 1e-12);
  EXPECT_EQ(w.volume().allreduce_calls > 0, w.size() > 1);
}

}  // namespace
}  // namespace sibp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::unique_ptr<sibp::Communicator> world = sibp::make_world_communicator();
  sibp::g_world = world.get();
  if (world->size() < 2) std::cerr << "test_mpi: one process; run it under mpirun -np 2 or 3 to test sharding\n";
  // Only rank 0 prints gtest's report; every rank's failures make its exit code non-zero.
  if (!world->is_root()) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int code = RUN_ALL_TESTS();
  // Every rank's verdict: a failure on rank 1 must fail the job even if rank 0 passed.
  double failed = code != 0 ? 1 : 0;
  world->allreduce_sum(&failed, 1, "test verdicts");
  return failed > 0 ? 1 : 0;
}
