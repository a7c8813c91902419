#include "nn/conv_kernels.hpp"


#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "nn/dnnl_util.hpp"

namespace sibp {

// ---------------------------------------------------------------- backend switch

namespace {

ConvBackend backend_from_environment() {
  const char* e = std::getenv("SIBP_CONV_BACKEND");
  if (!e || std::string(e).empty() || std::string(e) == "fast") return ConvBackend::Fast;
  if (std::string(e) == "reference") return ConvBackend::Reference;
  throw UsageError("SIBP_CONV_BACKEND: expected 'fast' or 'reference', got '" + std::string(e) + "'");
}

std::atomic<int>& backend_setting() {
  static std::atomic<int> b{static_cast<int>(backend_from_environment())};
  return b;
}

}  // namespace

ConvBackend conv_backend() { return static_cast<ConvBackend>(backend_setting().load(std::memory_order_relaxed)); }
void set_conv_backend(ConvBackend backend) { backend_setting().store(static_cast<int>(backend), std::memory_order_relaxed); }

// ---------------------------------------------------------------- oneDNN

namespace dnnl_util {

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream s(cpu_engine());
  return s;
}

void* thread_scratch(int kind, std::size_t bytes) {
  thread_local std::vector<char> buffers[kScratchKinds];
  std::vector<char>& b = buffers[kind];
  if (b.size() < bytes) b.resize(bytes);
  return b.data();
}

}  // namespace dnnl_util

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

using dnnl_util::cpu_engine;
using dnnl_util::cpu_stream;
using dnnl_util::OneOmpThread;
using dnnl_util::thread_scratch;

void* mut(const void* p) { return const_cast<void*>(p); }

memory::desc nhwc(Index m, Index c, Index h, Index w, dt type = dt::f32) {
  return memory::desc({m, c, h, w}, type, tag::nhwc);
}

/// The data type of the convolution's inputs in `p`.
dt input_type(Precision p) { return p == Precision::BF16 ? dt::bf16 : dt::f32; }

/// `x` (n floats) for a primitive whose input type is `type`: itself for f32,
/// else rounded to bf16 into this thread's scratch buffer `kind`.
void* input_for(dt type, const float* x, Index n, int kind) {
  if (type == dt::f32) return const_cast<float*>(x);
  auto* y = static_cast<std::uint16_t*>(thread_scratch(kind, static_cast<std::size_t>(n) * 2));
  to_bf16(x, n, y);
  return y;
}

void run(dnnl::primitive& prim, std::unordered_map<int, memory> args) {
  prim.execute(cpu_stream(), args);
  cpu_stream().wait();
}

memory scratchpad(const memory::desc& md) { return memory(md, cpu_engine(), thread_scratch(0, md.get_size())); }

/// A cached reorder between two layouts of the same weights, with a
/// user-managed scratchpad like the convolutions (tasks run it concurrently).
struct Reorder {
  dnnl::reorder::primitive_desc pd;
  dnnl::reorder prim;
  Reorder(const memory::desc& from, const memory::desc& to, const dnnl::primitive_attr& attr)
      : pd(cpu_engine(), from, cpu_engine(), to, attr), prim(pd) {}
  void operator()(const void* from, void* to) {
    run(prim, {{DNNL_ARG_FROM, memory(pd.src_desc(), cpu_engine(), mut(from))},
               {DNNL_ARG_TO, memory(pd.dst_desc(), cpu_engine(), to)},
               {DNNL_ARG_SCRATCHPAD, scratchpad(pd.scratchpad_desc())}});
  }
};

}  // namespace

struct DnnlConv2d::Primitives {
  Index samples = 0;
  memory::desc src, dst, diff_dst, diff_src, user_weights, bias;
  dnnl::primitive_attr attr;  // user-managed scratchpad: each task brings its thread's own
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  std::optional<dnnl::convolution_backward_data::primitive_desc> bwd_data_pd;
  std::optional<dnnl::convolution_backward_data> bwd_data;
  std::optional<dnnl::convolution_backward_weights::primitive_desc> bwd_w_pd;
  std::optional<dnnl::convolution_backward_weights> bwd_w;
  // The weights in a primitive's layout when it is not ours (refreshed once per
  // call, before the tasks start), and the reorders into it and out of the
  // backward-weights layout; unset where ours is used in place.
  std::vector<char> fwd_weights, bwd_data_weights;
  const void* fwd_w = nullptr;
  const void* bwd_data_w = nullptr;
  std::optional<Reorder> to_fwd, to_bwd_data, from_diff;

