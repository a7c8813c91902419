// Correctness of the kernel prototypes against naive implementations:
// ThreadPool, parallel_gemm (and its bit-identity across thread counts),
// im2col/col2im/max-pool in sibp's layout, and the oneDNN wrappers.
#include <gtest/gtest.h>
#include <omp.h>

#include <Eigen/Core>
#include <atomic>
#include <memory>
#include <random>
#include <vector>

#include "conv_layout.hpp"
#include "dnnl_ops.hpp"
#include "parallel_gemm.hpp"
#include "sibp_conv_op.hpp"
#include "thread_pool.hpp"

namespace sibp::kernels {
namespace {

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;
using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;

MatF random_mat(Index r, Index c, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  MatF A(r, c);
  for (Index i = 0; i < A.size(); ++i) A.data()[i] = nd(gen);
  return A;
}

double rel_err(const MatF& a, const MatD& ref) { return (a.cast<double>() - ref).norm() / ref.norm(); }

// ---- ThreadPool ------------------------------------------------------------

TEST(ThreadPool, RunsEveryTaskExactlyOnce) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (std::int64_t tasks : {0, 1, 2, 7, 100, 1000}) {
      for (int rep = 0; rep < 50; ++rep) {
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(tasks));
        pool.run(tasks, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); });
        for (std::int64_t i = 0; i < tasks; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1);
      }
    }
  }
}

TEST(ThreadPool, ManyShortJobsWithSleepingWorkers) {
  // spin 0: every wait goes through the condition variables.
  ThreadPool pool(3, std::chrono::nanoseconds(0));
  std::atomic<long> sum{0};
  for (int job = 0; job < 20000; ++job) pool.run(3, [&](std::int64_t i) { sum.fetch_add(i + 1); });
  EXPECT_EQ(sum.load(), 20000L * 6);
}

TEST(ThreadPool, RejectsBadArguments) {
  EXPECT_THROW(ThreadPool(0), std::invalid_argument);
  ThreadPool pool(2);
  EXPECT_THROW(pool.run(ThreadPool::kMaxTasks + 1, [](std::int64_t) {}), std::invalid_argument);
}

// ---- parallel_gemm ---------------------------------------------------------

// parallel_gemm requires Eigen's own threading off.
const auto* const kEigenSingleThreaded = ::testing::AddGlobalTestEnvironment([] {
  struct Env : ::testing::Environment {
    void SetUp() override { Eigen::setNbThreads(1); }
  };
  return new Env;
}());

struct GemmCase {
  Index M, N, K;
};

TEST(ParallelGemm, MatchesNaiveForEveryTransposeAndBeta) {
  ThreadPool pool(2);
  for (GemmCase c : {GemmCase{500, 100, 784}, GemmCase{10, 100, 500}, GemmCase{784, 100, 500},
                     GemmCase{32, 1960, 400}, GemmCase{3, 5, 7}, GemmCase{97, 301, 33}}) {
    for (Op oa : {Op::N, Op::T})
      for (Op ob : {Op::N, Op::T}) {
        const MatF A = oa == Op::N ? random_mat(c.M, c.K, 1) : random_mat(c.K, c.M, 1);
        const MatF B = ob == Op::N ? random_mat(c.K, c.N, 2) : random_mat(c.N, c.K, 2);
        const MatD Ad = oa == Op::N ? MatD(A.cast<double>()) : MatD(A.cast<double>().transpose());
        const MatD Bd = ob == Op::N ? MatD(B.cast<double>()) : MatD(B.cast<double>().transpose());
        const MatF C0 = random_mat(c.M, c.N, 3);
        MatF C = C0;
        parallel_gemm(&pool, A, oa, B, ob, C);
        // float accumulation over K terms: relative error ~ sqrt(K)·2^-24
        EXPECT_LT(rel_err(C, Ad * Bd), 1e-5) << c.M << "x" << c.N << "x" << c.K;
        C = C0;
        parallel_gemm(&pool, A, oa, B, ob, C, 0.5f);
        EXPECT_LT(rel_err(C, Ad * Bd + 0.5 * C0.cast<double>()), 1e-5);
      }
  }
}

