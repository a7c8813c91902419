#include "train/prox_fast.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "linalg/gemm.hpp"
#include "linalg/sharded_input.hpp"

namespace sibp {

namespace {

std::string shape(Index r, Index c) { return std::to_string(r) + "x" + std::to_string(c); }

/// Σ over the column chunks of a rows × cols matrix (core/thread_pool.hpp) of
/// partial(first_col, cols), added in chunk order: the same for any thread count,
/// and for a one-chunk matrix exactly partial(0, cols).
template <typename Partial>
double sum_over_column_chunks(Index rows, Index cols, std::vector<double>& parts, Partial&& partial) {
  parts.assign(static_cast<std::size_t>(column_chunks(rows, cols).count), 0.0);
  for_column_chunks(rows, cols, [&](std::int64_t t, Index c0, Index cn) { parts[t] = partial(c0, cn); });
  double sum = 0;
  for (double p : parts) sum += p;
  return sum;
}

// Throws UsageError unless the problem and (W, b) have consistent shapes.
template <typename T>
void check_problem(const char* who, const ProxProblem<T>& p, const Mat<T>& W, const Vec<T>& b, bool need_G) {
  if (p.input == nullptr || p.target == nullptr || (need_G && p.G == nullptr))
    throw UsageError(std::string(who) + ": the problem needs input, target" + (need_G ? " and G" : "") +
                     " set, got a null pointer");
  if (!(p.lambda > 0.0) || !std::isfinite(p.lambda))
    throw UsageError(std::string(who) + ": lambda must be finite and > 0, got " + std::to_string(p.lambda));
  const Index d_in = p.input->rows(), m = p.input->cols(), d_out = p.target->rows();
  const bool ok = p.target->cols() == m && W.rows() == d_out && W.cols() == d_in && b.size() == d_out &&
                  (!need_G || (p.G->rows() == d_out && p.G->cols() == m));
  if (!ok)
    throw UsageError(std::string(who) + ": expected F (d_in, m), target and G (d_out, m), W (d_out, d_in), " +
                     "b (d_out); got F " + shape(d_in, m) + ", target " + shape(d_out, p.target->cols()) +
                     (p.G ? ", G " + shape(p.G->rows(), p.G->cols()) : std::string()) + ", W " +
                     shape(W.rows(), W.cols()) + ", b " + std::to_string(b.size()));
}

}  // namespace

// ---------------------------------------------------------------- sharded problems (§6)

template <typename T>
const ProxProblem<T>& GatheredProblem<T>::gather(const ProxProblem<T>& p, const char* what) {
  Communicator& comm = *p.comm;
  const std::vector<Index> cols = allgather_counts(comm, p.input->cols(), what);
  allgather_columns<T>(comm, p.input->matrix_or(scratch_), cols, F_, what);
  allgather_columns<T>(comm, *p.target, cols, T_, what);
  if (p.G) allgather_columns<T>(comm, *p.G, cols, G_, what);
  input_ = std::make_unique<DenseInput<T>>(F_);
  whole_ = p;
  whole_.comm = nullptr;
  whole_.input = input_.get();
  whole_.target = &T_;
  whole_.G = p.G ? &G_ : nullptr;
  whole_.output = nullptr;  // σ(G^k) of this rank's columns only: recomputed from G
  return whole_;
}

// ---------------------------------------------------------------- exact (linear layers)

template <typename T>
ExactLinearSolver<T>::ExactLinearSolver(const ExactLinearOptions& options)
    : options_(options), ridge_(options.method) {}

template <typename T>
void ExactLinearSolver<T>::solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) {
  if (problem.act != Activation::Identity)
    throw UsageError("exact prox solver: applies to linear (identity) layers only, where the subproblem is a "
                     "ridge regression; got activation '" + to_string(problem.act) +
                     "' (use gn-cg, gn-exact or reference for nonlinear layers)");
  if (problem.sharded()) {
    // The ridge solve needs FFᵀ or FᵀF of the whole batch: gather (§6; the
    // output layer's F is small next to the hidden layers' work).
    solve(gather_.gather(problem, "exact prox solver: F, T, G"), W, b, diag);
    return;
  }
  check_problem<T>("exact prox solver", problem, W, b, diag != nullptr);
  // §3.3 b, symbols as in ALGORITHMS.md §3: F = F_{l-1}, T = T_l. The ridge solve
  // needs FFᵀ or FᵀF, so a convolution's patch matrix is formed here.
  const Eigen::Ref<const Mat<T>> F = problem.input->matrix_or(F_);
  const Mat<T>& Tl = *problem.target;
  const double lambda = problem.lambda;
  const T lam = static_cast<T>(lambda);
  const Index m = F.cols();

  double phi0 = 0;
  if (diag) {
    Wk_ = W;
    bk_ = b;
    phi0 = static_cast<double>((*problem.G - Tl).squaredNorm());
  }
  if (options_.joint) {
    ridge_.solve_with_bias(F, Tl, W, b, lambda, W, b);
  } else {
    R_ = Tl;
    R_.colwise() -= b;
    ridge_.solve(F, R_, W, lambda, W);
    // b's block: ‖W F + b1ᵀ − T‖² + λ‖b − b^k‖² is minimised by (λb^k + (T − WF)1)/(λ + m).
    R_ = Tl;
    R_.noalias() -= W * F;
    b = (lam * b + R_.rowwise().sum()) / (lam + static_cast<T>(m));
  }
  if (diag) {
    R_.noalias() = W * F;
    R_.colwise() += b;
    R_ -= Tl;
    diag->objective_before = phi0;
    diag->objective_after = static_cast<double>(R_.squaredNorm()) +
                            lambda * static_cast<double>((W - Wk_).squaredNorm() + (b - bk_).squaredNorm());
    diag->solver_iterations = 1;
  }
}