  /// Points `w` at W in the layout `md` wants, reordering into `buffer` through `r`.
  void weights_for(const memory::desc& md, const float* W, std::optional<Reorder>& r, std::vector<char>& buffer,
                   const void*& w) {
    if (md == user_weights) {
      w = W;
      return;
    }
    if (!r) r.emplace(user_weights, md, attr);
    buffer.resize(md.get_size());
    (*r)(W, buffer.data());
    w = buffer.data();
  }
};

DnnlConv2d::DnnlConv2d(const WindowGeometry& g, Index c_out, Precision precision)
    : g_(g), c_out_(c_out), precision_(precision) {
  if (c_out < 1 || g.channels < 1 || g.kernel < 1 || g.stride < 1 || g.pad < 0 || g.out_height < 1 ||
      g.out_width < 1)
    throw std::invalid_argument("DnnlConv2d: invalid convolution (c_in " + std::to_string(g.channels) + ", c_out " +
                                std::to_string(c_out) + ", kernel " + std::to_string(g.kernel) + ", output " +
                                std::to_string(g.out_height) + "x" + std::to_string(g.out_width) + ")");
  zero_bias_.assign(static_cast<std::size_t>(c_out), 0.f);
}

DnnlConv2d::~DnnlConv2d() = default;
DnnlConv2d::DnnlConv2d(const DnnlConv2d& other) : DnnlConv2d(other.g_, other.c_out_, other.precision_) {}
DnnlConv2d& DnnlConv2d::operator=(const DnnlConv2d& other) {
  if (this != &other) {
    g_ = other.g_;
    c_out_ = other.c_out_;
    precision_ = other.precision_;
    cache_.clear();
    zero_bias_.assign(static_cast<std::size_t>(c_out_), 0.f);
  }
  return *this;
}

DnnlConv2d::Primitives& DnnlConv2d::primitives(Index samples) {
  auto& slot = cache_[samples];
  if (slot) return *slot;
  if (precision_ == Precision::BF16) {
    const std::string why = bf16_unsupported_reason();
    if (!why.empty()) throw std::runtime_error("DnnlConv2d: bf16 convolution: " + why);
  }
  const dt in_type = input_type(precision_);
  const OneOmpThread one;
  auto p = std::make_unique<Primitives>();
  p->samples = samples;
  const memory::dims strides{g_.stride, g_.stride}, pad{g_.pad, g_.pad};
  // src and dst as the forward primitive reads and writes them (dst stays f32);
  // the backward primitives read dG as `diff_dst` (bf16 in bf16 precision) and
  // write dX as `diff_src` (f32).
  p->src = nhwc(samples, g_.channels, g_.height, g_.width, in_type);
  p->dst = nhwc(samples, c_out_, g_.out_height, g_.out_width);
  p->diff_dst = nhwc(samples, c_out_, g_.out_height, g_.out_width, in_type);
  p->diff_src = nhwc(samples, g_.channels, g_.height, g_.width);
  // W (c_out, c_in·k·k) column-major: c_out fastest, then kw, kh, c_in.
  p->user_weights = memory::desc({c_out_, g_.channels, g_.kernel, g_.kernel}, dt::f32, tag::ihwo);
  p->bias = memory::desc({c_out_}, dt::f32, tag::x);
  const memory::desc any_weights({c_out_, g_.channels, g_.kernel, g_.kernel}, in_type, tag::any);
  p->attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  p->fwd_pd = dnnl::convolution_forward::primitive_desc(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, p->src,
                                      any_weights, p->bias, p->dst, strides, pad, pad),
      p->attr, cpu_engine());
  p->fwd = dnnl::convolution_forward(p->fwd_pd);
  slot = std::move(p);
  return *slot;
}

