#pragma once
/// Conjugate gradient for the layer problems of this project, run in sample space.
///
/// ProxProp's `cgN` (ALGORITHMS.md §4) and SIBP's Gauss–Newton CG (§3.3 c) both
/// solve, one system per row x of a d_out×d matrix, warm-started at θ0,
///
///     x ↦ λx + ((x F̃) ⊙ w) F̃ᵀ = b,   with b − A(θ0) = s0 F̃ᵀ,
///
/// where F̃ is d×m (a layer's input with a ones row), w ≥ 0 per entry of x F̃
/// (all ones for ProxProp, σ'(G)² for Gauss–Newton) and s0 a d_out×m matrix.
/// Then every residual, direction and iterate minus θ0 is a coefficient matrix
/// times F̃ᵀ, the operator maps Z F̃ᵀ to (λZ + (ZK) ⊙ w) F̃ᵀ with K = F̃ᵀF̃, and
/// the row inner products are ⟨A F̃ᵀ, B F̃ᵀ⟩_i = (AK)_i · B_i. Run on the
/// coefficients, CG follows the same iterates as in parameter space (BlockCg on
/// the d-dimensional rows) in exact arithmetic, but each step is one
/// (d_out×m)(m×m) product instead of two (d_out×d)(d×m) ones and passes over
/// d_out×d matrices. It pays when m < d: MNIST's first layer has d = 785, m = 100.
#include <string>
#include <string_view>

#include "core/types.hpp"
#include "linalg/cg.hpp"

namespace sibp {

/// Where a layer problem's CG runs: on the d-dimensional rows themselves
/// (parameter space) or on their m coefficients (sample space, below). Auto
/// lets the solver decide from the problem's shapes (for SIBP's Gauss–Newton CG,
/// train/prox_fast.hpp's cost model).
enum class CgSpace { Auto, Sample, Parameter };
/// Parses "auto", "sample", "parameter"; throws UsageError naming `option` otherwise.
CgSpace parse_cg_space(std::string_view name, std::string_view option = "cg space");
std::string to_string(CgSpace space);

/// Estimated cost of CG on one layer problem (d_out rows of d = d_in + 1 unknowns,
/// n columns, `iterations` steps, started from 0) in each space, in
/// flop-equivalents: 2 per multiply-add of the products, kElementCost per element
/// an element-wise pass reads or writes (ALGORITHMS.md §3.3 d). SIBP's Gauss–Newton
/// CG and ProxProp's ridge CG both choose their space by it (resolve_cg_space).
///   sample:    Gram F̃ᵀF̃ (n²d/2 multiply-adds, a SYRK), one d_out×n×n product per
///              step, the update Z F̃ᵀ (d_out·n·d); passes over d_out×n matrices.
///   parameter: the right-hand side (d_out·n·d), two d_out×d×n products per step,
///              but one for the last when `last_step_energy` (BlockEnergy in
///              linalg/cg.hpp); passes over d_out×d and d_out×n matrices.
struct LayerCgCost {
  double sample = 0;
  double parameter = 0;
};
/// Flop-equivalents of one element read or written by an element-wise pass: on
/// the project machine one core runs these products at 95–125 GFLOP/s and the
/// CG's passes over its 500×100 coefficient matrices touched about 26 G floats
/// per second (0.2 ms for the 5 steps of a batch-100 MNIST solve).
inline constexpr double kElementCost = 4.0;
LayerCgCost layer_cg_cost(Index d_out, Index d_in, Index n, int iterations, bool last_step_energy);
/// `space`, or for Auto the cheaper space by layer_cg_cost(); over `ranks`
/// data-parallel ranks (n the whole batch's columns) the parameter space's cost
/// counts 1/ranks (its products are split, a sample-space solve is repeated whole).
CgSpace resolve_cg_space(CgSpace space, Index d_out, Index d_in, Index n, int iterations, int ranks = 1,
                         bool last_step_energy = true);

/// K ← F̃ᵀF̃ (m×m, both triangles) for F̃ = F, or F̃ = [F; 1ᵀ] when `ones_row`
/// (which adds 1 to every entry): the Gram matrix of a batch's columns that the
/// sample-space solvers work with.
template <typename T>
void gram_of_columns(const Eigen::Ref<const Mat<T>>& F, bool ones_row, Mat<T>& K);

/// Multi-RHS CG on coefficients (run_cg with the metric C ↦ C·K), with its
/// workspace kept between solves.
template <typename T>
class SampleSpaceCg {
 public:
  /// Runs CG from Z = 0 (i.e. from θ0) on the system above.
  /// - K: (m, m) = F̃ᵀF̃, symmetric (both triangles filled).
  /// - w: (d_out, m) weights, or nullptr for all ones.
  /// - S0: (d_out, m) coefficients of the first residual b − A(θ0).
  /// - bnorm: (d_out) ‖b_i‖, the scale of the stopping test (as BlockCg's); 0 entries
  ///   make that row's test absolute.
  /// Ensures: Z (d_out, m) holds the coefficients of the last iterate minus θ0; the
  /// report has BlockCg's meaning (iterations, max relative residual, converged).
  CgReport solve(const Mat<T>& K, const Mat<T>* w, T lambda, const Mat<T>& S0, const Vec<T>& bnorm,
                 const CgOptions& options, Mat<T>& Z);

  /// The same for a system whose right-hand side is S0 F̃ᵀ itself (θ0 = 0, as in a
  /// Gauss–Newton step Δθ): then ‖b_i‖ is the first residual's norm, and the
  /// product S0·K that CG needs anyway gives it, instead of a product of its own.
  CgReport solve_from_zero(const Mat<T>& K, const Mat<T>* w, T lambda, const Mat<T>& S0, const CgOptions& options,
                           Mat<T>& Z);

  /// Z·K for the Z of the last solve: the change of the layer's pre-activation
  /// (θ − θ0)F̃ = Z F̃ᵀF̃, kept up to date by the iteration at no extra cost.
  const Mat<T>& ZK() const { return ZK_; }
  /// Swaps ZK() with `out` (no copy): `out` then holds Z·K, and ZK() is scratch.
  void swap_ZK(Mat<T>& out) { out.swap(ZK_); }

 private:
  CgVectors<T> v_;  // (d_out, m) coefficient matrices: residual, direction and their ·K images
  Mat<T> ZK_;       // (d_out, m): Z·K
  Vec<T> scale_;    // (d_out): stopping-test scale per row
};

}  // namespace sibp