TEST(ParallelGemm, BitIdenticalForAnyThreadCount) {
  for (GemmCase c : {GemmCase{500, 100, 784}, GemmCase{500, 1000, 784}, GemmCase{32, 19600, 400},
                     GemmCase{400, 19600, 32}, GemmCase{32, 400, 19600}}) {
    const MatF A = random_mat(c.M, c.K, 4), B = random_mat(c.K, c.N, 5);
    MatF ref(c.M, c.N);
    parallel_gemm(nullptr, A, Op::N, B, Op::N, ref);
    EXPECT_GT(gemm_chunks(c.M, c.N, c.K).count, 1) << "the case should be cut in chunks";
    for (int threads : {1, 2, 3, 4}) {
      ThreadPool pool(threads);
      for (int rep = 0; rep < 3; ++rep) {
        MatF C(c.M, c.N);
        parallel_gemm(&pool, A, Op::N, B, Op::N, C);
        ASSERT_EQ(0, std::memcmp(C.data(), ref.data(), sizeof(float) * static_cast<std::size_t>(C.size())))
            << c.M << "x" << c.N << "x" << c.K << " threads " << threads;
      }
    }
  }
}

TEST(ParallelGemm, RejectsMismatchedShapesAndEigenThreads) {
  const MatF A(3, 4), B(5, 6), A2 = MatF::Ones(3, 5);
  MatF C(3, 6);
  EXPECT_THROW(parallel_gemm(nullptr, A, Op::N, B, Op::N, C), std::invalid_argument);
  ThreadPool pool(2);
  Eigen::setNbThreads(2);
  EXPECT_THROW(parallel_gemm(&pool, A2, Op::N, B, Op::N, C), std::logic_error);
  Eigen::setNbThreads(1);
}

// ---- convolution layout ----------------------------------------------------

// Naive direct convolution in sibp's layout, in double. K̄ column-major
// (c_out, c_in·kh·kw) with PyTorch's (ci, ky, kx) column order.
MatD naive_conv(const ConvShape& s, Index m, const MatF& X, const MatF& K, const MatF& b) {
  const Index ho = s.h_out(), wo = s.w_out();
  MatD G(s.c_out, m * ho * wo);
  for (Index n = 0; n < m; ++n)
    for (Index oy = 0; oy < ho; ++oy)
      for (Index ox = 0; ox < wo; ++ox)
        for (Index co = 0; co < s.c_out; ++co) {
          double acc = b(co);
          for (Index ci = 0; ci < s.c_in; ++ci)
            for (Index ky = 0; ky < s.kh; ++ky)
              for (Index kx = 0; kx < s.kw; ++kx) {
                const Index iy = oy * s.stride + ky - s.pad, ix = ox * s.stride + kx - s.pad;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                acc += double(K(co, (ci * s.kh + ky) * s.kw + kx)) * X(ci, (n * s.h + iy) * s.w + ix);
              }
          G(co, (n * ho + oy) * wo + ox) = acc;
        }
  return G;
}

const ConvShape kConv1{1, 28, 28, 16, 5, 5, 2, 1};
const ConvShape kConv2{16, 14, 14, 32, 5, 5, 2, 1};
const ConvShape kOdd{3, 7, 9, 4, 3, 2, 1, 2};  // stride 2, non-square kernel

TEST(Im2col, KernelTimesPatchesIsTheConvolution) {
  ThreadPool pool(2);
  for (const ConvShape& s : {kConv1, kConv2, kOdd})
    for (PatchOrder order : {PatchOrder::ChannelMajor, PatchOrder::ChannelMinor}) {
      const Index m = 3, n = m * s.h_out() * s.w_out();
      const MatF X = random_mat(s.c_in, m * s.h * s.w, 6), K = random_mat(s.c_out, s.patch_rows(), 7),
                 b = random_mat(s.c_out, 1, 8);
      MatF P(s.patch_rows(), n), Kp(s.c_out, s.patch_rows());
      im2col(s, m, X.data(), P.data(), order, &pool);
      if (order == PatchOrder::ChannelMinor) permute_kernel_columns(s, K.data(), Kp.data());
      else Kp = K;
      MatF G = Kp * P;
      G.colwise() += b.col(0);
      EXPECT_LT(rel_err(G, naive_conv(s, m, X, K, b)), 1e-5);
      if (order == PatchOrder::ChannelMinor) {
        MatF back(s.c_out, s.patch_rows());
        permute_kernel_columns(s, Kp.data(), back.data(), /*inverse=*/true);
        EXPECT_EQ(back, K);
      }
    }
}

