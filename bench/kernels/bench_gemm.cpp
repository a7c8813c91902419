// Question 3 and 5 of REPORT.md: dense GEMMs of the 784-500-10 MLP step at
// batch 100 and 1000 and the sample-space m×m products, one thread, for
// Eigen f32, oneDNN matmul f32 and bf16 (bf16 inputs, f32 accumulation and
// output; the f32→bf16 conversion of the inputs timed apart), libxsmm (JIT
// kernel for the whole shape, where it makes one) and OpenBLAS sgemm.
// Then (--accuracy) the relative error of one SGD step of the MLP computed
// with bf16-input GEMMs against f32, both against a double reference.
//
//   bench_gemm [--accuracy-only] [--data MNIST_DIR]
// Single-threaded; times are the process's CPU time (bench_util.hpp).
#include <libxsmm.h>
#include <omp.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include "bench_util.hpp"
#include "dnnl_ops.hpp"

extern "C" {
void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc);
void openblas_set_num_threads(int);
char* openblas_get_corename(void);
}

using namespace sibp::kernels;
using namespace sibp::kernels::bench;
using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;

namespace {

struct Shape {
  const char* name;
  Index M, N, K;
  bool ta, tb;  // op(A) = Aᵀ, op(B) = Bᵀ
};

void bench_shape(const Shape& s) {
  const MatF A = s.ta ? random_mat(s.K, s.M, 1) : random_mat(s.M, s.K, 1);
  const MatF B = s.tb ? random_mat(s.N, s.K, 2) : random_mat(s.K, s.N, 2);
  MatF C(s.M, s.N);
  const double flops = 2.0 * s.M * s.N * s.K;
  auto line = [&](const char* backend, double sec, const std::string& note = "") {
    std::printf("shape=%s M=%ld N=%ld K=%ld backend=%s us=%.1f gflops=%.1f%s%s\n", s.name, (long)s.M, (long)s.N,
                (long)s.K, backend, sec * 1e6, flops / sec / 1e9, note.empty() ? "" : " note=", note.c_str());
    std::fflush(stdout);
  };
  line("eigen-f32", median_seconds([&] {
         if (!s.ta && !s.tb) C.noalias() = A * B;
         else if (!s.ta) C.noalias() = A * B.transpose();
         else if (!s.tb) C.noalias() = A.transpose() * B;
         else C.noalias() = A.transpose() * B.transpose();
       }));
  using DOp = DnnlMatmul::Op;
  for (DnnlType t : {DnnlType::F32, DnnlType::BF16}) {
    DnnlMatmul mm(s.M, s.N, s.K, s.ta ? DOp::T : DOp::N, s.tb ? DOp::T : DOp::N, t);
    mm.in_a(A.data());
    mm.in_b(B.data());
    line(t == DnnlType::F32 ? "dnnl-f32" : "dnnl-bf16", median_seconds([&] { mm.run(C.data()); }), mm.impl_info());
    if (t == DnnlType::BF16)
      line("dnnl-bf16-convert-inputs", median_seconds([&] {
             mm.in_a(A.data());
             mm.in_b(B.data());
           }));
  }
  {
    const int m = (int)s.M, n = (int)s.N, k = (int)s.K, lda = (int)A.rows(), ldb = (int)B.rows(), ldc = m;
    const float one = 1, zero = 0;
    const char ta = s.ta ? 'T' : 'N', tb = s.tb ? 'T' : 'N';
    line("openblas", median_seconds([&] {
           sgemm_(&ta, &tb, &m, &n, &k, &one, A.data(), &lda, B.data(), &ldb, &zero, C.data(), &ldc);
         }),
         openblas_get_corename());
    const int flags = (s.ta ? LIBXSMM_GEMM_FLAG_TRANS_A : 0) | (s.tb ? LIBXSMM_GEMM_FLAG_TRANS_B : 0);
    const libxsmm_blasint xm = m, xn = n, xk = k, xlda = lda, xldb = ldb, xldc = ldc;
    const libxsmm_smmfunction f = libxsmm_smmdispatch(xm, xn, xk, &xlda, &xldb, &xldc, &one, &zero, &flags, nullptr);
    if (f) {
      line("libxsmm-jit", median_seconds([&] { f(A.data(), B.data(), C.data()); }));
      MatF Ce = MatF::Zero(s.M, s.N);
      f(A.data(), B.data(), Ce.data());
      MatF Cr(s.M, s.N);
      sgemm_(&ta, &tb, &m, &n, &k, &one, A.data(), &lda, B.data(), &ldb, &zero, Cr.data(), &ldc);
      if ((Ce - Cr).norm() > 1e-4 * Cr.norm()) std::printf("  (libxsmm result differs from sgemm!)\n");
    } else {
      std::printf("shape=%s backend=libxsmm-jit n/a (no JIT kernel for this shape/transpose)\n", s.name);
    }
  }
}

// ---- question 5 ---------------------------------------------------------------

// Round to bf16 (nearest even), kept in a float: what oneDNN's f32→bf16
// reorder does to a GEMM input.
float to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  u &= 0xFFFF0000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}
MatF bf16(const MatF& A) { return A.unaryExpr([](float x) { return to_bf16(x); }); }

std::optional<MatF> load_mnist_batch(const std::string& dir, Index m) {
  gzFile f = gzopen((dir + "/train-images-idx3-ubyte").c_str(), "rb");
  if (!f) f = gzopen((dir + "/train-images-idx3-ubyte.gz").c_str(), "rb");
  if (!f) return std::nullopt;
  unsigned char header[16];
  if (gzread(f, header, 16) != 16) return std::nullopt;
  std::vector<unsigned char> px(static_cast<std::size_t>(784 * m));
  const int got = gzread(f, px.data(), static_cast<unsigned>(px.size()));
  gzclose(f);
  if (got != static_cast<int>(px.size())) return std::nullopt;
  MatF X(784, m);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = px[static_cast<std::size_t>(i)] / 255.f;
  return X;
}