template <typename Fn>
void DnnlConv2d::run_tasks(Index m, Fn&& fn) {
  const Index s = samples_per_task();
  const Index tasks = (m + s - 1) / s;
  parallel_for(tasks, [&](std::int64_t t) {
    const OneOmpThread one;
    const Index first = static_cast<Index>(t) * s;
    fn(first, std::min(s, m - first), static_cast<Index>(t));
  });
}

void DnnlConv2d::forward(const float* X, Index m, const float* W, const float* b, float* G) {
  if (m <= 0) return;
  const Index s = samples_per_task();
  Primitives* by_size[2] = {&primitives(std::min(s, m)), &primitives(m - (m - 1) / s * s)};
  {
    const OneOmpThread one;
    for (Primitives* p : by_size) p->weights_for(p->fwd_pd.weights_desc(), W, p->to_fwd, p->fwd_weights, p->fwd_w);
  }
  const float* bias = b ? b : zero_bias_.data();
  const Index in_per_sample = g_.channels * g_.height * g_.width;
  const Index out_per_sample = c_out_ * g_.out_height * g_.out_width;
  run_tasks(m, [&](Index first, Index samples, Index) {
    Primitives& p = *by_size[samples == std::min(s, m) ? 0 : 1];
    void* x = input_for(p.src.data_type(), X + first * in_per_sample, samples * in_per_sample, dnnl_util::kBf16A);
    run(p.fwd, {{DNNL_ARG_SRC, memory(p.src, cpu_engine(), x)},
                {DNNL_ARG_WEIGHTS, memory(p.fwd_pd.weights_desc(), cpu_engine(), mut(p.fwd_w))},
                {DNNL_ARG_BIAS, memory(p.bias, cpu_engine(), mut(bias))},
                {DNNL_ARG_DST, memory(p.dst, cpu_engine(), G + first * out_per_sample)},
                {DNNL_ARG_SCRATCHPAD, scratchpad(p.fwd_pd.scratchpad_desc())}});
  });
}

void DnnlConv2d::backward_data(const float* dG, Index m, const float* W, float* dX) {
  if (m <= 0) return;
  const Index s = samples_per_task();
  Primitives* by_size[2] = {&primitives(std::min(s, m)), &primitives(m - (m - 1) / s * s)};
  {
    const OneOmpThread one;
    const memory::dims strides{g_.stride, g_.stride}, pad{g_.pad, g_.pad};
    for (Primitives* p : by_size) {
      if (!p->bwd_data) {
        const memory::desc any_weights({c_out_, g_.channels, g_.kernel, g_.kernel}, input_type(precision_),
                                       tag::any);
        p->bwd_data_pd.emplace(dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct,
                                                                     p->diff_src, any_weights, p->diff_dst, strides,
                                                                     pad, pad),
                               p->attr, cpu_engine(), p->fwd_pd);
        p->bwd_data.emplace(*p->bwd_data_pd);
      }
      p->weights_for(p->bwd_data_pd->weights_desc(), W, p->to_bwd_data, p->bwd_data_weights, p->bwd_data_w);
    }
  }
  const Index in_per_sample = g_.channels * g_.height * g_.width;
  const Index out_per_sample = c_out_ * g_.out_height * g_.out_width;
  run_tasks(m, [&](Index first, Index samples, Index) {
    Primitives& p = *by_size[samples == std::min(s, m) ? 0 : 1];
    void* dy = input_for(p.diff_dst.data_type(), dG + first * out_per_sample, samples * out_per_sample,
                         dnnl_util::kBf16B);
    run(*p.bwd_data,
        {{DNNL_ARG_DIFF_DST, memory(p.diff_dst, cpu_engine(), dy)},
         {DNNL_ARG_WEIGHTS, memory(p.bwd_data_pd->weights_desc(), cpu_engine(), mut(p.bwd_data_w))},
         {DNNL_ARG_DIFF_SRC, memory(p.diff_src, cpu_engine(), dX + first * in_per_sample)},
         {DNNL_ARG_SCRATCHPAD, scratchpad(p.bwd_data_pd->scratchpad_desc())}});
  });
}

