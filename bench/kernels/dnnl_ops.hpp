#pragma once
/// Thin oneDNN (2.x) wrappers for the operations sibp would hand to it:
/// convolution (forward, backward-data, backward-weights), 2×2 max-pool and
/// matmul, in f32 or bf16, over user buffers in sibp's layout:
///   activations (C, m·H·W) column-major  = NHWC,
///   conv weights K̄ (c_out, c_in·kh·kw) column-major = oneDNN's ihwo,
///   matrices column-major.
/// Each operation is split into "in" reorders (user buffer → the layout and
/// type the primitive chose), the primitive itself, and "out" reorders, so a
/// benchmark can time them apart; a reorder that would be the identity is
/// skipped (the primitive then reads the user buffer in place).
/// oneDNN's threads are OpenMP's (omp_set_num_threads before construction).
#include <oneapi/dnnl/dnnl.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conv_layout.hpp"

namespace sibp::kernels {

enum class DnnlType { F32, BF16 };
/// Activation layout inside oneDNN: Any lets the primitive choose (a blocked
/// nChw16c-like layout on AVX-512), Nhwc forces sibp's own layout.
enum class DnnlLayout { Any, Nhwc };

/// The process-wide CPU engine, and this thread's stream on it.
dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();

/// A user buffer (f32, our layout) and the primitive's view of it.
class DnnlPort {
 public:
  DnnlPort() = default;
  DnnlPort(const dnnl::memory::desc& user, const dnnl::memory::desc& internal);
  /// Copies (reorders) the user buffer in; a no-op pointer swap when the
  /// layouts are equal.
  void in(const float* user);
  /// Copies the internal buffer out to the user buffer (or points the
  /// primitive at it beforehand: call bind_out before the primitive).
  void bind_out(float* user);
  void out();
  dnnl::memory& mem() { return internal_; }
  bool reorders() const { return !alias_; }

 private:
  dnnl::memory user_, internal_;
  std::optional<dnnl::reorder> to_internal_, to_user_;
  bool alias_ = true;
};

/// One convolution layer's primitives (all three directions), batch m.
class DnnlConv {
 public:
  DnnlConv(const ConvShape& s, Index m, DnnlType type, DnnlLayout layout, bool backward = true);
  /// Reorders X (c_in, m·h·w), K̄ and b in. (src, weights: timed apart.)
  void in_src(const float* X) { src_.in(X); }
  void in_weights(const float* K, const float* b);
  /// G = conv(X) + b, G (c_out, m·h'·w'); with a blocked dst the primitive
  /// writes its own buffer and out_dst reorders it into G.
  void forward(float* G);
  void out_dst() { dst_.out(); }
  /// The primitive's dst memory (to feed a pooling primitive in its layout).
  dnnl::memory& dst_mem() { return dst_.mem(); }
  /// dG in (c_out, m·h'·w').
  void in_diff_dst(const float* dG);
  /// dX (c_in, m·h·w) = conv_backward_data(dG, K̄); out_diff_src reorders
  /// when the primitive's layout is not ours.
  void backward_data(float* dX);
  void out_diff_src() { diff_src_.out(); }
  /// dK̄ (c_out, c_in·kh·kw) = δ·Pᵀ and db = row sums of δ, from the src and
  /// diff_dst already in; out_diff_weights reorders/copies them out.
  void backward_weights(float* dK, float* db);
  void out_diff_weights();
  /// Which implementations oneDNN chose ("jit:avx512_core", "ref", ...).
  std::string impl_info() const;
  /// The primitive's dst layout (to feed a pooling primitive).
  dnnl::memory::desc dst_desc() const { return fwd_pd_.dst_desc(); }

 private:
  ConvShape s_;
  Index m_;
  dnnl::convolution_forward::primitive_desc fwd_pd_;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd_;
  dnnl::convolution_backward_weights::primitive_desc bwd_w_pd_;
  std::optional<dnnl::convolution_forward> fwd_;
  std::optional<dnnl::convolution_backward_data> bwd_data_;
  std::optional<dnnl::convolution_backward_weights> bwd_w_;
  DnnlPort src_, weights_, dst_, diff_dst_data_, diff_dst_w_, diff_src_, diff_weights_;
  dnnl::memory bias_, diff_bias_, weights_bwd_;
  std::optional<dnnl::reorder> weights_to_bwd_;
  float* diff_out_bias_ = nullptr;
  bool backward_ = true;
};

/// 2×2 / stride-2 max-pool over (C, m·H·W) with oneDNN, forward_training
/// (keeps a workspace) and backward. `src_md` is the layout the input
/// arrives in (a convolution's dst_desc(), or plain nhwc).
class DnnlMaxPool {
 public:
  DnnlMaxPool(Index C, Index m, Index H, Index W, const dnnl::memory::desc& src_md);
  void forward(dnnl::memory& src);        // into dst()
  void backward(dnnl::memory& diff_dst);  // into diff_src()
  dnnl::memory& dst() { return dst_; }
  dnnl::memory& diff_src() { return diff_src_; }
  dnnl::memory::desc dst_desc() const { return fwd_pd_.dst_desc(); }
  std::string impl_info() const;

 private:
  dnnl::pooling_forward::primitive_desc fwd_pd_;
  dnnl::pooling_backward::primitive_desc bwd_pd_;
  std::optional<dnnl::pooling_forward> fwd_;
  std::optional<dnnl::pooling_backward> bwd_;
  dnnl::memory dst_, ws_, diff_src_;
};

/// C = op(A)·op(B) with column-major f32 user matrices, C (M×N). BF16
/// converts A and B to bf16 (in_a / in_b, timed apart) and accumulates in
/// f32 into f32 C.
class DnnlMatmul {
 public:
  enum class Op { N, T };
  DnnlMatmul(Index M, Index N, Index K, Op opA, Op opB, DnnlType type);
  void in_a(const float* A) { a_.in(A); }
  void in_b(const float* B) { b_.in(B); }
  void run(float* C);
  std::string impl_info() const;

 private:
  dnnl::matmul::primitive_desc pd_;
  std::optional<dnnl::matmul> mm_;
  DnnlPort a_, b_;
  dnnl::memory c_;
};

}  // namespace sibp::kernels
