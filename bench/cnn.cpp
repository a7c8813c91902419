// Seconds per epoch of every training algorithm on the reference CNN, as ratios
// to SGD measured in the same run (docs/performance.md, "Convolutional network"):
//
//   conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) dense(128) relu dense(10)
//
//   build/bench/cnn [--data SPEC] [--batches N] [--repeat R] [--threads T] [--clock wall|cpu]
//                   [--only LABEL,...] [--eval] [--list]
//
// Real MNIST (or any 1×28×28 --data spec), batch 100, float, init he. Each
// repeat trains a fresh network from the same initial weights on the same N
// batches (default 600 = one MNIST epoch) with every selected algorithm in
// turn, so background load hits all of them alike; the minimum over repeats is
// reported. Algorithms are configured through RunOptions and RunSpec as
// `sibp train` does. sibp-gn-cg{k} runs k CG iterations on every layer
// (sibp-gn-cg5 is `sibp train`'s default), sibp-gn-cg5-conv{k} 5 on the dense
// layers and k on the convolutions (SibpOptions::conv_solver_iters, which has
// no command-line option yet).
// --clock cpu times process CPU time (meaningful for one thread on a shared
// machine); the default is wall time. --eval also reports, for the first
// repeat, how far each algorithm got on those batches: the mean batch loss
// over the last quarter of the batches (before each step) and the test
// accuracy after the last one (untimed). Output lines are `key=value`:
//   repeat=R label=... seconds=...                          (every run)
//   label=... late_batch_loss=... test_acc=...              (--eval, first repeat)
//   label=... seconds_per_epoch=... ratio_to_sgd=... ms_per_batch=...
// The convolution backend is the library's default (SIBP_CONV_BACKEND=reference
// in the environment times the im2col + GEMM reference instead).
#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "core/thread_pool.hpp"
#include "data/data_source.hpp"
#include "experiment/run_options.hpp"
#include "nn/init.hpp"
#include "train/fit.hpp"

using namespace sibp;