// ---------------------------------------------------------------- Gauss–Newton, shared part

void GaussNewtonOptions::validate() const {
  if (cg_iterations < 1)
    throw UsageError("gauss-newton: cg_iterations must be >= 1, got " + std::to_string(cg_iterations));
  if (!(cg_tolerance >= 0 && cg_tolerance < 1))
    throw UsageError("gauss-newton: cg_tolerance must be in [0, 1), got " + std::to_string(cg_tolerance));
  if (max_backtracks < 0)
    throw UsageError("gauss-newton: max_backtracks must be >= 0, got " + std::to_string(max_backtracks));
}

template <typename T, typename Step>
GaussNewtonSolver<T, Step>::GaussNewtonSolver(const GaussNewtonOptions& options)
    : options_((options.validate(), options)), step_(options) {}

template <typename T, typename Step>
void GaussNewtonSolver<T, Step>::solve(const ProxProblem<T>& problem, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) {
  check_problem<T>("gauss-newton prox solver", problem, W, b, true);
  std::unique_ptr<ShardedInput<T>> sharded;
  Communicator* comm = nullptr;
  if (problem.sharded()) {
    // §6: parameter-space CG runs on this rank's columns with its products
    // F̃ᵀ-side summed over ranks (ShardedInput) and the objective's sums
    // allreduced; the sample-space forms (exact per-row solve, or CG when the
    // cost model, counting the split products by 1/R, picks it) need every
    // column: gather the problem and solve it whole on every rank.
    const Index n_all = allreduce_count(*problem.comm, problem.input->cols(), "gauss-newton: columns");
    const bool sample_space =
        std::is_same_v<Step, GnExactStep<T>> ||
        choose_cg_space(options_, problem.input->holds_matrix(), problem.target->rows(), problem.input->rows(),
                        n_all, problem.comm->size()) == CgSpace::Sample;
    if (sample_space) {
      solve(gather_.gather(problem, "gauss-newton: F, T, G"), W, b, diag);
      return;
    }
    comm = problem.comm;
    sharded = std::make_unique<ShardedInput<T>>(*problem.input, *comm, "gauss-newton CG products");
  }
  const auto all_ranks = [&](double local, const char* what) {
    return comm ? allreduce_value(*comm, local, what) : local;
  };
  // §3.3 c: linearise σ at G = G^k; symbols as in ALGORITHMS.md §3.
  const LayerInput<T>& F = sharded ? *sharded : *problem.input;
  const Mat<T>& Tl = *problem.target;
  const Mat<T>& G = *problem.G;
  const Index n = F.cols(), d_out = Tl.rows();

  // σ(G^k) is the forward pass's output when the caller hands it over.
  const bool have_output =
      problem.output != nullptr && problem.output->rows() == d_out && problem.output->cols() == n;
  if (!have_output) Fk_.resize(d_out, n);
  const Mat<T>& Fk = have_output ? *problem.output : Fk_;
  S_.resize(d_out, n);
  E_.resize(d_out, n);
  // σ(G) (unless given), σ'(G), E = T − σ(G) and ‖E‖², chunk by chunk: each chunk's
  // arrays stay in cache between the passes (a convolution's are megabytes).
  const double phi0 = all_ranks(sum_over_column_chunks(d_out, n, parts_, [&](Index c0, Index cn) {
    if (!have_output) activate<T>(problem.act, G.middleCols(c0, cn), Fk_.middleCols(c0, cn));
    activation_derivative<T>(problem.act, G.middleCols(c0, cn), Fk.middleCols(c0, cn), S_.middleCols(c0, cn));
    auto E = E_.middleCols(c0, cn);
    E = Tl.middleCols(c0, cn) - Fk.middleCols(c0, cn);
    return static_cast<double>(E.squaredNorm());
  }), "gauss-newton: objective");

  const int iterations =
      step_.compute(GaussNewtonSystem<T>{F, S_, E_, problem.lambda, comm != nullptr}, P_);  // P = Δθ F̃

  // Safeguard: φ(θ^k + tΔ) = ‖σ(G + tP) − T‖² + λt²‖Δ‖², each trial element-wise.
  const double reg = problem.lambda * step_.squared_norm();
  if (problem.act != Activation::ReLU && problem.act != Activation::Identity) Gt_.resize(d_out, n);
  T t = T(1);
  int accepted = -1;
  double phi = phi0;
  for (int k = 0; k <= options_.max_backtracks; ++k) {
    const double data = all_ranks(sum_over_column_chunks(d_out, n, parts_, [&](Index c0, Index cn) {
      const auto Gc = G.middleCols(c0, cn).array();
      const auto Pc = P_.middleCols(c0, cn).array();
      const auto Tc = Tl.middleCols(c0, cn).array();
      // ReLU and identity in one fused pass (the same operations as activate());
      // the other activations through activate().
      if (problem.act == Activation::ReLU)
        return static_cast<double>(((Gc + t * Pc).max(T(0)) - Tc).matrix().squaredNorm());
      if (problem.act == Activation::Identity)
        return static_cast<double>(((Gc + t * Pc) - Tc).matrix().squaredNorm());
      auto Gt = Gt_.middleCols(c0, cn);
      Gt = G.middleCols(c0, cn) + t * P_.middleCols(c0, cn);
      activate<T>(problem.act, Gt, Gt);
      Gt -= Tl.middleCols(c0, cn);
      return static_cast<double>(Gt.squaredNorm());
    }), "gauss-newton: safeguard objective");
    const double trial = data + static_cast<double>(t) * t * reg;
    if (trial <= phi0) {  // false for NaN, so a non-finite candidate is never taken
      accepted = k;
      phi = trial;
      break;
    }
    t *= T(0.5);
  }
  if (accepted >= 0) step_.apply(t, F, W, b);
  if (diag) {
    diag->objective_before = phi0;
    diag->objective_after = phi;
    diag->solver_iterations = iterations;
    diag->line_search_exponents.push_back(accepted);
  }
}