TEST(ConvCin1, DirectMatchesNaiveAndIsThreadCountInvariant) {
  for (const ConvShape& s : {kConv1, ConvShape{1, 9, 7, 32, 3, 3, 1, 1}, ConvShape{1, 9, 8, 5, 3, 2, 1, 2}}) {
    const Index m = 9, n = m * s.h_out() * s.w_out();
    const MatF X = random_mat(1, m * s.h * s.w, 21), K = random_mat(s.c_out, s.patch_rows(), 22),
               b = random_mat(s.c_out, 1, 23), D = random_mat(s.c_out, n, 24);
    MatF G(s.c_out, n), P(s.patch_rows(), n);
    conv_cin1_forward(s, m, X.data(), K.data(), b.data(), G.data());
    EXPECT_LT(rel_err(G, naive_conv(s, m, X, K, b)), 1e-5);
    im2col(s, m, X.data(), P.data(), PatchOrder::ChannelMajor);
    MatF dK(s.c_out, s.patch_rows()), db(s.c_out, 1);
    conv_cin1_backward_weights(s, m, X.data(), D.data(), dK.data(), db.data());
    EXPECT_LT(rel_err(dK, D.cast<double>() * P.cast<double>().transpose()), 1e-5);
    EXPECT_LT(rel_err(db, D.cast<double>().rowwise().sum()), 1e-5);
    for (int threads : {2, 3}) {
      ThreadPool pool(threads);
      MatF G2(s.c_out, n), dK2(s.c_out, s.patch_rows()), db2(s.c_out, 1);
      conv_cin1_forward(s, m, X.data(), K.data(), b.data(), G2.data(), &pool);
      conv_cin1_backward_weights(s, m, X.data(), D.data(), dK2.data(), db2.data(), &pool);
      EXPECT_EQ(G2, G);
      EXPECT_EQ(dK2, dK);
      EXPECT_EQ(db2, db);
    }
  }
  const float* none = nullptr;
  EXPECT_THROW(conv_cin1_forward(kConv2, 1, none, none, none, static_cast<float*>(nullptr)), std::invalid_argument);
}

TEST(Col2im, IsTheAdjointOfIm2col) {
  for (const ConvShape& s : {kConv1, kConv2, kOdd})
    for (PatchOrder order : {PatchOrder::ChannelMajor, PatchOrder::ChannelMinor}) {
      const Index m = 2, n = m * s.h_out() * s.w_out();
      const MatF X = random_mat(s.c_in, m * s.h * s.w, 9), Y = random_mat(s.patch_rows(), n, 10);
      MatF P(s.patch_rows(), n), dX(s.c_in, m * s.h * s.w);
      im2col(s, m, X.data(), P.data(), order);
      col2im(s, m, Y.data(), dX.data(), order);
      // <im2col(X), Y> = <X, col2im(Y)>
      const double lhs = (P.cast<double>().array() * Y.cast<double>().array()).sum();
      const double rhs = (X.cast<double>().array() * dX.cast<double>().array()).sum();
      EXPECT_NEAR(lhs, rhs, 1e-4 * std::abs(lhs) + 1e-3);
    }
}

