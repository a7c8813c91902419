// Question 4 of REPORT.md: threads that never spin. Times an epoch's worth of
// training-step GEMMs with
//   --mode eigen   Eigen's own OpenMP-parallel GEMM (Eigen::setNbThreads(N)),
//   --mode pool    parallel_gemm on the blocking ThreadPool (N threads),
// for --what mlp    one SGD step of 784-500-10 at batch --batch (default 100):
//                   W1·F, W2·F1, δ2·F1ᵀ, W2ᵀ·δ2, δ1·Fᵀ with the element-wise
//                   work between them (bias, ReLU, softmax, update), or
//     --what conv2  conv2's three GEMMs (32×400 · 400×19600, δ·Pᵀ, K̄ᵀ·δ),
//     --what conv2dnnl  conv2's three oneDNN f32 convolutions: mode pool runs
//                   fixed sub-batches of 10 single-threaded on the pool, mode
//                   eigen (= "omp") one call with N OpenMP threads,
//     --what wake   how fast a sleeping pool worker joins a run() (mode pool).
// Prints wall seconds for --steps steps (default 600: one epoch at batch 100).
// run_threads.sh runs it idle and with a busy loop on the other core.
//
//   bench_threads --mode pool|eigen --threads N --what mlp|conv2 [--steps S] [--spin-us U]
#include <omp.h>

#include <chrono>
#include <atomic>
#include <memory>
#include <thread>
#include <optional>
#include <cstdio>

#include "bench_util.hpp"
#include "dnnl_ops.hpp"
#include "parallel_gemm.hpp"

using namespace sibp::kernels;
using namespace sibp::kernels::bench;

using Index = Eigen::Index;