CgSpace choose_cg_space(const GaussNewtonOptions& options, bool input_is_matrix, Index d_out, Index d_in, Index n,
                        int ranks) {
  // Sample space needs F itself, which a convolution would have to form (im2col):
  // Auto keeps convolutions in parameter space.
  if (options.space == CgSpace::Auto && !input_is_matrix) return CgSpace::Parameter;
  // A sharded parameter-space CG keeps the operator's two products in its last step.
  return resolve_cg_space(options.space, d_out, d_in, n, options.cg_iterations, ranks, ranks == 1);
}

// ---------------------------------------------------------------- Δθ in sample space

template <typename T>
void SampleSpaceStep<T>::set_norm_from(const Mat<T>& P) {
  // ‖Z F̃ᵀ‖² = Σ_i z_i K z_iᵀ = Σ (Z ⊙ ZK): no d_out×(d_in + 1) matrix needed.
  double sum = 0;
  for (Index j = 0; j < Z.cols(); ++j) sum += static_cast<double>(Z.col(j).dot(P.col(j)));
  sqnorm = std::max(sum, 0.0);
}

template <typename T>
void SampleSpaceStep<T>::apply(T t, const Eigen::Ref<const Mat<T>>& F, Mat<T>& W, Vec<T>& b) {
  if (t != T(1)) Z *= t;
  b.noalias() += Z.rowwise().sum();
  // The product accumulates into W: no Δθ matrix and no pass to add it. Small
  // products directly (gemm() with beta would first scale W by 1), large ones
  // on the pool's fixed chunks.
  if (gemm_chunks(W.rows(), W.cols(), Z.cols()).count == 1)
    W.noalias() += Z * F.transpose();
  else
    gemm<T>(Z, Trans::No, F, Trans::Yes, W, T(1));
}

