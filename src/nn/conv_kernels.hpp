#pragma once
/// The fast kernels of convolution and pooling layers (ALGORITHMS.md §5), on
/// the image layout of nn/architecture.hpp: a batch of m images is a
/// column-major (C, m·H·W) matrix, which is NHWC in memory.
///
/// - DnnlConv2d: oneDNN's f32 convolution primitives (forward, backward-data,
///   backward-weights) reading and writing our buffers in place (NHWC is a
///   layout oneDNN takes without reorders), run on fixed sub-batches on the
///   thread pool. 3–3.5× the im2col + Eigen GEMM path per operation and no
///   patch matrix (docs/kernels-report.md, question 1).
/// - maxpool2x2_forward/backward: 2×2, stride-2 max-pooling vectorised over
///   channels by hand with AVX-512.
///
/// The plain implementations (im2col + GEMM, the generic max-pool loop in
/// nn/layers.cpp) stay as the reference that these are tested against;
/// conv_backend() selects which one the layers use.
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "core/types.hpp"
#include "nn/bf16.hpp"

namespace sibp {

/// Geometry of a convolution or pooling window over a (channels, height, width) input.
struct WindowGeometry {
  Index channels = 0, height = 0, width = 0;  ///< of the input
  Index kernel = 1, stride = 1, pad = 0;
  Index out_height = 0, out_width = 0;
  /// c_in·k·k: rows of the patch matrix, columns of a convolution's W.
  Index patch_rows() const { return channels * kernel * kernel; }
};

/// Which implementation the convolution and max-pool layers use.
enum class ConvBackend {
  /// im2col + GEMM convolutions, the generic max-pool loop: the plain code, any
  /// precision. The tape then holds every convolution's patch matrix.
  Reference,
  /// float: oneDNN convolutions (no patch matrix anywhere) and the AVX-512 2×2
  /// max-pool; double still runs the reference code (oneDNN has no f64 convolution).
  Fast,
};

/// The backend layers use from their next forward pass on: Fast unless changed
/// by set_conv_backend() or, at start-up, by the environment variable
/// SIBP_CONV_BACKEND=reference (for A/B measurements of whole runs).
/// A process-wide switch, like PyTorch's torch.backends.mkldnn.enabled: the
/// algorithms above the layers must not see which one runs.
ConvBackend conv_backend();
void set_conv_backend(ConvBackend backend);

/// Sets the backend for the lifetime of the object, then restores the previous one (tests).
class ScopedConvBackend {
 public:
  explicit ScopedConvBackend(ConvBackend backend) : previous_(conv_backend()) { set_conv_backend(backend); }
  ~ScopedConvBackend() { set_conv_backend(previous_); }
  ScopedConvBackend(const ScopedConvBackend&) = delete;
  ScopedConvBackend& operator=(const ScopedConvBackend&) = delete;

 private:
  ConvBackend previous_;
};

/// oneDNN convolution of geometry `g` with c_out output channels, over
/// buffers in our layout: input X (c_in, m·H·W), output G (c_out, m·H'·W'),
/// weights W (c_out, c_in·k·k) column-major — PyTorch's [out, in, kh, kw]
/// flattened, which is oneDNN's `ihwo` — and a bias of c_out.
///
/// Threads: the batch is cut into tasks of samples_per_task() samples (the last
/// one shorter), each run by a primitive created and executed with one OpenMP
/// thread, on the thread pool (core/thread_pool.hpp); weight gradients are the
/// sum of the tasks' partial gradients in task order. So every result depends
/// on m only, never on the thread count, and no OpenMP team is ever started
/// (its threads would spin on a busy machine: REPORT.md, question 4).
///
/// Precision: F32, or BF16 — the convolution's inputs (X, W, dG) are rounded to
/// bf16 (X and dG per task, into the thread's scratch; W by oneDNN's reorder
/// into the primitive's layout), accumulation and every output (G, dX, dW, db)
/// float32. Buffers are float32 either way.
///
/// Not thread-safe: one thread calls an instance at a time (it caches
/// primitives per sub-batch size and keeps workspace). Copies share nothing.
class DnnlConv2d {
 public:
  /// Requires: g describes a valid convolution (output at least 1×1); c_out ≥ 1.
  /// The primitives are created on first use (BF16 ones need AVX512-BF16:
  /// std::runtime_error otherwise, from the first call).
  DnnlConv2d(const WindowGeometry& g, Index c_out, Precision precision = Precision::F32);
  ~DnnlConv2d();
  DnnlConv2d(const DnnlConv2d& other);
  DnnlConv2d& operator=(const DnnlConv2d& other);

  const WindowGeometry& geometry() const { return g_; }
  Index out_channels() const { return c_out_; }
  Precision precision() const { return precision_; }
  /// Samples per task: 10, measured in REPORT.md (fixed sub-batches) to keep
  /// each task long enough (0.1–0.5 ms on the reference CNN) for the pool.
  static constexpr Index samples_per_task() { return 10; }

  /// G ← conv(X; W) + b·1ᵀ, G (c_out, m·H'·W') overwritten. b may be null (no bias).
  void forward(const float* X, Index m, const float* W, const float* b, float* G);
  /// dX (c_in, m·H·W) ← the adjoint of the convolution applied to dG
  /// (c_out, m·H'·W'): col2im(Wᵀ dG), as backward-data computes it.
  void backward_data(const float* dG, Index m, const float* W, float* dX);
  /// dW (c_out, c_in·k·k) ← dG·Pᵀ and, when db is not null, db (c_out) ← dG·1, with
  /// P = im2col(X), as backward-weights computes them.
  void backward_weights(const float* X, const float* dG, Index m, float* dW, float* db);

 private:
  struct Primitives;  // per sub-batch size: the three primitives and their weight buffers
  /// The primitives for tasks of `samples` samples, created on first use.
  Primitives& primitives(Index samples);
  /// Runs fn(primitives, first sample, samples, task) over the tasks of m samples.
  template <typename Fn>
  void run_tasks(Index m, Fn&& fn);

  WindowGeometry g_;
  Index c_out_ = 0;
  Precision precision_ = Precision::F32;
  std::map<Index, std::unique_ptr<Primitives>> cache_;
  std::vector<float> partial_;    // backward_weights: (c_out·(d + 1)) per task
  std::vector<float> zero_bias_;  // forward without bias
};

/// 2×2 max-pool with stride 2 of X (C, m·H·W) into Y (C, m·(H/2)·(W/2)),
/// floor-sized (an odd last row or column is not read). argmax receives, per
/// output entry, the winner's position in its window (dy·2 + dx). The first of
/// equal values wins and a NaN wins over numbers, later NaNs over earlier
/// ones — the rule of the reference loop (and PyTorch's MaxPool2d).
/// Runs on the calling thread (a pass over the layer is 0.05–0.15 ms, less
/// than waking a thread); AVX-512 for float where compiled in.
template <typename T>
void maxpool2x2_forward(Index C, Index m, Index H, Index W, const T* X, T* Y, std::uint8_t* argmax);

/// dX (C, m·H·W) ← the adjoint of maxpool2x2_forward at `argmax`: each dY entry
/// goes to its window's winner; every other entry of dX is 0.
template <typename T>
void maxpool2x2_backward(Index C, Index m, Index H, Index W, const T* dY, const std::uint8_t* argmax, T* dX);

}  // namespace sibp
