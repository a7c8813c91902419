#pragma once
/// Ridge (linear proximal) solves: the exact SIBP prox of a linear layer
/// (ALGORITHMS.md §3.3 b) and ProxProp's layer update (§4).
///
/// Scaling, precisely. Every function here minimises
///
///     ψ(W) = ‖W F − R‖² + λ‖W − W0‖²                       (Frobenius norms)
///
/// whose minimiser solves W(λI + F Fᵀ) = λW0 + R Fᵀ. Multiplying ψ by any
/// constant does not move the minimiser, so:
/// - SIBP's prox (§3, no ½ anywhere): λ = λ_l.
/// - ProxProp (§4): ½‖θ F̃ − Target‖² + 1/(2τ)‖θ − θ^k‖² = ½ψ with λ = 1/τ.
///   Pass lambda = 1/tau — NOT 1/(2τ) and NOT 2/τ.
/// The bias variants append a row of ones to F (F̃ = [F; 1ᵀ], θ = [W b]), so
/// b is penalised with the same λ as W.
#include <Eigen/Cholesky>
#include <string>
#include <string_view>

#include "core/types.hpp"
#include "linalg/cg.hpp"
#include "linalg/layer_input.hpp"
#include "linalg/sample_space_cg.hpp"

namespace sibp {

/// How the normal equations are solved.
enum class RidgeMethod {
  Auto,      ///< Woodbury when m < d (F is d×m), else Cholesky
  Cholesky,  ///< factor the d×d matrix λI + F Fᵀ (LLT)
  Woodbury,  ///< factor the m×m matrix λI + FᵀF: W = W0 + (R − W0 F)(λI + FᵀF)⁻¹ Fᵀ
};

/// Parses "auto", "cholesky", "woodbury"; throws UsageError naming `option` otherwise.
RidgeMethod parse_ridge_method(std::string_view name, std::string_view option = "ridge method");
std::string to_string(RidgeMethod m);

/// The method Auto picks for an input F of d rows and m columns.
inline RidgeMethod resolve_ridge_method(RidgeMethod method, Index d, Index m) {
  if (method != RidgeMethod::Auto) return method;
  return m < d ? RidgeMethod::Woodbury : RidgeMethod::Cholesky;
}

/// Exact and CG ridge solves with reusable workspace: solving the same
/// shapes again allocates nothing in this class (Eigen's GEMM may still use
/// its own blocking buffers).
template <typename T>
class RidgeSolver {
 public:
  /// `method` is the default for solve()/solve_with_bias(); tests force Cholesky or Woodbury.
  explicit RidgeSolver(RidgeMethod method = RidgeMethod::Auto) : method_(method) {}

  /// W ← argmin ‖W F − R‖² + λ‖W − W0‖².
  /// Requires: F (d, m); R (d_out, m); W0 and W (d_out, d); λ > 0. W may alias W0.
  /// Returns the method actually used (Auto resolved).
  RidgeMethod solve(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& R,
                    const Eigen::Ref<const Mat<T>>& W0, double lambda, Eigen::Ref<Mat<T>> W);

  /// [W b] ← argmin ‖W F + b 1ᵀ − Target‖² + λ‖W − W0‖² + λ‖b − b0‖² (joint solve
  /// with F̃ = [F; 1ᵀ]; ProxProp's exact mode with λ = 1/τ).
  /// Requires: as solve(); b0, b (d_out). W, b may alias W0, b0. Returns the method used
  /// (decided on d + 1 rows).
  RidgeMethod solve_with_bias(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& target,
                              const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Vec<T>>& b0,
                              double lambda, Eigen::Ref<Mat<T>> W, Eigen::Ref<Vec<T>> b);

  /// Approximate solve: CG (multi-RHS, one system per row of W) on the normal equations
  /// W(λI + FFᵀ) = λW0 + RFᵀ, warm-started at W0, for at most options.max_iterations
  /// steps (tolerance 0 = exactly that many). In sample space the same iterates are
  /// computed as W = W0 + Z Fᵀ (one m×m product per step, SampleSpaceCg), in
  /// parameter space matrix-free, X ↦ λX + (XF)Fᵀ: Woodbury forces sample space,
  /// Cholesky parameter space, and Auto takes the cheaper by the cost model SIBP's
  /// Gauss–Newton CG uses (resolve_cg_space). Requires/aliasing as solve().
  CgReport solve_cg(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& R,
                    const Eigen::Ref<const Mat<T>>& W0, double lambda, const CgOptions& options,
                    Eigen::Ref<Mat<T>> W);
  /// The same with CgOptions{iterations, tolerance} (relative stopping test, no eps).
  CgReport solve_cg(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& R,
                    const Eigen::Ref<const Mat<T>>& W0, double lambda, int iterations,
                    Eigen::Ref<Mat<T>> W, double tolerance = 0.0);

