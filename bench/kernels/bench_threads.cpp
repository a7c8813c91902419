// Question 4 of REPORT.md: threads that never spin. Times an epoch's worth of
// training-step GEMMs with
//   --mode eigen   Eigen's own OpenMP-parallel GEMM (Eigen::setNbThreads(N)),
//   --mode pool    parallel_gemm on the blocking ThreadPool (N threads),
// for --what mlp    one SGD step of 784-500-10 at batch --batch (default 100):
//                   W1·F, W2·F1, δ2·F1ᵀ, W2ᵀ·δ2, δ1·Fᵀ with the element-wise
//                   work between them (bias, ReLU, softmax, update), or
//     --what conv2  conv2's three GEMMs (32×400 · 400×19600, δ·Pᵀ, K̄ᵀ·δ).
// Prints wall seconds for --steps steps (default 600: one epoch at batch 100).
// run_threads.sh runs it idle and with a busy loop on the other core.
//
//   bench_threads --mode pool|eigen --threads N --what mlp|conv2 [--steps S] [--spin-us U]
#include <omp.h>

#include <chrono>
#include <optional>
#include <cstdio>

#include "bench_util.hpp"
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
  const double s = what == "mlp" ? mlp_epoch(gemm, batch, steps) : conv2_epoch(gemm, steps);
  std::printf("mode=%s threads=%d what=%s batch=%ld steps=%d seconds=%.4f\n", mode.c_str(), threads, what.c_str(),
              (long)batch, steps, s);
  return 0;
}
