// Question 1 and 2 of REPORT.md: the reference CNN's convolutions and
// max-pools at batch 100, per operation, for
//   eigen      im2col/col2im in sibp's layout + Eigen GEMM (threads: our pool,
//              or Eigen's OpenMP with --eigen-omp),
//   dnnl-*     oneDNN convolution primitives, f32 or bf16 (bf16 weights and
//              activations, f32 dst / diff_src / diff_weights), activations in
//              oneDNN's chosen layout (any) or plain nhwc; reorders apart,
// then SIBP's Gauss–Newton operator on conv2 and P̃P̃ᵀ, then the whole SGD
// step of the CNN with the eigen backend (measured) and the sum-of-parts
// estimate of the step for every backend.
//
//   bench_conv [--threads N] [--eigen-omp] [--order major|minor] [--skip-dnnl] [--clock cpu|wall]
// --only-steps: just the measured CNN steps (for the busy-core runs).
// --clock: process CPU time (default for 1 thread) or wall time (default otherwise).
// Prints one `key=value` line per measurement (ms = median milliseconds).
#include <omp.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "bench_util.hpp"
#include "conv_layout.hpp"
#include "dnnl_ops.hpp"
#include "parallel_gemm.hpp"
#include "sibp_conv_op.hpp"

using namespace sibp::kernels;
using namespace sibp::kernels::bench;