TEST(MaxPool2x2, ForwardAndBackwardMatchNaive) {
  ThreadPool pool(2);
  const Index C = 16, m = 3, H = 28, W = 28;
  MatF X = random_mat(C, m * H * W, 11);
  X(0, 0) = X(0, 1);  // a tie: the first wins
  const MatF dY = random_mat(C, m * 14 * 14, 12);
  MatF Y(C, m * 14 * 14), dX(C, m * H * W);
  std::vector<std::uint8_t> arg(static_cast<std::size_t>(Y.size()));
  maxpool2x2_forward(C, m, H, W, X.data(), Y.data(), arg.data(), &pool);
  maxpool2x2_backward(C, m, H, W, dY.data(), arg.data(), dX.data(), &pool);
  MatF dXref = MatF::Zero(C, m * H * W);
  for (Index n = 0; n < m; ++n)
    for (Index oy = 0; oy < 14; ++oy)
      for (Index ox = 0; ox < 14; ++ox)
        for (Index c = 0; c < C; ++c) {
          Index best = -1;
          for (Index dy = 0; dy < 2; ++dy)
            for (Index dx = 0; dx < 2; ++dx) {
              const Index p = (n * H + 2 * oy + dy) * W + 2 * ox + dx;
              if (best < 0 || X(c, p) > X(c, best)) best = p;
            }
          const Index o = (n * 14 + oy) * 14 + ox;
          ASSERT_EQ(Y(c, o), X(c, best));
          dXref(c, best) = dY(c, o);
        }
  EXPECT_EQ(dX, dXref);
}

// ---- oneDNN wrappers -------------------------------------------------------

void check_dnnl_conv(const ConvShape& s, DnnlType type, DnnlLayout layout, double tol) {
  const Index m = 4, n = m * s.h_out() * s.w_out();
  const MatF X = random_mat(s.c_in, m * s.h * s.w, 13), K = random_mat(s.c_out, s.patch_rows(), 14),
             b = random_mat(s.c_out, 1, 15), dG = random_mat(s.c_out, n, 16);
  DnnlConv conv(s, m, type, layout);
  conv.in_src(X.data());
  conv.in_weights(K.data(), b.data());
  MatF G(s.c_out, n);
  conv.forward(G.data());
  conv.out_dst();
  EXPECT_LT(rel_err(G, naive_conv(s, m, X, K, b)), tol) << conv.impl_info();
  // References from im2col: dX = col2im(K̄ᵀ·dG), dK̄ = dG·Pᵀ, db = dG·1.
  MatF P(s.patch_rows(), n), dXref(s.c_in, m * s.h * s.w);
  im2col(s, m, X.data(), P.data(), PatchOrder::ChannelMajor);
  const MatD dKref = dG.cast<double>() * P.cast<double>().transpose();
  const MatF dP = (K.cast<double>().transpose() * dG.cast<double>()).cast<float>();
  col2im(s, m, dP.data(), dXref.data(), PatchOrder::ChannelMajor);
  conv.in_diff_dst(dG.data());
  MatF dX(s.c_in, m * s.h * s.w), dK(s.c_out, s.patch_rows()), db(s.c_out, 1);
  conv.backward_data(dX.data());
  conv.out_diff_src();
  conv.backward_weights(dK.data(), db.data());
  conv.out_diff_weights();
  EXPECT_LT(rel_err(dX, dXref.cast<double>()), tol) << conv.impl_info();
  EXPECT_LT(rel_err(dK, dKref), tol) << conv.impl_info();
  EXPECT_LT(rel_err(db, dG.cast<double>().rowwise().sum()), tol) << conv.impl_info();
}

TEST(DnnlConv, F32MatchesNaive) {
  for (const ConvShape& s : {kConv1, kConv2})
    for (DnnlLayout l : {DnnlLayout::Any, DnnlLayout::Nhwc}) check_dnnl_conv(s, DnnlType::F32, l, 1e-5);
}

TEST(DnnlConv, Bf16IsCloseToNaive) {
  // bf16 inputs carry 8 significant bits (relative rounding 2^-9 each); with
  // f32 accumulation the result's relative error stays around 2^-8.
  for (const ConvShape& s : {kConv1, kConv2})
    for (DnnlLayout l : {DnnlLayout::Any, DnnlLayout::Nhwc}) check_dnnl_conv(s, DnnlType::BF16, l, 1e-2);
}