// One SGD step of 784-500-10 (ReLU, softmax CE mean, init N(0, 0.05²)),
// with every GEMM's inputs rounded by `round` (identity for f32), in
// Scalar arithmetic. Returns the products and the weight gradients.
template <class M, class Round>
std::vector<M> mlp_step(const M& X, const std::vector<int>& y, const M& W1, const M& b1, const M& W2, const M& b2,
                        Round round) {
  const Index m = X.cols();
  M G1 = round(W1) * round(X);
  G1.colwise() += b1.col(0);
  const M F1 = G1.cwiseMax(0);
  M G2 = round(W2) * round(F1);
  G2.colwise() += b2.col(0);
  M D2(10, m);
  for (Index j = 0; j < m; ++j) {
    const auto g = G2.col(j);
    D2.col(j) = (g.array() - g.maxCoeff()).exp();
    D2.col(j) /= D2.col(j).sum();
    D2(y[static_cast<std::size_t>(j)], j) -= 1;
  }
  D2 /= static_cast<typename M::Scalar>(m);
  const M dW2 = round(D2) * round(F1).transpose();
  M D1 = round(W2).transpose() * round(D2);
  D1 = (G1.array() > 0).select(D1, 0);
  const M dW1 = round(D1) * round(X).transpose();
  return {G1, G2, dW2, D1, dW1};
}

void accuracy(const std::string& data_dir) {
  const Index m = 100;
  std::optional<MatF> Xo = load_mnist_batch(data_dir, m);
  const bool real = Xo.has_value();
  MatF X = real ? *Xo : random_mat(784, m, 30).cwiseAbs().cwiseMin(1.f);
  std::vector<int> y(static_cast<std::size_t>(m));
  for (Index j = 0; j < m; ++j) y[static_cast<std::size_t>(j)] = static_cast<int>((j * 7) % 10);
  const MatF W1 = random_mat(500, 784, 31) * 0.05f, b1 = random_mat(500, 1, 32) * 0.05f,
             W2 = random_mat(10, 500, 33) * 0.05f, b2 = random_mat(10, 1, 34) * 0.05f;
  const auto id = [](const auto& A) { return A; };
  const auto ref = mlp_step<MatD>(X.cast<double>(), y, W1.cast<double>(), b1.cast<double>(), W2.cast<double>(),
                                  b2.cast<double>(), id);
  const auto f32 = mlp_step<MatF>(X, y, W1, b1, W2, b2, id);
  const auto b16 = mlp_step<MatF>(X, y, W1, b1, W2, b2, [](const MatF& A) { return bf16(A); });
  const char* names[] = {"G1=W1*X", "G2=W2*F1", "dW2=D2*F1^T", "D1=relu'(W2^T*D2)", "dW1=D1*X^T"};
  std::printf("accuracy data=%s batch=%ld (relative Frobenius error against a double-precision step)\n",
              real ? "mnist-first-100" : "random", (long)m);
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double e32 = (f32[i].cast<double>() - ref[i]).norm() / ref[i].norm();
    const double e16 = (b16[i].cast<double>() - ref[i]).norm() / ref[i].norm();
    // cosine between the bf16 and exact gradients: does the direction survive?
    const double cos16 = (b16[i].cast<double>().array() * ref[i].array()).sum() /
                         (b16[i].cast<double>().norm() * ref[i].norm());
    std::printf("accuracy quantity=%s f32_rel_err=%.2e bf16_rel_err=%.2e bf16_cosine=%.6f\n", names[i], e32, e16,
                cos16);
  }
  // The same first GEMM through oneDNN's bf16 matmul (not just emulated rounding).
  DnnlMatmul mm(500, m, 784, DnnlMatmul::Op::N, DnnlMatmul::Op::N, DnnlType::BF16);
  mm.in_a(W1.data());
  mm.in_b(X.data());
  MatF G(500, m);
  mm.run(G.data());
  G.colwise() += b1.col(0);
  std::printf("accuracy quantity=G1(oneDNN-bf16-matmul) bf16_rel_err=%.2e\n", (G.cast<double>() - ref[0]).norm() / ref[0].norm());
}

}  // namespace

int main(int argc, char** argv) {
  time_base() = TimeBase::ProcessCpu;
  omp_set_num_threads(1);
  Eigen::setNbThreads(1);
  openblas_set_num_threads(1);
  libxsmm_init();
  const std::string data = arg(argc, argv, "--data", "data/mnist");
  if (!flag(argc, argv, "--accuracy-only")) {
    for (Index m : {100, 1000}) {
      const std::string b = std::to_string(m);
      // The MLP step's products (ALGORITHMS.md's W, F, δ), and the m×m ones.
      std::vector<std::pair<std::string, Shape>> shapes = {
          {"W1*F/" + b, {"", 500, m, 784, false, false}},    {"W2*F1/" + b, {"", 10, m, 500, false, false}},
          {"d1*F^T/" + b, {"", 500, 784, m, false, true}},   {"d2*F1^T/" + b, {"", 10, 500, m, false, true}},
          {"W2^T*d2/" + b, {"", 500, m, 10, true, false}},   {"W1^T*d1/" + b, {"", 784, m, 500, true, false}},
          {"Z500*mxm/" + b, {"", 500, m, m, false, false}},  {"Z10*mxm/" + b, {"", 10, m, m, false, false}}};
      for (auto& [name, s] : shapes) {
        s.name = name.c_str();
        bench_shape(s);
      }
    }
  }
  accuracy(data);
  libxsmm_finalize();
  return 0;
}