namespace {

struct Gemm {
  ThreadPool* pool;
  template <class A, class B, class C>
  void operator()(const A& a, Op oa, const B& b, Op ob, C& c) const {
    if (pool) parallel_gemm(pool, a, oa, b, ob, c);
    else if (oa == Op::N && ob == Op::N) c.noalias() = a * b;
    else if (oa == Op::N) c.noalias() = a * b.transpose();
    else c.noalias() = a.transpose() * b;
  }
};

double mlp_epoch(const Gemm& gemm, Index m, int steps) {
  MatF W1 = random_mat(500, 784, 1) * 0.05f, W2 = random_mat(10, 500, 2) * 0.05f;
  Eigen::VectorXf b1 = Eigen::VectorXf::Zero(500), b2 = Eigen::VectorXf::Zero(10);
  const MatF X = random_mat(784, m, 3).cwiseAbs();
  MatF G1(500, m), F1(500, m), G2(10, m), D2(10, m), D1(500, m), dW1(500, 784), dW2(10, 500);
  const float lr = 0.1f;
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    gemm(W1, Op::N, X, Op::N, G1);
    G1.colwise() += b1;
    F1 = G1.cwiseMax(0.f);
    gemm(W2, Op::N, F1, Op::N, G2);
    G2.colwise() += b2;
    for (Index j = 0; j < m; ++j) {
      const float mx = G2.col(j).maxCoeff();
      D2.col(j) = (G2.col(j).array() - mx).exp();
      D2.col(j) /= D2.col(j).sum();
      D2(j % 10, j) -= 1.f;
    }
    D2 /= static_cast<float>(m);
    gemm(D2, Op::N, F1, Op::T, dW2);
    gemm(W2, Op::T, D2, Op::N, D1);
    D1 = (G1.array() > 0.f).select(D1, 0.f);
    gemm(D1, Op::N, X, Op::T, dW1);
    W1 -= lr * dW1;
    W2 -= lr * dW2;
    b1 -= lr * D1.rowwise().sum();
    b2 -= lr * D2.rowwise().sum();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double conv2_epoch(const Gemm& gemm, int steps) {
  const MatF K = random_mat(32, 400, 1), P = random_mat(400, 19600, 2), D = random_mat(32, 19600, 3);
  MatF G(32, 19600), dK(32, 400), dP(400, 19600);
  const auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    gemm(K, Op::N, P, Op::N, G);
    gemm(D, Op::N, P, Op::T, dK);
    gemm(K, Op::T, D, Op::N, dP);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// conv2 forward + backward-data + backward-weights with oneDNN f32 (nhwc, our
// layout) at batch 100. mode pool: the batch is cut into FIXED sub-batches of
// 10 samples, each a single-threaded oneDNN call on our pool; the weight
// gradients of the sub-batches are added in sub-batch order (bit-identical for
// any thread count). mode omp: one oneDNN call on the whole batch with N
// OpenMP threads (libgomp, as Debian builds oneDNN).
double conv2_dnnl_epoch(ThreadPool* pool, int threads, int steps) {
  const ConvShape s{16, 14, 14, 32, 5, 5, 2, 1};
  const Index m = 100, sub = 10, chunks = m / sub, in = 16 * 196, out = 32 * 196, d = 400;
  const MatF X = random_mat(16, m * 196, 1), K = random_mat(32, d, 2), b = random_mat(32, 1, 3),
             D = random_mat(32, m * 196, 4);
  MatF G(32, m * 196), dX(16, m * 196), dK(32, d), db(32, 1);
  std::vector<MatF> dKp(static_cast<std::size_t>(chunks), MatF(32, d)), dbp(static_cast<std::size_t>(chunks), MatF(32, 1));
  std::vector<std::unique_ptr<DnnlConv>> convs;
  if (pool) {
    omp_set_num_threads(1);
    for (Index c = 0; c < chunks; ++c) convs.push_back(std::make_unique<DnnlConv>(s, sub, DnnlType::F32, DnnlLayout::Nhwc));
  } else {
    omp_set_num_threads(threads);
    convs.push_back(std::make_unique<DnnlConv>(s, m, DnnlType::F32, DnnlLayout::Nhwc));
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int st = 0; st < steps; ++st) {
    if (pool) {
      pool->run(chunks, [&](std::int64_t c) {
        omp_set_num_threads(1);  // this thread's OpenMP teams: none
        DnnlConv& cv = *convs[static_cast<std::size_t>(c)];
        cv.in_src(X.data() + c * sub * in);
        cv.in_weights(K.data(), b.data());
        cv.forward(G.data() + c * sub * out);
        cv.in_diff_dst(D.data() + c * sub * out);
        cv.backward_data(dX.data() + c * sub * in);
        cv.backward_weights(dKp[static_cast<std::size_t>(c)].data(), dbp[static_cast<std::size_t>(c)].data());
        cv.out_diff_weights();
      });
      dK = dKp[0];
      db = dbp[0];
      for (Index c = 1; c < chunks; ++c) {
        dK += dKp[static_cast<std::size_t>(c)];
        db += dbp[static_cast<std::size_t>(c)];
      }
    } else {
      DnnlConv& cv = *convs[0];
      cv.in_src(X.data());
      cv.in_weights(K.data(), b.data());
      cv.forward(G.data());
      cv.in_diff_dst(D.data());
      cv.backward_data(dX.data());
      cv.backward_weights(dK.data(), db.data());
      cv.out_diff_weights();
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// How long a sleeping worker takes to join: run() with 2 tasks that each
// busy-work `task_us`; prints how often the worker ran one of them, and the
// mean wall time of run() (ideal: task_us when it joins at once).
void wake_latency(ThreadPool& pool, int repeats) {
  using Clock = std::chrono::steady_clock;
  for (double task_us : {20.0, 100.0, 400.0}) {
    int joined = 0;
    double total = 0;
    for (int r = 0; r < repeats; ++r) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the worker fall asleep
      const auto caller = std::this_thread::get_id();
      std::atomic<int> others{0};
      const auto t0 = Clock::now();
      pool.run(2, [&](std::int64_t) {
        if (std::this_thread::get_id() != caller) others.fetch_add(1);
        const auto until = Clock::now() + std::chrono::duration<double, std::micro>(task_us);
        while (Clock::now() < until) {
        }
      });
      total += std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      joined += others.load() > 0;
    }
    std::printf("wake task_us=%.0f worker_joined=%.2f mean_run_us=%.1f\n", task_us, double(joined) / repeats,
                total / repeats);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = arg(argc, argv, "--mode", "pool"), what = arg(argc, argv, "--what", "mlp");
  const int threads = std::stoi(arg(argc, argv, "--threads", "1"));
  const int steps = std::stoi(arg(argc, argv, "--steps", what == "mlp" ? "600" : "60"));
  const Index batch = std::stol(arg(argc, argv, "--batch", "100"));
  const double spin_us = std::stod(arg(argc, argv, "--spin-us", "5"));
  std::optional<ThreadPool> pool;
  if (mode == "pool") {
    Eigen::setNbThreads(1);
    pool.emplace(threads, std::chrono::nanoseconds(static_cast<long>(spin_us * 1000)));
  } else {
    Eigen::setNbThreads(threads);
  }
  const Gemm gemm{pool ? &*pool : nullptr};
  if (what == "wake") {
    if (!pool) return 2;
    wake_latency(*pool, 200);
    return 0;
  }
  const double s = what == "mlp"     ? mlp_epoch(gemm, batch, steps)
                   : what == "conv2" ? conv2_epoch(gemm, steps)
                                     : conv2_dnnl_epoch(pool ? &*pool : nullptr, threads, steps);
  std::printf("mode=%s threads=%d what=%s batch=%ld steps=%d seconds=%.4f\n", mode.c_str(), threads, what.c_str(),
              (long)batch, steps, s);
  return 0;
}