// ---------------------------------------------------------------- Gauss–Newton by block CG

template <typename T>
int GnCgStep<T>::compute(const GaussNewtonSystem<T>& sys, Mat<T>& P) {
  const LayerInput<T>& F = sys.F;
  const Index d_in = F.rows(), n = F.cols(), d_out = sys.S.rows();
  const T lam = static_cast<T>(sys.lambda);
  S2_.resize(d_out, n);
  XF_.resize(d_out, n);
  for_column_chunks(d_out, n, [&](std::int64_t, Index c0, Index cn) {
    S2_.middleCols(c0, cn) = sys.S.middleCols(c0, cn).array().square();
    // the right-hand side's coefficients: (e ⊙ s) F̃ᵀ
    XF_.middleCols(c0, cn) = sys.E.middleCols(c0, cn).cwiseProduct(sys.S.middleCols(c0, cn));
  });
  CgOptions cg;
  cg.max_iterations = options_.cg_iterations;
  cg.tolerance = options_.cg_tolerance;
  cg.stop = options_.cg_stop;
  cg.residual_after_last_step = false;  // only the iterate is used
  // A sharded system (§6) has no local Gram matrix of the whole batch: the
  // solver gathers the problem when sample space applies, so here it is
  // parameter space.
  const CgSpace space = sys.sharded ? CgSpace::Parameter : choose_cg_space(options_, F.holds_matrix(), d_out, d_in, n);
  sample_ = space == CgSpace::Sample;
  if (sample_) {
    gram_of_columns<T>(F.matrix_or(Fx_), true, K_);  // K = F̃ᵀF̃ = FᵀF + 1
    const int iterations = sample_cg_.solve_from_zero(K_, &S2_, lam, XF_, cg, z_.Z).iterations;
    sample_cg_.swap_ZK(P);  // Δθ F̃ = Z K, kept by the iteration
    z_.set_norm_from(P);
    return iterations;
  }
  // Parameter space, F̃ = [F; 1ᵀ] through the layer's input operator (a convolution's
  // patch matrix is never formed): X F̃ = X_W F + x_b 1ᵀ, Y F̃ᵀ = [Y Fᵀ, Y 1].
  RHS_.resize(d_out, d_in + 1);
  F.times_transposed(XF_, RHS_.leftCols(d_in), RHS_.col(d_in).data());
  D_.setZero(d_out, d_in + 1);
  // The operator forms X F̃ of its argument anyway: CG keeps P = Δθ F̃ from those
  // images (LinearImage) instead of one more product with F̃ after the solve.
  P.setZero(d_out, n);
  LinearImage<T> image{&XF_, &P};
  // XF_ ← X F̃ and XS_ ← (X F̃) ⊙ s²: the part of A·X and of ⟨x, Ax⟩ they share.
  const auto weighted_image = [&](const Mat<T>& X) {
    F.times(X.leftCols(d_in), X.col(d_in).data(), XF_);
    XS_.resize(XF_.rows(), n);
    for_column_chunks(XF_.rows(), n, [&](std::int64_t, Index c0, Index cn) {
      XS_.middleCols(c0, cn) = XF_.middleCols(c0, cn).cwiseProduct(S2_.middleCols(c0, cn));
    });
  };
  const BlockOperator<T> op = [&](const Mat<T>& X, Mat<T>& AX) {
    weighted_image(X);
    F.times_transposed(XS_, AX.leftCols(d_in), AX.col(d_in).data());
    AX += lam * X;
  };
  // ⟨x, Ax⟩ = ‖(x F̃) ⊙ s‖² + λ‖x‖² per row: the last CG step's α from one product
  // instead of two (BlockEnergy). A sharded input's X F̃ holds this rank's columns
  // only, whose sums would need a collective of their own: there the operator serves.
  const BlockEnergy<T> energy = [&](const Mat<T>& X, Vec<T>& xAx) {
    weighted_image(X);
    cg_detail::row_dots<T>(XS_, XF_, xAx);
    cg_detail::row_dots<T>(X, X, xx_);
    xAx += lam * xx_;
  };
  return cg_.solve(op, RHS_, D_, cg, CgSystems::Rows, &image, sys.sharded ? nullptr : &energy).iterations;
}