void DnnlConv2d::backward_weights(const float* X, const float* dG, Index m, float* dW, float* db) {
  const Index d = g_.patch_rows(), len = c_out_ * (d + 1);  // a task's partial: dW, then db
  if (m <= 0) {
    std::fill(dW, dW + c_out_ * d, 0.f);
    if (db) std::fill(db, db + c_out_, 0.f);
    return;
  }
  const Index s = samples_per_task(), tasks = (m + s - 1) / s;
  Primitives* by_size[2] = {&primitives(std::min(s, m)), &primitives(m - (tasks - 1) * s)};
  {
    const OneOmpThread one;
    const memory::dims strides{g_.stride, g_.stride}, pad{g_.pad, g_.pad};
    for (Primitives* p : by_size) {
      if (p->bwd_w) continue;
      // The weight gradient stays f32 (accumulated over the batch).
      const memory::desc any_weights({c_out_, g_.channels, g_.kernel, g_.kernel}, dt::f32, tag::any);
      p->bwd_w_pd.emplace(dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, p->src,
                                                                   any_weights, p->bias, p->diff_dst, strides, pad,
                                                                   pad),
                          p->attr, cpu_engine(), p->fwd_pd);
      p->bwd_w.emplace(*p->bwd_w_pd);
      if (p->bwd_w_pd->diff_weights_desc() != p->user_weights)
        p->from_diff.emplace(p->bwd_w_pd->diff_weights_desc(), p->user_weights, p->attr);
    }
  }
  partial_.resize(static_cast<std::size_t>(tasks * len));
  const Index in_per_sample = g_.channels * g_.height * g_.width;
  const Index out_per_sample = c_out_ * g_.out_height * g_.out_width;
  run_tasks(m, [&](Index first, Index samples, Index t) {
    Primitives& p = *by_size[samples == std::min(s, m) ? 0 : 1];
    float* part = partial_.data() + t * len;
    const memory::desc& diff_w_md = p.bwd_w_pd->diff_weights_desc();
    void* diff_w = p.from_diff ? thread_scratch(1, diff_w_md.get_size()) : static_cast<void*>(part);
    void* x = input_for(p.src.data_type(), X + first * in_per_sample, samples * in_per_sample, dnnl_util::kBf16A);
    void* dy = input_for(p.diff_dst.data_type(), dG + first * out_per_sample, samples * out_per_sample,
                         dnnl_util::kBf16B);
    run(*p.bwd_w, {{DNNL_ARG_SRC, memory(p.src, cpu_engine(), x)},
                   {DNNL_ARG_DIFF_DST, memory(p.diff_dst, cpu_engine(), dy)},
                   {DNNL_ARG_DIFF_WEIGHTS, memory(diff_w_md, cpu_engine(), diff_w)},
                   {DNNL_ARG_DIFF_BIAS, memory(p.bias, cpu_engine(), part + c_out_ * d)},
                   {DNNL_ARG_SCRATCHPAD, scratchpad(p.bwd_w_pd->scratchpad_desc())}});
    if (p.from_diff) (*p.from_diff)(diff_w, part);
  });
  // Σ over tasks in task order: the same sum whichever thread ran which task.
  std::copy(partial_.data(), partial_.data() + c_out_ * d, dW);
  if (db) std::copy(partial_.data() + c_out_ * d, partial_.data() + len, db);
  for (Index t = 1; t < tasks; ++t) {
    const float* part = partial_.data() + t * len;
    for (Index i = 0; i < c_out_ * d; ++i) dW[i] += part[i];
    if (db)
      for (Index i = 0; i < c_out_; ++i) db[i] += part[c_out_ * d + i];
  }
}

// ---------------------------------------------------------------- 2×2 max-pool

