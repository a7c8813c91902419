// Seconds per epoch of every training algorithm, as ratios to SGD measured in
// the same run: the speed targets of issues #3 (SIBP: fastest solver ≤ 3× SGD,
// reference solver ≤ 6×) and #4 (ProxProp cg3 ≤ 3×).
//
//   build/bench/algorithms [--data SPEC] [--batches N] [--repeat R] [--threads T] [--only LABEL,...]
//                          [--clock wall|cpu]
//
// Real MNIST (or any --data spec) 784-500-10, ReLU, normal:0.05, batch 100,
// float, one thread by default. Each repeat trains a fresh network from the
// same initial weights on the same N batches (default 600 = one MNIST epoch)
// with every algorithm in turn, so background load hits all of them alike;
// the minimum over repeats is reported, and the median over repeats of the
// ratio to SGD within a repeat (steadier than the ratio of minima when other
// processes come and go). --clock cpu times the process CPU time instead of
// the wall clock (one thread only: with more it adds the threads up), which a
// busy machine disturbs far less. Algorithms are configured through
// RunOptions and RunSpec, exactly as `sibp train` does. Output lines
// are `key=value` for scripts:
//   label=... seconds_per_epoch=... ratio_to_sgd=... median_ratio_to_sgd=... ms_per_batch=...
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/data_source.hpp"
#include "experiment/run_options.hpp"
#include "nn/init.hpp"

using namespace sibp;

namespace {

struct Variant {
  std::string label;
  RunOptions options;
};

// The settings of the issues' targets; each differs from the defaults only in
// the algorithm options.
std::vector<Variant> variants() {
  std::vector<Variant> v;
  auto add = [&](std::string label, auto edit) {
    RunOptions o;
    edit(o);
    v.push_back({std::move(label), o});
  };
  add("sgd", [](RunOptions& o) { o.algo = Algo::SGD; o.lr = 0.1; });
  add("sibp-exact:gn-exact", [](RunOptions& o) { o.algo = Algo::SIBP; o.solver = parse_solver_spec("exact:gn-exact"); });
  add("sibp-exact:gn-cg", [](RunOptions& o) { o.algo = Algo::SIBP; o.solver = parse_solver_spec("exact:gn-cg"); });
  add("sibp-reference", [](RunOptions& o) { o.algo = Algo::SIBP; o.solver = parse_solver_spec("reference"); });
  add("sibp-compat-authors", [](RunOptions& o) { o.algo = Algo::SIBP; o.compat_authors = true; });
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
int run(const bench::TimingOptions& t, long long batches, const std::string& only) {
  const bool cpu = t.cpu();
  const std::string& data = t.data;
  const int repeat = t.repeat, threads = t.threads;
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);

  LoadedData loaded = load_data(parse_data_spec(data), DataOptions{});
  const Dataset& train = loaded.train;
  const Index m = 100;
  batches = std::min<long long>(batches, train.size() / m);
  const std::vector<Batch<float>> fixed = bench::fixed_batches(train, m, batches);

  std::vector<Variant> vs = variants();
  if (!only.empty()) {
    std::vector<Variant> kept;
    for (const Variant& v : vs)
      if (v.label == "sgd" || bench::in_list(v.label, only)) kept.push_back(v);
    vs = kept;
  }
  const NetworkSpec spec = NetworkSpec::mlp({784, 500, 10});
  Rng rng(1);
  const Network<float> init(spec, Initializer::parse("normal:0.05"), rng);

  std::map<std::string, double> best;
  std::map<std::string, std::vector<double>> ratios;
  for (int r = 0; r < repeat; ++r) {
    double sgd_now = 0;
    for (const Variant& v : vs) {
      Network<float> net = init;
      auto algo = make_algorithm<float>(RunSpec(v.options).algorithm(), spec);
      const double t0 = bench::seconds_now(cpu);
      for (const Batch<float>& b : fixed)
        if (!algo->step(net, b).finite) throw std::runtime_error(v.label + ": a step diverged");
      const double s = bench::seconds_now(cpu) - t0;
      auto [it, fresh] = best.emplace(v.label, s);
      if (!fresh) it->second = std::min(it->second, s);
      if (v.label == "sgd") sgd_now = s;
      ratios[v.label].push_back(s / sgd_now);
    }
  }
  const double per_epoch = static_cast<double>(train.size() / m) / static_cast<double>(batches);
  const double sgd = best.at("sgd");
  std::printf("threads=%d batches=%lld repeat=%d clock=%s\n", threads, batches, repeat, cpu ? "cpu" : "wall");
  for (const Variant& v : vs) {
    const double s = best.at(v.label);
    std::printf("label=%s seconds_per_epoch=%.3f ratio_to_sgd=%.2f median_ratio_to_sgd=%.3f ms_per_batch=%.2f\n",
                v.label.c_str(), s * per_epoch, s / sgd, bench::median(ratios.at(v.label)),
                1e3 * s / static_cast<double>(batches));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Seconds per epoch of every training algorithm as ratios to SGD (see bench/algorithms.cpp)",
               "algorithms");
  bench::TimingOptions timing;
  long long batches = 600;
  std::string only;
  bench::add_timing_options(app, timing);
  app.add_option("--batches", batches, "batches of 100 per repeat (600: one MNIST epoch)")
      ->check(bench::kAtLeastOne)
      ->capture_default_str();
  app.add_option("--only", only, "LABEL,...: these algorithms (and sgd) only");
  return bench::parse_and_run(app, argc, argv, [&] { return run(timing, batches, only); });
}