template <typename T>
void GnCgStep<T>::apply(T t, const LayerInput<T>& F, Mat<T>& W, Vec<T>& b) {
  const Index d_in = F.rows();
  if (!sample_) {
    W += t * D_.leftCols(d_in);
    b += t * D_.col(d_in);
  } else if (F.holds_matrix()) {
    z_.apply(t, F.matrix_or(Fx_), W, b);
  } else {
    z_.apply(t, Fx_, W, b);  // formed by compute()
  }
}

// ---------------------------------------------------------------- exact Gauss–Newton per row

namespace {
/// One thread's workspace for the per-row solves of GnExactStep: the row's system,
/// right-hand side, weights and active samples (kept: no allocation per batch).
template <typename T>
struct RowWork {
  Mat<T> M;  // (n, n): top-left n_j×n_j used
  Vec<T> u;  // (n)
  Vec<T> s;  // (n)
  std::vector<Index> idx;
  static RowWork& of_this_thread(Index n) {
    thread_local RowWork w;
    if (w.M.rows() < n) {
      w.M.resize(n, n);
      w.u.resize(n);
      w.s.resize(n);
    }
    w.idx.reserve(static_cast<std::size_t>(n));
    return w;
  }
};
}  // namespace

template <typename T>
int GnExactStep<T>::compute(const GaussNewtonSystem<T>& sys, Mat<T>& P) {
  const Mat<T>& S = sys.S;
  const Mat<T>& E = sys.E;
  const Index m = sys.F.cols(), d_out = S.rows();
  const T lam = static_cast<T>(sys.lambda);

  gram_of_columns<T>(sys.F.matrix_or(Fx_), true, K_);  // K = F̃ᵀF̃ = FᵀF + 1
  Mat<T>& Z = z_.Z;
  Z.setZero(d_out, m);

  // Rows are independent: fixed groups of rows on the thread pool, each row's
  // result the same whichever thread solves it.
  constexpr Index kRowsPerTask = 16;
  parallel_for((d_out + kRowsPerTask - 1) / kRowsPerTask, [&](std::int64_t task) {
    RowWork<T>& w = RowWork<T>::of_this_thread(m);
    const Index j_end = std::min<Index>(d_out, (task + 1) * kRowsPerTask);
    for (Index j = task * kRowsPerTask; j < j_end; ++j) {
      w.idx.clear();
      for (Index i = 0; i < m; ++i)
        if (S(j, i) != T(0)) w.idx.push_back(i);
      const Index mj = static_cast<Index>(w.idx.size());
      if (mj == 0) continue;  // the unit is flat on every sample: the linearisation cannot move it
      for (Index a = 0; a < mj; ++a) {
        w.s[a] = S(j, w.idx[a]);
        w.u[a] = E(j, w.idx[a]);
      }
      for (Index c = 0; c < mj; ++c) {
        for (Index r = c; r < mj; ++r) w.M(r, c) = w.s[r] * w.s[c] * K_(w.idx[r], w.idx[c]);
        w.M(c, c) += lam;
      }
      Eigen::Ref<Mat<T>> Mj = w.M.topLeftCorner(mj, mj);
      Eigen::LLT<Eigen::Ref<Mat<T>>, Eigen::Lower> llt(Mj);
      // λ > 0 keeps M positive definite; if round-off still breaks it, this row takes no step.
      if (llt.info() != Eigen::Success) continue;
      Eigen::Ref<Vec<T>> z = w.u.head(mj);
      llt.solveInPlace(z);
      for (Index a = 0; a < mj; ++a) Z(j, w.idx[a]) = z[a] * w.s[a];
    }
  });

  P.noalias() = Z * K_;  // Δθ F̃ = Z F̃ᵀF̃, an m×m product instead of a d_in×m one
  z_.set_norm_from(P);
  return 1;
}

template class GatheredProblem<float>;
template class GatheredProblem<double>;
template class ExactLinearSolver<float>;
template class ExactLinearSolver<double>;
template class GaussNewtonSolver<float, GnCgStep<float>>;
template class GaussNewtonSolver<double, GnCgStep<double>>;
template class GaussNewtonSolver<float, GnExactStep<float>>;
template class GaussNewtonSolver<double, GnExactStep<double>>;
template struct SampleSpaceStep<float>;
template struct SampleSpaceStep<double>;
template class GnCgStep<float>;
template class GnCgStep<double>;
template class GnExactStep<float>;
template class GnExactStep<double>;

}  // namespace sibp
