// Seconds per epoch of SGD, every SIBP solver and ProxProp as the work grows:
// batch sizes × hidden widths × depths (issue 13, target 5), and the ratio of
// each algorithm to SGD measured in the same run.
//
//   build/bench/cost_grid [--data SPEC] [--batches 10,32,100,316,1000] [--widths 100,500,2000]
//                         [--depths 1,3] [--algos LABEL,...] [--samples S] [--max-seconds X]
//                         [--repeat R] [--threads T] [--clock cpu|wall]
//
// The network is an MLP on the data's input (784 for MNIST) with `depth` hidden
// ReLU layers of `width` units and a linear output layer, normal:0.05 weights.
// Every point times `steps` = max(1, ceil(S / batch)) training steps (after one
// untimed step that sizes every buffer), fewer when one step takes so long that
// they would exceed --max-seconds, and scales the time to an epoch (train size /
// batch steps): an epoch of the large points would take minutes, and the cost
// per step does not change within an epoch. Each repeat trains every algorithm
// in turn from the same initial weights on the same batches, so background load
// hits them alike; the median over repeats is reported, and the ratio to SGD is
// the median of the per-repeat ratios.
//
// --clock cpu (the default) measures the process CPU time, which other processes
// on a busy machine disturb far less than the wall clock; with --threads > 1 use
// --clock wall (CPU time then adds the threads up).
//
// Output: one `key=value` line per point and algorithm, for scripts:
//   depth=1 width=500 batch=100 algo=sibp steps=30 seconds_per_epoch=1.234 ratio_to_sgd=1.25 space=sample
// where `space` lists, for a SIBP run whose hidden solver is gn-cg, the space
// (sample or parameter) that its Gauss–Newton CG chose per hidden layer.
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "core/thread_pool.hpp"
#include "data/data_source.hpp"
#include "nn/init.hpp"
#include "train/algorithms.hpp"
#include "train/backprop.hpp"
#include "train/prox_fast.hpp"
#include "train/proxprop.hpp"
#include "train/sibp.hpp"
#include "train/update_rule.hpp"

using namespace sibp;

namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) out.push_back(part);
  return out;
}

SibpOptions sibp_with(const std::string& solver, CgSpace space = CgSpace::Auto) {
  SibpOptions o;
  o.solver = parse_solver_spec(solver);
  o.cg_space = space;
  return o;
}

// The algorithms the grid knows, by label; each differs from its algorithm's
// defaults only where the label says so.
AlgorithmOptions algorithm_for(const std::string& label) {
  if (label == "sgd") return UpdateOptions{UpdateKind::SGD, 0.1};
  if (label == "sibp") return sibp_with("exact:gn-cg");  // the default, space by the cost model
  if (label == "sibp-sample") return sibp_with("exact:gn-cg", CgSpace::Sample);
  if (label == "sibp-parameter") return sibp_with("exact:gn-cg", CgSpace::Parameter);
  if (label == "sibp-gn-exact") return sibp_with("exact:gn-exact");
  if (label == "sibp-reference") return sibp_with("reference");
  if (label == "proxprop-cg3" || label == "proxprop-exact") {
    ProxPropOptions o;
    o.solver = label == "proxprop-cg3" ? ProxPropSolver::CG : ProxPropSolver::Exact;
    o.prox_iters = 3;
    o.outer = UpdateOptions{UpdateKind::SGD, 1.0, 0.95, true};
    return o;
  }
  throw UsageError("--algos: unknown label '" + label +
                   "': expected sgd, sibp, sibp-sample, sibp-parameter, sibp-gn-exact, sibp-reference, "
                   "proxprop-cg3, proxprop-exact");
}

// The space the default cost model picks for each hidden layer of the network.
std::string chosen_spaces(const std::string& label, const NetworkSpec& spec, Index batch) {
  if (label != "sibp") return "-";
  std::string out;
  for (std::size_t l = 0; l + 1 < spec.shapes.size() - 1; ++l) {
    const Index d_in = spec.shapes[l].size(), d_out = spec.shapes[l + 1].size();
    if (!out.empty()) out += ',';
    out += to_string(resolve_cg_space(CgSpace::Auto, d_out, d_in, batch, SibpOptions{}.solver_iters));
  }
  return out;
}

/// The options of the grid (beyond bench::TimingOptions).
struct GridOptions {
  std::string algos = "sgd,sibp,sibp-sample,sibp-parameter,sibp-gn-exact,sibp-reference,proxprop-cg3";
  std::vector<long long> batches{10, 32, 100, 316, 1000}, widths{100, 500, 2000}, depths{1, 3};
  long long samples = 3000;
  double max_seconds = 20;
};