TEST(DnnlConv, FixedSubBatchesOnThePoolMatchTheWholeBatch) {
  // The busy-core-safe way to thread oneDNN (REPORT.md, question 4): one
  // single-threaded primitive per fixed sub-batch, weight gradients summed in
  // sub-batch order, so the result is the same for any thread count. The
  // primitives are created and run with one OpenMP thread, as the pool tasks
  // must run them (else every worker would start an OpenMP team of its own).
  const int omp_before = omp_get_max_threads();
  omp_set_num_threads(1);
  const ConvShape& s = kConv2;
  const Index m = 6, sub = 2, chunks = m / sub, in = s.c_in * s.h * s.w, out = s.c_out * s.h_out() * s.w_out();
  const MatF X = random_mat(s.c_in, m * s.h * s.w, 25), K = random_mat(s.c_out, s.patch_rows(), 26),
             b = random_mat(s.c_out, 1, 27), dG = random_mat(s.c_out, m * s.h_out() * s.w_out(), 28);
  DnnlConv whole(s, m, DnnlType::F32, DnnlLayout::Nhwc);
  MatF G(s.c_out, m * s.h_out() * s.w_out()), dX(s.c_in, m * s.h * s.w), dK(s.c_out, s.patch_rows()), db(s.c_out, 1);
  whole.in_src(X.data());
  whole.in_weights(K.data(), b.data());
  whole.forward(G.data());
  whole.in_diff_dst(dG.data());
  whole.backward_data(dX.data());
  whole.backward_weights(dK.data(), db.data());
  whole.out_diff_weights();
  std::vector<MatF> first;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::unique_ptr<DnnlConv>> convs;
    for (Index c = 0; c < chunks; ++c) convs.push_back(std::make_unique<DnnlConv>(s, sub, DnnlType::F32, DnnlLayout::Nhwc));
    MatF G2(G.rows(), G.cols()), dX2(dX.rows(), dX.cols());
    std::vector<MatF> dKp(chunks, MatF(s.c_out, s.patch_rows())), dbp(chunks, MatF(s.c_out, 1));
    pool.run(chunks, [&](std::int64_t c) {
      omp_set_num_threads(1);  // one thread per sub-batch: no OpenMP team inside a pool task
      DnnlConv& cv = *convs[static_cast<std::size_t>(c)];
      cv.in_src(X.data() + c * sub * in);
      cv.in_weights(K.data(), b.data());
      cv.forward(G2.data() + c * sub * out);
      cv.in_diff_dst(dG.data() + c * sub * out);
      cv.backward_data(dX2.data() + c * sub * in);
      cv.backward_weights(dKp[static_cast<std::size_t>(c)].data(), dbp[static_cast<std::size_t>(c)].data());
      cv.out_diff_weights();
    });
    MatF dK2 = dKp[0];
    for (Index c = 1; c < chunks; ++c) dK2 += dKp[static_cast<std::size_t>(c)];
    EXPECT_LT(rel_err(G2, G.cast<double>()), 1e-6);
    EXPECT_LT(rel_err(dX2, dX.cast<double>()), 1e-6);
    EXPECT_LT(rel_err(dK2, dK.cast<double>()), 1e-5);
    auto same = [](const MatF& a, const MatF& b) {
      return a.size() == b.size() &&
             std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
    };
    if (threads == 1) {
      first = {dK2, G2, dX2};
    } else {
      EXPECT_TRUE(same(dK2, first[0])) << "dK, threads " << threads;
      EXPECT_TRUE(same(G2, first[1])) << "G, threads " << threads;
      EXPECT_TRUE(same(dX2, first[2])) << "dX, threads " << threads;
    }
  }
  omp_set_num_threads(omp_before);
}

TEST(SibpConvOperator, OneDnnMatchesExplicitPatchMatrix) {
  const ConvShape& s = kConv2;
  const Index m = 3, d = s.patch_rows(), n = m * s.h_out() * s.w_out();
  const MatF Xin = random_mat(s.c_in, m * s.h * s.w, 29), X = random_mat(s.c_out, d + 1, 30),
             S = random_mat(s.c_out, n, 31).cwiseAbs();
  MatF P(d, n);
  im2col(s, m, Xin.data(), P.data(), PatchOrder::ChannelMajor);
  MatF Pt(d + 1, n);
  Pt.topRows(d) = P;
  Pt.row(d).setOnes();
  MatF Y(s.c_out, n), Zref(s.c_out, d + 1), Z(s.c_out, d + 1), Xk(s.c_out, d), Xb(s.c_out, 1), Zk(s.c_out, d),
      Zb(s.c_out, 1);
  ThreadPool pool(2);
  sibp_conv_operator_explicit(&pool, X, Pt, S, 0.1f, Y, Zref);
  const MatD exact = ((X.cast<double>() * Pt.cast<double>()).array() * S.cast<double>().array()).matrix() *
                         Pt.cast<double>().transpose() + 0.1 * X.cast<double>();
  EXPECT_LT(rel_err(Zref, exact), 1e-5);
  for (DnnlType t : {DnnlType::F32, DnnlType::BF16}) {
    DnnlConv conv(s, m, t, DnnlLayout::Any);
    conv.in_src(Xin.data());
    sibp_conv_operator_dnnl(conv, X, S, 0.1f, Y, Xk, Xb, Zk, Zb, Z);
    // bf16: inputs rounded to 8 bits twice (X·P̃, then (Y⊙S)·P̃ᵀ)
    EXPECT_LT(rel_err(Z, exact), t == DnnlType::F32 ? 1e-5 : 2e-2);
  }
}