  /// The CG version of solve_with_bias (ProxProp's `cgN` with λ = 1/τ).
  CgReport solve_with_bias_cg(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& target,
                              const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Vec<T>>& b0,
                              double lambda, const CgOptions& options, Eigen::Ref<Mat<T>> W,
                              Eigen::Ref<Vec<T>> b);
  CgReport solve_with_bias_cg(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& target,
                              const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Vec<T>>& b0,
                              double lambda, int iterations, Eigen::Ref<Mat<T>> W, Eigen::Ref<Vec<T>> b,
                              double tolerance = 0.0);
  /// The same for an input known through its products (a convolution's patch
  /// matrix, linalg/layer_input.hpp). An input that holds its matrix goes the way
  /// above; otherwise sample space (as solve_cg chooses it) forms F (F.matrix_or),
  /// and parameter space runs CG on F's products with F̃'s row of ones implicit:
  /// two operator applications per step, F never formed. `space` other than Auto
  /// forces one (a sharded input, which cannot form F, needs Parameter, decided by
  /// the caller the same way on every rank).
  CgReport solve_with_bias_cg(const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& target,
                              const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Vec<T>>& b0,
                              double lambda, const CgOptions& options, Eigen::Ref<Mat<T>> W,
                              Eigen::Ref<Vec<T>> b, CgSpace space = CgSpace::Auto);

  RidgeMethod method() const { return method_; }

 private:
  // Where the CG forms run: a forced method keeps its space (Woodbury: sample,
  // Cholesky: parameter); Auto asks the cost model that SIBP's Gauss–Newton CG uses
  // (resolve_cg_space), for d_out rows of d unknowns over m columns.
  bool cg_in_sample_space(Index d_out, Index d, Index m, const CgOptions& options) const;
  void append_ones_row(const Eigen::Ref<const Mat<T>>& F);
  void join(const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Vec<T>>& b0);
  // X_ ← CG on X ↦ λX + (X Ã) Ãᵀ = λθ0 + R Ãᵀ from θ0, with Ã = A, or [A; 1ᵀ] when
  // `ones` (θ0 then has a last column for it). Arguments checked by the caller.
  CgReport solve_cg_in_parameter_space(const LayerInput<T>& A, bool ones, const Eigen::Ref<const Mat<T>>& R,
                                       const Eigen::Ref<const Mat<T>>& theta0, T lam, const CgOptions& options);
  // CG in the span of Fᵀ (F with a ones row when b0/b are given). Arguments checked by the caller.
  CgReport solve_cg_in_sample_space(const Eigen::Ref<const Mat<T>>& F, const Eigen::Ref<const Mat<T>>& R,
                                    const Eigen::Ref<const Mat<T>>& W0, const Eigen::Ref<const Vec<T>>* b0,
                                    T lam, const CgOptions& options, Eigen::Ref<Mat<T>> W,
                                    Eigen::Ref<Vec<T>>* b);

  RidgeMethod method_;
  Mat<T> E_;        // (d_out, m): R − W0 F
  Mat<T> K_;        // (m, m) Woodbury, or (d, d) Cholesky: the matrix factored
  Mat<T> Z_;        // (m, d_out) or (d, d_out): solved right-hand sides, transposed;
                    // (d_out, m) in sample-space CG: the iterate's coefficients
  Eigen::LLT<Mat<T>> llt_;
  Mat<T> Ft_;       // (d + 1, m): [F; 1ᵀ]
  Mat<T> theta0_;   // (d_out, d + 1): [W0 b0]
  Mat<T> theta_;    // (d_out, d + 1): [W b]
  Mat<T> rhs_;      // (d_out, d): CG right-hand side λW0 + R Fᵀ
  Mat<T> X_;        // (d_out, d): CG iterate
  Mat<T> XF_;       // (d_out, m): CG operator intermediate
  Mat<T> Fx_;       // (d, m): F formed from an input that does not hold it
  BlockCg<T> cg_;
  SampleSpaceCg<T> sample_cg_;
  Vec<T> cg_bnorm_, cg_cross_;  // (d_out): ‖right-hand side‖ per row; (θ0F̃)_i·R_i
};

}  // namespace sibp
