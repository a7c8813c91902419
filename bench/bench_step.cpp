// One SGD step of 784-500-10 (ReLU, softmax cross-entropy) at batch 100 in
// float, next to Eigen's raw GEMMs of the same shapes, so the step's
// achieved GFLOP/s can be read against what Eigen reaches on its own.
//
//   build/bench/bench_step --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Times are wall-clock (UseRealTime): the GEMMs run on OpenMP threads.
#include <benchmark/benchmark.h>

#include "flops.hpp"
#include "core/rng.hpp"
#include "train/backprop.hpp"
#include "train/update_rule.hpp"

namespace sibp {
namespace {

constexpr Index kIn = 784, kHidden = 500, kOut = 10, kBatch = 100;

Mat<float> random_matrix(Index r, Index c, Rng& rng) {
  Mat<float> A(r, c);
  for (Index i = 0; i < A.size(); ++i) A.data()[i] = static_cast<float>(rng.uniform());
  return A;
}

void BM_SgdStep_784_500_10(benchmark::State& state) {
  const std::vector<Index> widths{kIn, kHidden, kOut};
  const NetworkSpec spec = NetworkSpec::mlp(widths);
  Rng rng(1);
  Network<float> net(spec, Initializer::parse("normal:0.05"), rng);
  Batch<float> batch;
  batch.X = random_matrix(kIn, kBatch, rng);
  batch.Y = Mat<float>::Zero(kOut, kBatch);
  for (Index j = 0; j < kBatch; ++j) batch.Y(static_cast<Index>(rng.below(kOut)), j) = 1;
  UpdateOptions o;
  o.lr = 0.01;  // small: thousands of steps on one batch must stay finite
  BackProp<float> algo(o);
  for (auto _ : state) {
    const StepReport r = algo.step(net, batch);
    benchmark::DoNotOptimize(r.loss);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      bench::backprop_gemm_flops(widths, kBatch) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SgdStep_784_500_10)->Unit(benchmark::kMicrosecond)->UseRealTime();

// G = W·F: (500×784)·(784×100), the first layer's forward product.
void BM_EigenGemm_Forward_500x784x100(benchmark::State& state) {
  Rng rng(2);
  const Mat<float> W = random_matrix(kHidden, kIn, rng), F = random_matrix(kIn, kBatch, rng);
  Mat<float> G(kHidden, kBatch);
  for (auto _ : state) {
    G.noalias() = W * F;
    benchmark::DoNotOptimize(G.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kHidden * kIn * kBatch / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EigenGemm_Forward_500x784x100)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ∂W = δ·Fᵀ: (500×100)·(100×784), the first layer's weight gradient, with
// the transpose taken as back propagation takes it.
void BM_EigenGemm_WeightGrad_500x100x784(benchmark::State& state) {
  Rng rng(3);
  const Mat<float> D = random_matrix(kHidden, kBatch, rng), F = random_matrix(kIn, kBatch, rng);
  Mat<float> dW(kHidden, kIn);
  for (auto _ : state) {
    dW.noalias() = D * F.transpose();
    benchmark::DoNotOptimize(dW.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * kHidden * kIn * kBatch / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EigenGemm_WeightGrad_500x100x784)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace sibp

BENCHMARK_MAIN();