namespace {

const Index kBatch = 100;
const ConvShape kConv1{1, 28, 28, 16, 5, 5, 2, 1};
const ConvShape kConv2{16, 14, 14, 32, 5, 5, 2, 1};

std::map<std::string, double> g_ms;  // name → ms, for the step estimates
int g_threads = 1;

void report(const std::string& layer, const std::string& backend, const std::string& op, double seconds,
            double flops = 0) {
  const double ms = seconds * 1e3;
  g_ms[layer + "/" + backend + "/" + op] = ms;
  std::printf("layer=%s backend=%s threads=%d op=%s ms=%.4f", layer.c_str(), backend.c_str(), g_threads, op.c_str(),
              ms);
  if (flops > 0) std::printf(" gflops=%.1f", flops / seconds / 1e9);
  std::printf("\n");
  std::fflush(stdout);
}

double get(const std::string& key) {
  auto it = g_ms.find(key);
  return it == g_ms.end() ? 0.0 : it->second;
}

// GEMM on the pool (parallel_gemm) or with Eigen's OpenMP threads.
struct Gemm {
  ThreadPool* pool;  // nullptr: Eigen's own product (OpenMP if nbThreads > 1)
  template <class A, class B, class C>
  void operator()(const A& a, Op oa, const B& b, Op ob, C& c) const {
    if (pool) {
      parallel_gemm(pool, a, oa, b, ob, c);
    } else if (oa == Op::N && ob == Op::N) {
      c.noalias() = a * b;
    } else if (oa == Op::N) {
      c.noalias() = a * b.transpose();
    } else if (ob == Op::N) {
      c.noalias() = a.transpose() * b;
    } else {
      c.noalias() = a.transpose() * b.transpose();
    }
  }
};

void relu_inplace(float* x, Index n) {
  for (Index i = 0; i < n; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
}
// δ ⊙= [G > 0]
void relu_backward(const float* g, float* d, Index n) {
  for (Index i = 0; i < n; ++i) d[i] = g[i] > 0.f ? d[i] : 0.f;
}

void bench_eigen_conv(const std::string& name, const ConvShape& s, PatchOrder order, const Gemm& gemm,
                      ThreadPool* pool, bool backward_data) {
  const Index n = kBatch * s.h_out() * s.w_out(), d = s.patch_rows();
  const MatF X = random_mat(s.c_in, kBatch * s.h * s.w, 1), K = random_mat(s.c_out, d, 2),
             b = random_mat(s.c_out, 1, 3), dG = random_mat(s.c_out, n, 4);
  MatF P(d, n), G(s.c_out, n), dK(s.c_out, d), dP(d, n), dX(s.c_in, kBatch * s.h * s.w);
  Eigen::VectorXf db(s.c_out);
  const std::string be = "eigen";
  const double gf = 2.0 * s.c_out * d * n;
  report(name, be, "im2col", median_seconds([&] { im2col(s, kBatch, X.data(), P.data(), order, pool); }));
  report(name, be, "fwd_gemm", median_seconds([&] { gemm(K, Op::N, P, Op::N, G); }), gf);
  report(name, be, "bias_add", median_seconds([&] { G.colwise() += b.col(0); }));
  report(name, be, "bwdw_gemm", median_seconds([&] { gemm(dG, Op::N, P, Op::T, dK); }), gf);
  report(name, be, "bias_grad", median_seconds([&] { db.noalias() = dG.rowwise().sum(); }));
  if (backward_data) {
    report(name, be, "bwdd_gemm", median_seconds([&] { gemm(K, Op::T, dG, Op::N, dP); }), gf);
    report(name, be, "col2im", median_seconds([&] { col2im(s, kBatch, dP.data(), dX.data(), order, pool); }));
  }
  report(name, be, "relu_fwd", median_seconds([&] { relu_inplace(G.data(), G.size()); }));
  MatF dd = dG;
  report(name, be, "relu_bwd", median_seconds([&] { relu_backward(G.data(), dd.data(), dd.size()); }));
}

// conv1 (c_in = 1) without im2col: conv_cin1_forward / _backward_weights.
void bench_direct_conv1(ThreadPool* pool) {
  const ConvShape& s = kConv1;
  const Index n = kBatch * s.h_out() * s.w_out();
  const MatF X = random_mat(1, kBatch * s.h * s.w, 1), K = random_mat(s.c_out, 25, 2), b = random_mat(s.c_out, 1, 3),
             dG = random_mat(s.c_out, n, 4);
  MatF G(s.c_out, n), dK(s.c_out, 25), db(s.c_out, 1);
  const double gf = 2.0 * s.c_out * 25 * n;
  report("conv1", "direct", "fwd", median_seconds([&] {
           conv_cin1_forward(s, kBatch, X.data(), K.data(), b.data(), G.data(), pool);
         }), gf);
  report("conv1", "direct", "bwdw", median_seconds([&] {
           conv_cin1_backward_weights(s, kBatch, X.data(), dG.data(), dK.data(), db.data(), pool);
         }), gf);
}

// conv2's three GEMMs (im2col layout) on oneDNN matmul, f32 and bf16; the
// bf16 conversions of the operands are timed apart.
void bench_conv2_matmul() {
  const ConvShape& s = kConv2;
  const Index n = kBatch * s.h_out() * s.w_out(), d = s.patch_rows();
  const MatF P = random_mat(d, n, 1), K = random_mat(s.c_out, d, 2), dG = random_mat(s.c_out, n, 4);
  MatF G(s.c_out, n), dK(s.c_out, d), dP(d, n);
  const double gf = 2.0 * s.c_out * d * n;
  using DOp = DnnlMatmul::Op;
  for (DnnlType t : {DnnlType::F32, DnnlType::BF16}) {
    const std::string be = t == DnnlType::F32 ? "im2col+dnnl-matmul-f32" : "im2col+dnnl-matmul-bf16";
    DnnlMatmul fwd(s.c_out, n, d, DOp::N, DOp::N, t), bwdw(s.c_out, d, n, DOp::N, DOp::T, t),
        bwdd(d, n, s.c_out, DOp::T, DOp::N, t);
    fwd.in_a(K.data()), fwd.in_b(P.data()), bwdw.in_a(dG.data()), bwdw.in_b(P.data()), bwdd.in_a(K.data()),
        bwdd.in_b(dG.data());
    std::printf("layer=conv2 backend=%s impl: %s\n", be.c_str(), fwd.impl_info().c_str());
    report("conv2", be, "fwd_gemm", median_seconds([&] { fwd.run(G.data()); }), gf);
    report("conv2", be, "bwdw_gemm", median_seconds([&] { bwdw.run(dK.data()); }), gf);
    report("conv2", be, "bwdd_gemm", median_seconds([&] { bwdd.run(dP.data()); }), gf);
    if (t == DnnlType::BF16) {
      report("conv2", be, "convert_P", median_seconds([&] { fwd.in_b(P.data()); }));
      report("conv2", be, "convert_delta", median_seconds([&] { bwdd.in_b(dG.data()); }));
    }
  }
}

void bench_dnnl_conv(const std::string& name, const ConvShape& s, DnnlType type, DnnlLayout layout,
                     bool backward_data) {
  const std::string be = std::string("dnnl-") + (type == DnnlType::F32 ? "f32" : "bf16") + "-" +
                         (layout == DnnlLayout::Any ? "any" : "nhwc");
  const Index n = kBatch * s.h_out() * s.w_out(), d = s.patch_rows();
  const MatF X = random_mat(s.c_in, kBatch * s.h * s.w, 1), K = random_mat(s.c_out, d, 2),
             b = random_mat(s.c_out, 1, 3), dG = random_mat(s.c_out, n, 4);
  MatF G(s.c_out, n), dK(s.c_out, d), dX(s.c_in, kBatch * s.h * s.w), db(s.c_out, 1);
  DnnlConv conv(s, kBatch, type, layout);
  std::printf("layer=%s backend=%s impl: %s\n", name.c_str(), be.c_str(), conv.impl_info().c_str());
  const double gf = 2.0 * s.c_out * d * n;
  conv.in_src(X.data());
  conv.in_weights(K.data(), b.data());
  report(name, be, "reorder_src_in", median_seconds([&] { conv.in_src(X.data()); }));
  report(name, be, "reorder_weights_in", median_seconds([&] { conv.in_weights(K.data(), b.data()); }));
  report(name, be, "fwd", median_seconds([&] { conv.forward(G.data()); }), gf);
  report(name, be, "reorder_dst_out", median_seconds([&] { conv.out_dst(); }));
  conv.in_diff_dst(dG.data());
  report(name, be, "reorder_diff_dst_in", median_seconds([&] { conv.in_diff_dst(dG.data()); }));
  if (backward_data) {
    report(name, be, "bwdd", median_seconds([&] { conv.backward_data(dX.data()); }), gf);
    report(name, be, "reorder_diff_src_out", median_seconds([&] { conv.out_diff_src(); }));
  }
  report(name, be, "bwdw", median_seconds([&] { conv.backward_weights(dK.data(), db.data()); }), gf);
  report(name, be, "reorder_diff_weights_out", median_seconds([&] { conv.out_diff_weights(); }));
}

void bench_pools(ThreadPool* pool) {
  struct P {
    const char* name;
    Index C, H, W;
  };
  for (P p : {P{"pool1", 16, 28, 28}, P{"pool2", 32, 14, 14}}) {
    const MatF X = random_mat(p.C, kBatch * p.H * p.W, 5), dY = random_mat(p.C, kBatch * p.H * p.W / 4, 6);
    MatF Y(p.C, kBatch * p.H * p.W / 4), dX(p.C, kBatch * p.H * p.W);
    std::vector<std::uint8_t> arg(static_cast<std::size_t>(Y.size()));
    report(p.name, "ours", "fwd",
           median_seconds([&] { maxpool2x2_forward(p.C, kBatch, p.H, p.W, X.data(), Y.data(), arg.data(), pool); }));
    report(p.name, "ours", "bwd", median_seconds([&] {
             maxpool2x2_backward(p.C, kBatch, p.H, p.W, dY.data(), arg.data(), dX.data(), pool);
           }));
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    struct L {
      const char* name;
      dt type;
      tag t;
    };
    for (L l : {L{"dnnl-f32-nhwc", dt::f32, tag::nhwc}, L{"dnnl-f32-blocked", dt::f32, tag::aBcd16b},
                L{"dnnl-bf16-blocked", dt::bf16, tag::aBcd16b}}) {
      const dnnl::memory::desc md({kBatch, p.C, p.H, p.W}, l.type, l.t);
      DnnlMaxPool dp(p.C, kBatch, p.H, p.W, md);
      dnnl::memory src(md, cpu_engine());
      dnnl::memory dy(dp.dst_desc(), cpu_engine());
      std::memset(src.get_data_handle(), 0, md.get_size());
      std::memset(dy.get_data_handle(), 0, dp.dst_desc().get_size());
      report(p.name, l.name, "fwd", median_seconds([&] { dp.forward(src); }));
      report(p.name, l.name, "bwd", median_seconds([&] { dp.backward(dy); }));
    }
  }
}

// Question 2: SIBP's Gauss–Newton operator on conv2, X ↦ ((X·P̃) ⊙ S)·P̃ᵀ + λX,
// X (c_out, d+1), P̃ = [P; 1ᵀ] (d+1, n), and P̃P̃ᵀ for an exact solve.
void bench_sibp_operator(const Gemm& gemm, bool skip_dnnl) {
  const ConvShape& s = kConv2;
  const Index d = s.patch_rows(), n = kBatch * s.h_out() * s.w_out();
  const MatF Xin = random_mat(s.c_in, kBatch * s.h * s.w, 7);
  MatF Pt(d + 1, n);
  im2col(s, kBatch, Xin.data(), Pt.data(), PatchOrder::ChannelMajor);  // rows 0..d-1 of a (d, n) layout
  {
    // im2col wrote (d, n) contiguously; spread it into the (d+1)-row P̃.
    MatF P = Eigen::Map<MatF>(Pt.data(), d, n);
    Pt.topRows(d) = P;
    Pt.row(d).setOnes();
  }
  const MatF X = random_mat(s.c_out, d + 1, 8);
  const MatF S = random_mat(s.c_out, n, 9).cwiseAbs();
  const float lambda = 0.1f;
  MatF Y(s.c_out, n), Z(s.c_out, d + 1);
  const double gf = 2 * 2.0 * s.c_out * (d + 1) * n;
  report("conv2", "eigen", "sibp_op",
         median_seconds([&] { sibp_conv_operator_explicit(gemm.pool, X, Pt, S, lambda, Y, Z); }), gf);
  MatF PPt(d + 1, d + 1);
  const double gram = 2.0 * (d + 1) * (d + 1) * n;
  report("conv2", "eigen", "gram_gemm", median_seconds([&] { gemm(Pt, Op::N, Pt, Op::T, PPt); }), gram);
  report("conv2", "eigen", "gram_syrk", median_seconds([&] {
           PPt.setZero();
           PPt.selfadjointView<Eigen::Lower>().rankUpdate(Pt);
         }),
         gram / 2);
  if (skip_dnnl) return;
  // oneDNN: forward conv with X as kernel (bias = X's last column), then the
  // backward-weights conv with diff_dst = Y ⊙ S gives Y·P̃ᵀ (weights and bias).
  for (DnnlType type : {DnnlType::F32, DnnlType::BF16}) {
    const std::string be = type == DnnlType::F32 ? "dnnl-f32-any" : "dnnl-bf16-any";
    DnnlConv conv(s, kBatch, type, DnnlLayout::Any);
    conv.in_src(Xin.data());
    MatF Xk(s.c_out, d), Xb(s.c_out, 1), Zk(s.c_out, d), Zb(s.c_out, 1);
    report("conv2", be, "sibp_op", median_seconds([&] {
             sibp_conv_operator_dnnl(conv, X, S, lambda, Y, Xk, Xb, Zk, Zb, Z);
           }),
           gf);
  }
}

// Who computes the convolutions in the measured CNN step (everything else,
// pools, ReLU, dense layers, loss and update, is the same code).
enum class StepConv {
  Ours,        // direct conv1, im2col + GEMM conv2
  DnnlF32,     // oneDNN f32 convolutions on our (NHWC) buffers: no reorders
  DnnlBf16,    // oneDNN bf16 convolutions on our buffers (f32 → bf16 inside)
  Conv1Direct,     // direct conv1, oneDNN f32 conv2
  DnnlF32Pooled,   // oneDNN f32 convolutions, single-threaded, on fixed sub-batches on our pool
  DnnlBf16Pooled,  // the same in bf16
};

// The whole SGD step (momentum) of the CNN, measured.
double cnn_step(StepConv which, PatchOrder order, const Gemm& gemm, ThreadPool* pool) {
  const Index m = kBatch;
  const Index n1 = m * 28 * 28, n2 = m * 14 * 14;
  const MatF X = random_mat(1, m * 784, 10).cwiseAbs();
  MatF K1 = random_mat(16, 25, 11) * 0.2f, K2 = random_mat(32, 400, 12) * 0.05f;
  Eigen::VectorXf b1 = Eigen::VectorXf::Zero(16), b2 = Eigen::VectorXf::Zero(32);
  MatF W3 = random_mat(128, 1568, 13) * 0.025f, W4 = random_mat(10, 128, 14) * 0.1f;
  Eigen::VectorXf b3 = Eigen::VectorXf::Zero(128), b4 = Eigen::VectorXf::Zero(10);
  std::vector<int> labels(static_cast<std::size_t>(m));
  for (Index j = 0; j < m; ++j) labels[static_cast<std::size_t>(j)] = static_cast<int>(j % 10);
  // tape and workspace
  MatF G1(16, n1), F1(16, n2), P2(400, n2), G2(32, n2), F2(32, m * 49), G3(128, m), F3(128, m),
      G4(10, m), D4(10, m), D3(128, m), D2f(1568, m), D2(32, n2), dP2(400, n2), D1p(16, n2), D1(16, n1);
  MatF gK1(16, 25), gK2(32, 400), gW3(128, 1568), gW4(10, 128);
  Eigen::VectorXf gb1(16), gb2(32), gb3(128), gb4(10);
  std::vector<std::uint8_t> a1(static_cast<std::size_t>(F1.size())), a2(static_cast<std::size_t>(F2.size()));
  MatF vK1 = MatF::Zero(16, 25), vK2 = MatF::Zero(32, 400), vW3 = MatF::Zero(128, 1568), vW4 = MatF::Zero(10, 128);
  const float lr = 0.01f, mom = 0.9f;
  std::optional<DnnlConv> dconv1, dconv2;
  const DnnlType dtype = which == StepConv::DnnlBf16 ? DnnlType::BF16 : DnnlType::F32;
  if (which == StepConv::DnnlF32 || which == StepConv::DnnlBf16) dconv1.emplace(kConv1, m, dtype, DnnlLayout::Nhwc);
  const bool pooled = which == StepConv::DnnlF32Pooled || which == StepConv::DnnlBf16Pooled;
  if (which != StepConv::Ours && !pooled) dconv2.emplace(kConv2, m, dtype, DnnlLayout::Nhwc);
  // Pooled: FIXED sub-batches of 10 samples, one single-threaded oneDNN
  // primitive each, run on our pool; weight gradients summed in sub-batch
  // order (the same result for any thread count). One thread runtime only.
  const Index sub = 10, chunks = m / sub;
  const int omp_threads_before = omp_get_max_threads();
  std::vector<std::unique_ptr<DnnlConv>> pc1, pc2;
  std::vector<MatF> pgK1(chunks, MatF(16, 25)), pgb1(chunks, MatF(16, 1)), pgK2(chunks, MatF(32, 400)),
      pgb2(chunks, MatF(32, 1));
  if (pooled) {
    omp_set_num_threads(1);
    const DnnlType t = which == StepConv::DnnlBf16Pooled ? DnnlType::BF16 : DnnlType::F32;
    for (Index c = 0; c < chunks; ++c) {
      pc1.push_back(std::make_unique<DnnlConv>(kConv1, sub, t, DnnlLayout::Nhwc));
      pc2.push_back(std::make_unique<DnnlConv>(kConv2, sub, t, DnnlLayout::Nhwc));
    }
  }
  auto run_chunks = [&](auto&& f) {
    auto task = [&](std::int64_t c) {
      omp_set_num_threads(1);
      f(static_cast<std::size_t>(c));
    };
    if (pool) pool->run(chunks, task);
    else
      for (Index c = 0; c < chunks; ++c) task(c);
  };
  auto sum_chunks = [&](std::vector<MatF>& parts, auto& total) {
    total = parts[0];
    for (Index c = 1; c < chunks; ++c) total += parts[static_cast<std::size_t>(c)];
  };
  auto step = [&] {
    // forward
    if (pooled) {
      run_chunks([&](std::size_t c) {
        pc1[c]->in_src(X.data() + c * sub * 784);
        pc1[c]->in_weights(K1.data(), b1.data());
        pc1[c]->forward(G1.data() + c * sub * 16 * 784);
      });
    } else if (dconv1) {
      dconv1->in_src(X.data());
      dconv1->in_weights(K1.data(), b1.data());
      dconv1->forward(G1.data());
    } else {
      conv_cin1_forward(kConv1, m, X.data(), K1.data(), b1.data(), G1.data(), pool);
    }
    relu_inplace(G1.data(), G1.size());  // G1 now holds F = relu(G); relu'(G) = [F > 0]
    maxpool2x2_forward(16, m, 28, 28, G1.data(), F1.data(), a1.data(), pool);
    if (pooled) {
      run_chunks([&](std::size_t c) {
        pc2[c]->in_src(F1.data() + c * sub * 16 * 196);
        pc2[c]->in_weights(K2.data(), b2.data());
        pc2[c]->forward(G2.data() + c * sub * 32 * 196);
      });
    } else if (dconv2) {
      dconv2->in_src(F1.data());
      dconv2->in_weights(K2.data(), b2.data());
      dconv2->forward(G2.data());
    } else {
      im2col(kConv2, m, F1.data(), P2.data(), order, pool);
      gemm(K2, Op::N, P2, Op::N, G2);
      G2.colwise() += b2;
    }
    relu_inplace(G2.data(), G2.size());
    maxpool2x2_forward(32, m, 14, 14, G2.data(), F2.data(), a2.data(), pool);
    const Eigen::Map<const MatF> Flat(F2.data(), 1568, m);  // NHWC per sample: a free reshape
    gemm(W3, Op::N, Flat, Op::N, G3);
    G3.colwise() += b3;
    F3 = G3.cwiseMax(0.f);
    gemm(W4, Op::N, F3, Op::N, G4);
    G4.colwise() += b4;
    // softmax cross-entropy (mean) gradient
    for (Index j = 0; j < m; ++j) {
      auto g = G4.col(j);
      const float mx = g.maxCoeff();
      D4.col(j) = (g.array() - mx).exp();
      D4.col(j) /= D4.col(j).sum();
      D4(labels[static_cast<std::size_t>(j)], j) -= 1.f;
    }
    D4 /= static_cast<float>(m);
    // backward
    gemm(D4, Op::N, F3, Op::T, gW4);
    gb4 = D4.rowwise().sum();
    gemm(W4, Op::T, D4, Op::N, D3);
    D3 = (G3.array() > 0.f).select(D3, 0.f);
    gemm(D3, Op::N, Flat, Op::T, gW3);
    gb3 = D3.rowwise().sum();
    gemm(W3, Op::T, D3, Op::N, D2f);
    maxpool2x2_backward(32, m, 14, 14, D2f.data(), a2.data(), D2.data(), pool);
    relu_backward(G2.data(), D2.data(), D2.size());
    if (pooled) {
      run_chunks([&](std::size_t c) {
        pc2[c]->in_diff_dst(D2.data() + c * sub * 32 * 196);
        pc2[c]->backward_weights(pgK2[c].data(), pgb2[c].data());
        pc2[c]->out_diff_weights();
        pc2[c]->backward_data(D1p.data() + c * sub * 16 * 196);
      });
      sum_chunks(pgK2, gK2);
      sum_chunks(pgb2, gb2);
    } else if (dconv2) {
      dconv2->in_diff_dst(D2.data());
      dconv2->backward_weights(gK2.data(), gb2.data());
      dconv2->out_diff_weights();
      dconv2->backward_data(D1p.data());
    } else {
      gemm(D2, Op::N, P2, Op::T, gK2);
      gb2 = D2.rowwise().sum();
      gemm(K2, Op::T, D2, Op::N, dP2);
      col2im(kConv2, m, dP2.data(), D1p.data(), order, pool);
    }
    maxpool2x2_backward(16, m, 28, 28, D1p.data(), a1.data(), D1.data(), pool);
    relu_backward(G1.data(), D1.data(), D1.size());
    if (pooled) {
      run_chunks([&](std::size_t c) {
        pc1[c]->in_diff_dst(D1.data() + c * sub * 16 * 784);
        pc1[c]->backward_weights(pgK1[c].data(), pgb1[c].data());
        pc1[c]->out_diff_weights();
      });
      sum_chunks(pgK1, gK1);
      sum_chunks(pgb1, gb1);
    } else if (dconv1) {
      dconv1->in_diff_dst(D1.data());
      dconv1->backward_weights(gK1.data(), gb1.data());
      dconv1->out_diff_weights();
    } else {
      conv_cin1_backward_weights(kConv1, m, X.data(), D1.data(), gK1.data(), gb1.data(), pool);
    }
    // SGD with momentum (PyTorch's form: v = μv + g; w -= lr·v)
    vK1 = mom * vK1 + gK1;
    K1 -= lr * vK1;
    vK2 = mom * vK2 + gK2;
    K2 -= lr * vK2;
    vW3 = mom * vW3 + gW3;
    W3 -= lr * vW3;
    vW4 = mom * vW4 + gW4;
    W4 -= lr * vW4;
    b1 -= lr * gb1;
    b2 -= lr * gb2;
    b3 -= lr * gb3;
    b4 -= lr * gb4;
  };
  const double seconds = median_seconds(step, 9, 0.1);
  omp_set_num_threads(omp_threads_before);
  return seconds;
}

// The dense part of the step (both dense layers, forward and backward), which
// the oneDNN estimates take from Eigen.
double dense_part(const Gemm& gemm) {
  const Index m = kBatch;
  const MatF W3 = random_mat(128, 1568, 1), W4 = random_mat(10, 128, 2), F2 = random_mat(1568, m, 3);
  MatF G3(128, m), G4(10, m), D4 = random_mat(10, m, 4), D3(128, m), gW3(128, 1568), gW4(10, 128), D2(1568, m);
  return median_seconds([&] {
    gemm(W3, Op::N, F2, Op::N, G3);
    gemm(W4, Op::N, G3, Op::N, G4);
    gemm(D4, Op::N, G3, Op::T, gW4);
    gemm(W4, Op::T, D4, Op::N, D3);
    gemm(D3, Op::N, F2, Op::T, gW3);
    gemm(W3, Op::T, D3, Op::N, D2);
  });
}

}  // namespace

int main(int argc, char** argv) {
  g_threads = std::stoi(arg(argc, argv, "--threads", "1"));
  const bool eigen_omp = flag(argc, argv, "--eigen-omp");
  const bool skip_dnnl = flag(argc, argv, "--skip-dnnl");
  const PatchOrder order = arg(argc, argv, "--order", "major") == "minor" ? PatchOrder::ChannelMinor
                                                                          : PatchOrder::ChannelMajor;
  omp_set_num_threads(g_threads);
  const std::string clock = arg(argc, argv, "--clock", g_threads == 1 ? "cpu" : "wall");
  if (clock == "cpu") time_base() = TimeBase::ProcessCpu;
  Eigen::setNbThreads(eigen_omp ? g_threads : 1);
  ThreadPool pool_obj(eigen_omp ? 1 : g_threads);
  ThreadPool* pool = eigen_omp ? nullptr : &pool_obj;
  const Gemm gemm{pool};
  std::printf("threads=%d eigen_threading=%s patch_order=%s clock=%s\n", g_threads, eigen_omp ? "openmp" : "pool",
              order == PatchOrder::ChannelMajor ? "channel-major" : "channel-minor",
              time_base() == TimeBase::Wall ? "wall" : "process-cpu");
  if (flag(argc, argv, "--only-steps")) {
    for (auto [which, name] : {std::pair{StepConv::Ours, "ours(direct-conv1,im2col+gemm-conv2)"},
                               std::pair{StepConv::DnnlF32, "dnnl-f32-nhwc"},
                               std::pair{StepConv::DnnlBf16, "dnnl-bf16-nhwc"},
                               std::pair{StepConv::DnnlF32Pooled, "dnnl-f32-nhwc-pooled"},
                               std::pair{StepConv::DnnlBf16Pooled, "dnnl-bf16-nhwc-pooled"}}) {
      const double step_ms = cnn_step(which, order, gemm, pool) * 1e3;
      std::printf("measured backend=%s step_ms=%.3f epoch_s=%.2f\n", name, step_ms, step_ms * 0.6);
    }
    return 0;
  }
  bench_direct_conv1(pool);

  bench_eigen_conv("conv1", kConv1, order, gemm, pool, false);
  bench_eigen_conv("conv2", kConv2, order, gemm, pool, true);
  if (!skip_dnnl)
    for (DnnlType t : {DnnlType::F32, DnnlType::BF16})
      for (DnnlLayout l : {DnnlLayout::Any, DnnlLayout::Nhwc}) {
        bench_dnnl_conv("conv1", kConv1, t, l, false);
        bench_dnnl_conv("conv2", kConv2, t, l, true);
      }
  if (!skip_dnnl) bench_conv2_matmul();
  bench_pools(pool);
  bench_sibp_operator(gemm, skip_dnnl);

  const double dense_ms = dense_part(gemm) * 1e3;
  report("dense", "eigen", "fwd_bwd", dense_ms / 1e3);
  for (auto [which, name] : {std::pair{StepConv::Ours, "ours(direct-conv1,im2col+gemm-conv2)"},
                             std::pair{StepConv::Conv1Direct, "direct-conv1+dnnl-f32-nhwc-conv2"},
                             std::pair{StepConv::DnnlF32, "dnnl-f32-nhwc"}, std::pair{StepConv::DnnlBf16, "dnnl-bf16-nhwc"},
                             std::pair{StepConv::DnnlF32Pooled, "dnnl-f32-nhwc-pooled"},
                             std::pair{StepConv::DnnlBf16Pooled, "dnnl-bf16-nhwc-pooled"}}) {
    if (skip_dnnl && which != StepConv::Ours) continue;
    const double step_ms = cnn_step(which, order, gemm, pool) * 1e3;
    report("cnn", name, "sgd_step_measured", step_ms / 1e3);
    std::printf("measured backend=%s step_ms=%.3f epoch_s=%.2f\n", name, step_ms, step_ms * 0.6);
  }

  // Sum-of-parts step estimates (ms): convs, pools, ReLUs, dense, reorders.
  const double relu = get("conv1/eigen/relu_fwd") + get("conv1/eigen/relu_bwd") + get("conv2/eigen/relu_fwd") +
                      get("conv2/eigen/relu_bwd");
  auto conv_eigen = [&](const std::string& l, bool bd) {
    return get(l + "/eigen/im2col") + get(l + "/eigen/fwd_gemm") + get(l + "/eigen/bias_add") +
           get(l + "/eigen/bwdw_gemm") + get(l + "/eigen/bias_grad") +
           (bd ? get(l + "/eigen/bwdd_gemm") + get(l + "/eigen/col2im") : 0.0);
  };
  const double pools_ours =
      get("pool1/ours/fwd") + get("pool1/ours/bwd") + get("pool2/ours/fwd") + get("pool2/ours/bwd");
  const double direct1 = get("conv1/direct/fwd") + get("conv1/direct/bwdw");
  const double eig = direct1 + conv_eigen("conv2", true) + pools_ours + relu + dense_ms;
  std::printf("estimate backend=eigen-sum (direct conv1, im2col+eigen conv2) step_ms=%.3f epoch_s=%.2f\n", eig,
              eig * 0.6);
  const double eig_im2col1 = conv_eigen("conv1", false) + conv_eigen("conv2", true) + pools_ours + relu + dense_ms;
  std::printf("estimate backend=eigen-sum-im2col-conv1 step_ms=%.3f epoch_s=%.2f\n", eig_im2col1, eig_im2col1 * 0.6);
  for (const char* mm : {"im2col+dnnl-matmul-f32", "im2col+dnnl-matmul-bf16"}) {
    const std::string b = std::string("conv2/") + mm + "/";
    if (get(b + "fwd_gemm") == 0) continue;
    const double conv2 = get("conv2/eigen/im2col") + get("conv2/eigen/col2im") + get("conv2/eigen/bias_add") +
                         get("conv2/eigen/bias_grad") + get(b + "fwd_gemm") + get(b + "bwdw_gemm") +
                         get(b + "bwdd_gemm") + get(b + "convert_P") + get(b + "convert_delta");
    const double t = direct1 + conv2 + pools_ours + relu + dense_ms;
    std::printf("estimate backend=%s (direct conv1) step_ms=%.3f epoch_s=%.2f\n", mm, t, t * 0.6);
  }
  if (!skip_dnnl)
    for (const char* be : {"dnnl-f32-any", "dnnl-f32-nhwc", "dnnl-bf16-any", "dnnl-bf16-nhwc"}) {
      const std::string b = be;
      const bool blocked = b.find("any") != std::string::npos;
      const bool bf16 = b.find("bf16") != std::string::npos;
      const std::string pl = blocked ? (bf16 ? "dnnl-bf16-blocked" : "dnnl-f32-blocked") : "dnnl-f32-nhwc";
      const double prim = get("conv1/" + b + "/fwd") + get("conv1/" + b + "/bwdw") + get("conv2/" + b + "/fwd") +
                          get("conv2/" + b + "/bwdd") + get("conv2/" + b + "/bwdw");
      // Between layers the data stays in oneDNN's layout; what must still be
      // converted: the input, conv2's src and diff_dst when bf16 (f32 → bf16),
      // the flatten to the dense layers and back (blocked only).
      double reorders = get("conv1/" + b + "/reorder_src_in") + get("conv1/" + b + "/reorder_weights_in") +
                        get("conv2/" + b + "/reorder_weights_in") + get("conv1/" + b + "/reorder_diff_dst_in");
      if (bf16) reorders += get("conv2/" + b + "/reorder_src_in") + get("conv2/" + b + "/reorder_diff_dst_in");
      if (blocked) reorders += 2 * get("conv2/" + b + "/reorder_dst_out") / 4;  // 32×7×7 is a quarter of 32×14×14
      const double pools = get("pool1/" + pl + "/fwd") + get("pool1/" + pl + "/bwd") + get("pool2/" + pl + "/fwd") +
                           get("pool2/" + pl + "/bwd");
      const double total = prim + reorders + pools + relu + dense_ms;
      std::printf("estimate backend=%s step_ms=%.3f epoch_s=%.2f (convs %.3f, reorders %.3f, pools %.3f, relu %.3f, "
                  "dense %.3f)\n",
                  be, total, total * 0.6, prim, reorders, pools, relu, dense_ms);
    }
  return 0;
}
