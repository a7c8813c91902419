#pragma once
/// The per-layer proximal subproblem of SIBP (ALGORITHMS.md §3, step 3.1)
/// and the interface of the solvers that approximate it (§3.3).
#include <memory>

#include "core/communicator.hpp"
#include "core/types.hpp"
#include "linalg/layer_input.hpp"
#include "nn/activation.hpp"
#include "train/algorithm.hpp"

namespace sibp {

/// min over (W, b) of  φ(W, b) = ‖σ(W F + b 1ᵀ) − T_l‖² + λ‖W − W^k‖² + λ‖b − b^k‖².
/// The pointers refer to buffers owned by the caller for the duration of the solve.
/// F is known through its products (a convolution's patch matrix is never formed
/// on the fast backend); solvers that need F itself ask input->matrix_or().
template <typename T>
struct ProxProblem {
  const LayerInput<T>* input = nullptr;  ///< F_{l-1} (d_in, m): the layer's (unfolded) forward input, not a target
  const Mat<T>* target = nullptr;  ///< T_l, (d_out, m)
  const Mat<T>* G = nullptr;       ///< G_l^k, (d_out, m): forward pre-activation at (W^k, b^k)
  /// σ_l(G_l^k), (d_out, m), when the caller has it (SIBP's forward tape): solvers
  /// that need σ(G^k) read it instead of recomputing it. May be null.
  const Mat<T>* output = nullptr;
  Activation act = Activation::Identity;  ///< σ_l
  double lambda = 1.0;             ///< λ_l
  bool is_output_layer = false;    ///< l == L (the authors' code treats it differently, §3.3 a)
  /// Data parallelism (ALGORITHMS.md §6): the ranks that hold the other columns of
  /// the batch, F, T and G being this rank's columns; nullptr or one rank: the
  /// problem is the whole batch. Every rank must end with the same (W, b).
  Communicator* comm = nullptr;
  bool sharded() const { return comm != nullptr && comm->size() > 1; }
};

/// A sharded problem gathered into the whole batch's problem on every rank
/// (all-gather of F, T and G): what solvers that work in sample space (the m×m
/// Gram matrix of the batch's columns) do with R > 1. Every rank then solves the
/// same problem with the same code, so their (W, b) stay bit-identical.
template <typename T>
class GatheredProblem {
 public:
  /// The whole batch's problem (comm unset), valid until the next call.
  /// A convolution's patch matrix is formed (matrix_or) and gathered.
  const ProxProblem<T>& gather(const ProxProblem<T>& p, const char* what);

 private:
  Mat<T> scratch_, F_, T_, G_;
  std::unique_ptr<DenseInput<T>> input_;
  ProxProblem<T> whole_;
};

/// Approximates the minimiser of a ProxProblem.
template <typename T>
class ProxSolver {
 public:
  virtual ~ProxSolver() = default;
  /// On entry W, b hold (W^k, b^k); on exit the solver's approximation of the
  /// minimiser. Ensures: φ(W, b) ≤ φ(W^k, b^k) (every solver must keep this).
  /// Fills `diag` (objective before/after, iterations, line-search exponents)
  /// when it is not null.
  virtual void solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) = 0;
};

}  // namespace sibp