TEST(DnnlMaxPool, MatchesOurs) {
  const Index C = 16, m = 2, H = 28, W = 28;
  const MatF X = random_mat(C, m * H * W, 17), dY = random_mat(C, m * 14 * 14, 18);
  MatF Y(C, m * 14 * 14), dX(C, m * H * W);
  std::vector<std::uint8_t> arg(static_cast<std::size_t>(Y.size()));
  maxpool2x2_forward(C, m, H, W, X.data(), Y.data(), arg.data());
  maxpool2x2_backward(C, m, H, W, dY.data(), arg.data(), dX.data());
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::desc nhwc({m, C, H, W}, dnnl::memory::data_type::f32, tag::nhwc);
  DnnlMaxPool pool(C, m, H, W, nhwc);
  dnnl::memory src(nhwc, cpu_engine(), const_cast<float*>(X.data()));
  pool.forward(src);
  MatF Yd(C, m * 14 * 14), dXd(C, m * H * W);
  dnnl::memory yu({{m, C, 14, 14}, dnnl::memory::data_type::f32, tag::nhwc}, cpu_engine(), Yd.data());
  dnnl::reorder(pool.dst(), yu).execute(cpu_stream(), pool.dst(), yu);
  dnnl::memory dyu({{m, C, 14, 14}, dnnl::memory::data_type::f32, tag::nhwc}, cpu_engine(),
                   const_cast<float*>(dY.data()));
  dnnl::memory dy(pool.dst_desc(), cpu_engine());
  dnnl::reorder(dyu, dy).execute(cpu_stream(), dyu, dy);
  pool.backward(dy);
  dnnl::memory dxu(nhwc, cpu_engine(), dXd.data());
  dnnl::reorder(pool.diff_src(), dxu).execute(cpu_stream(), pool.diff_src(), dxu);
  cpu_stream().wait();
  EXPECT_EQ(Yd, Y) << pool.impl_info();
  EXPECT_EQ(dXd, dX) << pool.impl_info();
}

TEST(DnnlMatmul, MatchesEigenForEveryTranspose) {
  using DOp = DnnlMatmul::Op;
  for (GemmCase c : {GemmCase{500, 100, 784}, GemmCase{10, 100, 500}, GemmCase{13, 7, 5}})
    for (DOp oa : {DOp::N, DOp::T})
      for (DOp ob : {DOp::N, DOp::T})
        for (DnnlType t : {DnnlType::F32, DnnlType::BF16}) {
          const MatF A = oa == DOp::N ? random_mat(c.M, c.K, 19) : random_mat(c.K, c.M, 19);
          const MatF B = ob == DOp::N ? random_mat(c.K, c.N, 20) : random_mat(c.N, c.K, 20);
          const MatD Ad = oa == DOp::N ? MatD(A.cast<double>()) : MatD(A.cast<double>().transpose());
          const MatD Bd = ob == DOp::N ? MatD(B.cast<double>()) : MatD(B.cast<double>().transpose());
          DnnlMatmul mm(c.M, c.N, c.K, oa, ob, t);
          mm.in_a(A.data());
          mm.in_b(B.data());
          MatF C(c.M, c.N);
          mm.run(C.data());
          EXPECT_LT(rel_err(C, Ad * Bd), t == DnnlType::F32 ? 1e-5 : 1e-2) << mm.impl_info();
        }
}

}  // namespace
}  // namespace sibp::kernels
