#include "nn/bf16.hpp"

#include <cpuid.h>

#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>

#include "core/thread_pool.hpp"
#include "nn/dnnl_util.hpp"

namespace sibp {

std::string to_string(Precision p) { return p == Precision::BF16 ? "bf16" : "f32"; }

namespace {

// CPUID leaf 7, sub-leaf 1, EAX bit 5: AVX512_BF16. (AVX-512 itself, and the
// operating system's saving of its registers, oneDNN's ISA query checks.)
bool cpu_reports_avx512_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a >> 5) & 1u;
}

}  // namespace

std::string bf16_unsupported_reason() {
  if (!cpu_reports_avx512_bf16())
    return "this CPU lacks the avx512_bf16 instructions (AVX512-BF16) that bf16 products need";
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto need = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  if ((isa & need) != need)
    return "oneDNN may not use this CPU's avx512_bf16 instructions (its ISA is capped below avx512_core_bf16, "
           "e.g. by DNNL_MAX_CPU_ISA)";
  return {};
}

void to_bf16(const float* x, std::int64_t n, std::uint16_t* y) {
  // Written so that GCC vectorises it (a select, no branch).
  for (std::int64_t i = 0; i < n; ++i) y[i] = float_to_bf16(x[i]);
}

namespace {

using dnnl::memory;
using dt = memory::data_type;

/// One matmul primitive per chunk shape and operand layout; created once, under
/// the mutex, executed concurrently (user-managed scratchpads, one stream per thread).
struct MatmulKey {
  Index rn, cn, K;
  bool tA, tB;
  Index lda, ldb, ldc;
  auto tie() const { return std::tie(rn, cn, K, tA, tB, lda, ldb, ldc); }
  bool operator<(const MatmulKey& o) const { return tie() < o.tie(); }
};

struct Matmul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

Matmul& matmul_for(const MatmulKey& k) {
  static std::mutex mutex;
  static std::map<MatmulKey, std::unique_ptr<Matmul>> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[k];
  if (!slot) {
    const dnnl_util::OneOmpThread one;
    // Column-major C (rn×cn) is row-major Cᵀ (cn×rn) = op(B)ᵀ·op(A)ᵀ: oneDNN's
    // src is op(B)ᵀ (cn×K) and its weights op(A)ᵀ (K×rn), read in place by strides.
    const memory::dims src_strides = k.tB ? memory::dims{1, k.ldb} : memory::dims{k.ldb, 1};
    const memory::dims wei_strides = k.tA ? memory::dims{1, k.lda} : memory::dims{k.lda, 1};
    const memory::desc src({k.cn, k.K}, dt::bf16, src_strides), wei({k.K, k.rn}, dt::bf16, wei_strides);
    const memory::desc dst({k.cn, k.rn}, dt::f32, memory::dims{k.ldc, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, dst), attr, dnnl_util::cpu_engine());
    slot = std::make_unique<Matmul>(Matmul{pd, dnnl::matmul(pd)});
  }
  return *slot;
}

/// x (rows × cols, outer stride ld) → y, contiguous (rows × cols) in bf16, in
/// column chunks on the pool (element-wise: the same bits however cut).
void convert(const Eigen::Ref<const Mat<float>>& x, std::uint16_t* y) {
  const Index rows = x.rows(), ld = x.outerStride();
  for_column_chunks(rows, x.cols(), [&](std::int64_t, Index c0, Index cn) {
    if (ld == rows) {
      to_bf16(x.data() + c0 * ld, rows * cn, y + c0 * rows);
      return;
    }
    for (Index c = c0; c < c0 + cn; ++c) to_bf16(x.data() + c * ld, rows, y + c * rows);
  });
}

}  // namespace

void gemm_bf16(const Eigen::Ref<const Mat<float>>& A, Trans opA, const Eigen::Ref<const Mat<float>>& B, Trans opB,
               Eigen::Ref<Mat<float>> C) {
  const bool tA = opA == Trans::Yes, tB = opB == Trans::Yes;
  const Index M = tA ? A.cols() : A.rows(), K = tA ? A.rows() : A.cols();
  const Index Kb = tB ? B.cols() : B.rows(), N = tB ? B.rows() : B.cols();
  if (K != Kb || C.rows() != M || C.cols() != N)
    throw std::invalid_argument("gemm_bf16: shapes do not agree (" + std::to_string(M) + "x" + std::to_string(K) +
                                " times " + std::to_string(Kb) + "x" + std::to_string(N) + " into " +
                                std::to_string(C.rows()) + "x" + std::to_string(C.cols()) + ")");
  if (M == 0 || N == 0) return;
  if (K == 0) {
    C.setZero();
    return;
  }
  static const std::string unsupported = bf16_unsupported_reason();
  if (!unsupported.empty()) throw std::runtime_error("gemm_bf16: " + unsupported);
  // The operands in bf16, in this thread's scratch (contiguous: ld = rows).
  auto* a16 = static_cast<std::uint16_t*>(dnnl_util::thread_scratch(dnnl_util::kBf16A, 2 * A.size()));
  auto* b16 = static_cast<std::uint16_t*>(dnnl_util::thread_scratch(dnnl_util::kBf16B, 2 * B.size()));
  convert(A, a16);
  convert(B, b16);
  const Index lda = A.rows(), ldb = B.rows(), ldc = C.outerStride();
  const GemmChunks ch = gemm_chunks(M, N, K);
  const Index len = ch.split_cols ? N : M;
  parallel_for(ch.count, [&](std::int64_t t) {
    const Index s = static_cast<Index>(t) * ch.size;
    const Index n = std::min(ch.size, len - s);
    const Index r0 = ch.split_cols ? 0 : s, rn = ch.split_cols ? M : n;
    const Index c0 = ch.split_cols ? s : 0, cn = ch.split_cols ? n : N;
    Matmul& mm = matmul_for({rn, cn, K, tA, tB, lda, ldb, ldc});
    const dnnl_util::OneOmpThread one;
    // Row r0 of op(A) and column c0 of op(B) in the bf16 copies.
    const std::uint16_t* a = a16 + (tA ? r0 * lda : r0);
    const std::uint16_t* b = b16 + (tB ? c0 : c0 * ldb);
    auto& eng = dnnl_util::cpu_engine();
    mm.prim.execute(dnnl_util::cpu_stream(),
                    {{DNNL_ARG_SRC, memory(mm.pd.src_desc(), eng, const_cast<std::uint16_t*>(b))},
                     {DNNL_ARG_WEIGHTS, memory(mm.pd.weights_desc(), eng, const_cast<std::uint16_t*>(a))},
                     {DNNL_ARG_DST, memory(mm.pd.dst_desc(), eng, C.data() + r0 + c0 * ldc)},
                     {DNNL_ARG_SCRATCHPAD,
                      memory(mm.pd.scratchpad_desc(), eng,
                             dnnl_util::thread_scratch(dnnl_util::kPrimitive, mm.pd.scratchpad_desc().get_size()))}});
    dnnl_util::cpu_stream().wait();
  });
}

}  // namespace sibp