namespace {

// One output pixel over C channels from the window's four inputs: y = their
// maximum, a = the winner's position (the reference loop's rule: a later entry
// wins if it is greater, or if it is NaN).
template <typename T>
inline void pool4_forward(const T* x0, const T* x1, const T* x2, const T* x3, T* y, std::uint8_t* a, Index C) {
  Index c = 0;
#if defined(__AVX512F__)
  // GCC does not vectorise this loop for C = 16: it sizes its vectors by the
  // uint8 argmax (64 lanes), and the scalar loop ran 25× slower (REPORT.md).
  if constexpr (std::is_same_v<T, float>) {
    const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2), three = _mm512_set1_epi32(3);
    for (; c + 16 <= C; c += 16) {
      __m512 best = _mm512_loadu_ps(x0 + c);
      __m512i k = _mm512_setzero_si512();
      auto take = [&](const float* x, __m512i pos) {
        const __m512 v = _mm512_loadu_ps(x + c);
        const __mmask16 win = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        best = _mm512_mask_mov_ps(best, win, v);
        k = _mm512_mask_mov_epi32(k, win, pos);
      };
      take(x1, one);
      take(x2, two);
      take(x3, three);
      _mm512_storeu_ps(y + c, best);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(a + c), _mm512_cvtepi32_epi8(k));
    }
  }
#endif
  for (; c < C; ++c) {
    T best = x0[c];
    std::uint8_t k = 0;
    const T* xs[3] = {x1, x2, x3};
    for (std::uint8_t j = 0; j < 3; ++j) {
      const T v = xs[j][c];
      if (v > best || v != v) {
        best = v;
        k = static_cast<std::uint8_t>(j + 1);
      }
    }
    y[c] = best;
    a[c] = k;
  }
}

template <typename T>
inline void pool4_backward(const T* dy, const std::uint8_t* a, T* x0, T* x1, T* x2, T* x3, Index C) {
  Index c = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    for (; c + 16 <= C; c += 16) {
      const __m512i k = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + c)));
      const __m512 g = _mm512_loadu_ps(dy + c);
      _mm512_storeu_ps(x0 + c, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(0)), g));
      _mm512_storeu_ps(x1 + c, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(1)), g));
      _mm512_storeu_ps(x2 + c, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(2)), g));
      _mm512_storeu_ps(x3 + c, _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(k, _mm512_set1_epi32(3)), g));
    }
  }
#endif
  for (; c < C; ++c) {
    x0[c] = a[c] == 0 ? dy[c] : T(0);
    x1[c] = a[c] == 1 ? dy[c] : T(0);
    x2[c] = a[c] == 2 ? dy[c] : T(0);
    x3[c] = a[c] == 3 ? dy[c] : T(0);
  }
}

}  // namespace

template <typename T>
void maxpool2x2_forward(Index C, Index m, Index H, Index W, const T* X, T* Y, std::uint8_t* argmax) {
  const Index ho = H / 2, wo = W / 2;
  for (Index n = 0; n < m; ++n)
    for (Index oy = 0; oy < ho; ++oy)
      for (Index ox = 0; ox < wo; ++ox) {
        const Index o = (n * ho + oy) * wo + ox;
        const T* x0 = X + C * ((n * H + 2 * oy) * W + 2 * ox);
        pool4_forward<T>(x0, x0 + C, x0 + C * W, x0 + C * W + C, Y + C * o, argmax + C * o, C);
      }
}

template <typename T>
void maxpool2x2_backward(Index C, Index m, Index H, Index W, const T* dY, const std::uint8_t* argmax, T* dX) {
  const Index ho = H / 2, wo = W / 2;
  // An odd last row or column belongs to no window; every other entry is written below.
  if (H % 2 || W % 2) std::fill(dX, dX + C * m * H * W, T(0));
  for (Index n = 0; n < m; ++n)
    for (Index oy = 0; oy < ho; ++oy)
      for (Index ox = 0; ox < wo; ++ox) {
        const Index o = (n * ho + oy) * wo + ox;
        T* x0 = dX + C * ((n * H + 2 * oy) * W + 2 * ox);
        pool4_backward<T>(dY + C * o, argmax + C * o, x0, x0 + C, x0 + C * W, x0 + C * W + C, C);
      }
}

#define SIBP_INSTANTIATE(T)                                                                                     \
  template void maxpool2x2_forward<T>(Index, Index, Index, Index, const T*, T*, std::uint8_t*);                \
  template void maxpool2x2_backward<T>(Index, Index, Index, Index, const T*, const std::uint8_t*, T*);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