/// The timing loop, once the options are parsed.
int run(const bench::TimingOptions& t, const GridOptions& g) {
  const std::string& data = t.data;
  const std::string& algos = g.algos;
  const std::vector<long long>& batches = g.batches;
  const std::vector<long long>& widths = g.widths;
  const std::vector<long long>& depths = g.depths;
  const long long samples = g.samples;
  const double max_seconds = g.max_seconds;
  const int repeat = t.repeat, threads = t.threads;
  const bool cpu = t.cpu();
  const auto now = [](bool on_cpu) { return bench::seconds_now(on_cpu); };
  std::vector<std::string> labels = split(algos);
  if (std::find(labels.begin(), labels.end(), "sgd") == labels.end()) labels.insert(labels.begin(), "sgd");
  for (const std::string& l : labels) algorithm_for(l);  // unknown labels fail before any work
  omp_set_num_threads(threads);
  Eigen::setNbThreads(1);
  set_num_threads(threads);

  LoadedData loaded = load_data(parse_data_spec(data), DataOptions{});
  const Dataset& train = loaded.train;
  const Index d0 = train.sample_shape().size(), classes = train.num_classes();
  std::printf("threads=%d clock=%s samples=%lld max_seconds=%g repeat=%d train_size=%lld\n", threads,
              cpu ? "cpu" : "wall", samples, max_seconds, repeat, static_cast<long long>(train.size()));
  std::fflush(stdout);

  for (long long depth : depths)
    for (long long width : widths)
      for (long long m : batches) {
        std::vector<Index> shape{d0};
        for (long long k = 0; k < depth; ++k) shape.push_back(width);
        shape.push_back(classes);
        const NetworkSpec spec = NetworkSpec::mlp(shape);
        Rng rng(1);
        const Network<float> init(spec, Initializer::parse("normal:0.05"), rng);
        const long long wanted = std::max<long long>(1, (samples + m - 1) / m);
        const long long available = train.size() / m;
        if (available < wanted + 1) throw UsageError("the training set is too small for batch " + std::to_string(m));
        std::vector<Batch<float>> fixed(static_cast<std::size_t>(wanted + 1));
        for (long long k = 0; k <= wanted; ++k) train.make_range_batch(k * m, (k + 1) * m, Normalization{}, fixed[k]);

        std::map<std::string, std::vector<double>> per_step, ratio;
        std::map<std::string, long long> steps_used;
        for (int r = 0; r < repeat; ++r) {
          double sgd = 0;
          for (const std::string& label : labels) {
            Network<float> net = init;
            auto algo = make_algorithm<float>(algorithm_for(label), spec);
            // One untimed step sizes the buffers (and says how long a step takes).
            const double w0 = now(cpu);
            if (!algo->step(net, fixed[0]).finite) throw std::runtime_error(label + ": a step diverged");
            const double first = now(cpu) - w0;
            const long long steps =
                std::clamp<long long>(static_cast<long long>(max_seconds / std::max(first, 1e-9)), 1, wanted);
            const double t0 = now(cpu);
            for (long long k = 1; k <= steps; ++k)
              if (!algo->step(net, fixed[k]).finite) throw std::runtime_error(label + ": a step diverged");
            const double s = (now(cpu) - t0) / static_cast<double>(steps);
            per_step[label].push_back(s);
            steps_used[label] = steps;
            if (label == "sgd") sgd = s;
            ratio[label].push_back(s / sgd);
          }
        }
        const double steps_per_epoch = static_cast<double>(train.size()) / static_cast<double>(m);
        for (const std::string& label : labels) {
          std::printf("depth=%lld width=%lld batch=%lld algo=%s steps=%lld seconds_per_epoch=%.4g ratio_to_sgd=%.3f "
                      "space=%s\n",
                      depth, width, m, label.c_str(), steps_used[label], bench::median(per_step[label]) * steps_per_epoch,
                      bench::median(ratio[label]), chosen_spaces(label, spec, m).c_str());
        }
        std::fflush(stdout);
      }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Seconds per epoch of SGD, every SIBP solver and ProxProp over batch sizes, widths and depths "
               "(see bench/cost_grid.cpp)",
               "cost_grid");
  bench::TimingOptions timing;
  timing.clock = "cpu";
  GridOptions grid;
  bench::add_timing_options(app, timing);
  app.add_option("--batches", grid.batches, "batch sizes")->delimiter(',')->check(bench::kAtLeastOne);
  app.add_option("--widths", grid.widths, "hidden widths")->delimiter(',')->check(bench::kAtLeastOne);
  app.add_option("--depths", grid.depths, "numbers of hidden layers")->delimiter(',')->check(bench::kAtLeastOne);
  app.add_option("--algos", grid.algos, "LABEL,... (sgd is always run)")->capture_default_str();
  app.add_option("--samples", grid.samples, "samples of steps timed per point")
      ->check(bench::kAtLeastOne)
      ->capture_default_str();
  app.add_option("--max-seconds", grid.max_seconds, "at most this many seconds of steps per point")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return bench::parse_and_run(app, argc, argv, [&] { return run(timing, grid); });
}
