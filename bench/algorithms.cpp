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
#include <time.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

double now(bool cpu) {
  if (cpu) {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run(int argc, char** argv) {
  std::string data = "mnist";
  long long batches = 600;
  int repeat = 3;
  int threads = 1;
  std::string only;
  bool cpu = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(a + ": expected a value");
      return argv[++i];
    };
    if (a == "--data") data = value();
    else if (a == "--batches") batches = std::stoll(value());
    else if (a == "--repeat") repeat = std::stoi(value());
    else if (a == "--threads") threads = std::stoi(value());
    else if (a == "--only") only = value();
    else if (a == "--clock") {
      const std::string c = value();
      if (c != "cpu" && c != "wall") throw UsageError("--clock: expected cpu or wall, got '" + c + "'");
      cpu = c == "cpu";
    }
    else throw UsageError("unknown option '" + a + "' (see the comment at the top of bench/algorithms.cpp)");
  }
  if (batches < 1 || repeat < 1 || threads < 1) throw UsageError("--batches, --repeat and --threads must be >= 1");
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);

  LoadedData loaded = load_data(parse_data_spec(data), DataOptions{});
  const Dataset& train = loaded.train;
  const Index m = 100;
  batches = std::min<long long>(batches, train.size() / m);
  std::vector<Batch<float>> fixed(static_cast<std::size_t>(batches));
  for (long long k = 0; k < batches; ++k) train.make_range_batch(k * m, (k + 1) * m, Normalization{}, fixed[k]);

  std::vector<Variant> vs = variants();
  if (!only.empty()) {
    std::vector<Variant> kept;
    for (const Variant& v : vs)
      if (v.label == "sgd" || ("," + only + ",").find("," + v.label + ",") != std::string::npos) kept.push_back(v);
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
      const double t0 = now(cpu);
      for (const Batch<float>& b : fixed)
        if (!algo->step(net, b).finite) throw std::runtime_error(v.label + ": a step diverged");
      const double s = now(cpu) - t0;
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
                v.label.c_str(), s * per_epoch, s / sgd, median(ratios.at(v.label)),
                1e3 * s / static_cast<double>(batches));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "algorithms: " << e.what() << "\n";
    return 2;
  }
}