namespace {

constexpr const char* kArch =
    "conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) dense(128) relu dense(10)";

struct Variant {
  std::string label;
  RunOptions options;
  int conv_iters = 0;  // SibpOptions::conv_solver_iters (0: as solver_iters)
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  auto add = [&](std::string label, auto edit, int conv_iters = 0) {
    RunOptions o;
    o.algo = Algo::SGD;
    edit(o);
    v.push_back({std::move(label), o, conv_iters});
  };
  add("sgd", [](RunOptions& o) { o.lr = 0.05; o.momentum = 0.9; });
  for (int k : {1, 2, 3, 5})
    add("sibp-gn-cg" + std::to_string(k), [k](RunOptions& o) { o.algo = Algo::SIBP; o.solver_iters = k; });
  // gn-cg with 5 iterations on the dense hidden layer and k on the convolutions.
  for (int k : {1, 2, 3})
    add("sibp-gn-cg5-conv" + std::to_string(k), [](RunOptions& o) { o.algo = Algo::SIBP; o.solver_iters = 5; }, k);
  add("sibp-reference", [](RunOptions& o) { o.algo = Algo::SIBP; o.solver = parse_solver_spec("reference"); });
  add("proxprop-cg3", [](RunOptions& o) {
    o.algo = Algo::ProxProp; o.prox_solver = ProxPropSolver::CG; o.prox_iters = 3; o.lr = 1; o.momentum = 0.95;
    o.nesterov = true;
  });
  add("proxprop-exact", [](RunOptions& o) {
    o.algo = Algo::ProxProp; o.prox_solver = ProxPropSolver::Exact; o.lr = 1; o.momentum = 0.95; o.nesterov = true;
  });
  return v;
}

/// The timing loop, once the options are parsed.
int run(const bench::TimingOptions& t, long long batches, const std::string& only, bool eval) {
  const std::string& data = t.data;
  const std::string& clock = t.clock;
  const int repeat = t.repeat, threads = t.threads;
  // As apps/main.cpp: large buffers stay on the heap instead of fresh mmaps whose
  // page faults a step would pay again every time a work matrix is resized.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  omp_set_num_threads(threads);  // the library's pool follows it (core/thread_pool.hpp), as in `sibp train`
  const auto now = [cpu = t.cpu()] { return bench::seconds_now(cpu); };

  LoadedData loaded = load_data(parse_data_spec(data), DataOptions{});
  const Dataset& train = loaded.train;
  const Index m = 100;
  batches = std::min<long long>(batches, train.size() / m);
  const std::vector<Batch<float>> fixed = bench::fixed_batches(train, m, batches);

  std::vector<Variant> vs = variants();
  if (!only.empty()) {
    std::vector<Variant> kept;
    for (const Variant& v : vs)
      if (bench::in_list(v.label, only)) kept.push_back(v);
    if (kept.empty()) throw UsageError("--only: no variant called '" + only + "' (see --list)");
    vs = kept;
  }
  const NetworkSpec spec =
      NetworkSpec::build(Architecture::parse(kArch), Shape{1, 28, 28}, Loss::SoftmaxCrossEntropy, 10);
  Rng rng(1);
  const Network<float> init(spec, Initializer::parse("he"), rng);

  std::printf("threads=%d pool_threads=%d batches=%lld repeat=%d clock=%s conv_backend=%s\n", threads, num_threads(),
              batches, repeat, clock.c_str(), conv_backend() == ConvBackend::Fast ? "fast" : "reference");
  std::map<std::string, double> best;
  for (int r = 0; r < repeat; ++r) {
    for (const Variant& v : vs) {
      Network<float> net = init;
      RunOptions options = v.options;
      if (v.conv_iters > 0) options.unit_options["conv_solver_iters"] = v.conv_iters;  // the SIBP unit's option
      auto algo = make_algorithm<float>(RunSpec(options).algorithm(), spec);
      const std::size_t late = fixed.size() - std::max<std::size_t>(1, fixed.size() / 4);
      double late_loss = 0;
      const double t0 = now();
      for (std::size_t k = 0; k < fixed.size(); ++k) {
        const StepReport report = algo->step(net, fixed[k]);
        if (!report.finite) throw std::runtime_error(v.label + ": a step diverged");
        if (k >= late) late_loss += report.loss;
      }
      const double s = now() - t0;
      std::printf("repeat=%d label=%s seconds=%.3f\n", r + 1, v.label.c_str(), s);
      if (eval && r == 0 && loaded.test) {
        const EvalResult e = evaluate(net, *loaded.test, Normalization{});
        std::printf("label=%s late_batch_loss=%.4f test_acc=%.4f\n", v.label.c_str(),
                    late_loss / static_cast<double>(fixed.size() - late), e.accuracy);
      }
      std::fflush(stdout);
      auto [it, fresh] = best.emplace(v.label, s);
      if (!fresh) it->second = std::min(it->second, s);
    }
  }
  const double per_epoch = static_cast<double>(train.size() / m) / static_cast<double>(batches);
  const double sgd = best.count("sgd") ? best.at("sgd") : 0.0;
  for (const Variant& v : vs) {
    const double s = best.at(v.label);
    std::printf("label=%s seconds_per_epoch=%.3f ratio_to_sgd=%.2f ms_per_batch=%.2f\n", v.label.c_str(),
                s * per_epoch, sgd > 0 ? s / sgd : 0.0, 1e3 * s / static_cast<double>(batches));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Seconds per epoch of every training algorithm on the reference CNN (see bench/cnn.cpp)", "cnn");
  bench::TimingOptions timing;
  long long batches = 600;
  std::string only;
  bool eval = false, list = false;
  bench::add_timing_options(app, timing);
  app.add_option("--batches", batches, "batches of 100 per repeat (600: one MNIST epoch)")
      ->check(bench::kAtLeastOne)
      ->capture_default_str();
  app.add_option("--only", only, "LABEL,...: these variants only (see --list)");
  app.add_flag("--eval", eval, "also report the late batch loss and the test accuracy (first repeat)");
  app.add_flag("--list", list, "print the variants' labels and exit");
  return bench::parse_and_run(app, argc, argv, [&] {
    if (list) {
      for (const Variant& v : variants()) std::printf("%s\n", v.label.c_str());
      return 0;
    }
    return run(timing, batches, only, eval);
  });
}
