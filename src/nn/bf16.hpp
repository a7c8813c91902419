#pragma once
/// bfloat16 products (`--precision bf16`): the approach of PyTorch's CPU
/// autocast. A product's inputs are rounded to bf16 (8 bits of mantissa), the
/// product is accumulated and stored in float32 by oneDNN's AVX512-BF16
/// kernels, and everything else — master weights, activations, losses,
/// updates, every solver — stays float32.
///
/// Why: AVX512-BF16 doubles the rate of matrix products (1.9–2.7× oneDNN's f32
/// on the 784-500-10 shapes, docs/kernels-report.md question 3). Why only the
/// products of the forward and backward passes: bf16 keeps 8 significant bits
/// (a relative rounding of up to 2⁻⁸ per input), so each product is off by
/// 0.2–0.4 % (REPORT.md question 5), harmless for a gradient direction but a
/// floor of ~1e-3 on any solver's relative residual.
#include <cstdint>
#include <string>

#include "core/types.hpp"
#include "linalg/gemm.hpp"

namespace sibp {

/// The inputs of a float network's forward and backward products: F32, or
/// BF16 (inputs rounded to bf16, float32 accumulation and output).
enum class Precision { F32, BF16 };
/// "f32", "bf16".
std::string to_string(Precision p);

/// Empty when this CPU and oneDNN run bf16 products natively (AVX512-BF16);
/// otherwise why not, in one sentence naming the missing CPU feature.
/// oneDNN's ISA cap (DNNL_MAX_CPU_ISA) counts: a process capped below
/// avx512_core_bf16 would run bf16 through slow emulation or fail.
std::string bf16_unsupported_reason();

/// The bf16 bits of x rounded to nearest even (NaN stays a quiet NaN, ±inf stays).
inline std::uint16_t float_to_bf16(float x) {
  std::uint32_t u;
  __builtin_memcpy(&u, &x, 4);
  const std::uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const bool nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  return static_cast<std::uint16_t>(nan ? ((u >> 16) | 0x40u) : rounded);
}
/// The float a bf16 value stands for (exact).
inline float bf16_to_float(std::uint16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float x;
  __builtin_memcpy(&x, &u, 4);
  return x;
}
/// y[i] ← float_to_bf16(x[i]) for i < n.
void to_bf16(const float* x, std::int64_t n, std::uint16_t* y);

/// C = op(A)·op(B) with A and B rounded to bf16, accumulated and written in
/// float32 (oneDNN matmul, one OpenMP thread per call). Cut into the same
/// shape-determined chunks as gemm() (linalg/gemm.hpp) over the thread pool, so
/// results are bit-identical for any thread count.
/// Requires: bf16_unsupported_reason() is empty (else std::runtime_error); the
/// shapes agree (else std::invalid_argument); C does not alias A or B.
void gemm_bf16(const Eigen::Ref<const Mat<float>>& A, Trans opA, const Eigen::Ref<const Mat<float>>& B, Trans opB,
               Eigen::Ref<Mat<float>> C);

}  // namespace sibp
