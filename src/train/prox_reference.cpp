#include "train/prox_reference.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>

#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "linalg/sample_space_cg.hpp"

namespace sibp {
namespace {

// Scalar σ and σ' for the element-wise trial evaluations of the line search
// (§3.2): dispatching once per sweep keeps the inner loops branch-free.
struct ReluOp {
  template <typename T> static T value(T z) { return z > T(0) ? z : T(0); }
  template <typename T> static T deriv(T z, T) { return z > T(0) ? T(1) : T(0); }
};
struct LeakyReluOp {
  template <typename T> static T value(T z) { return z > T(0) ? z : static_cast<T>(kLeakySlope) * z; }
  template <typename T> static T deriv(T z, T) { return z > T(0) ? T(1) : static_cast<T>(kLeakySlope); }
};
struct TanhOp {
  template <typename T> static T value(T z) { return std::tanh(z); }
  template <typename T> static T deriv(T, T f) { return T(1) - f * f; }
};
struct SigmoidOp {
  template <typename T> static T value(T z) { return T(1) / (T(1) + std::exp(-z)); }
  template <typename T> static T deriv(T, T f) { return f * (T(1) - f); }
};
struct IdentityOp {
  template <typename T> static T value(T z) { return z; }
  template <typename T> static T deriv(T, T) { return T(1); }
};

template <typename Fn>
decltype(auto) with_activation(Activation a, Fn&& fn) {
  switch (a) {
    case Activation::ReLU: return fn(ReluOp{});
    case Activation::LeakyReLU: return fn(LeakyReluOp{});
    case Activation::Tanh: return fn(TanhOp{});
    case Activation::Sigmoid: return fn(SigmoidOp{});
    case Activation::Identity: break;
  }
  return fn(IdentityOp{});
}

/// Σ_{begin≤i<end} r(i)² in double, in kLanes independent partial sums: a single
/// running sum serialises every addition on its latency and cannot be
/// vectorised, and the line search makes dozens of these passes over
/// (d_out, m) per layer and batch. 16 lanes keep four 256-bit FMA chains in
/// flight (10× a running sum for 500×100 ReLU trials; 8 lanes: 5×).
template <typename Residual>
double lane_sum_of_squares(Index begin, Index end, Residual& r) {
  constexpr int kLanes = 16;
  double acc[kLanes] = {};
  Index i = begin;
  for (; i + kLanes <= end; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const double v = r(i + j);
      acc[j] += v * v;
    }
  for (; i < end; ++i) {
    const double v = r(i);
    acc[0] += v * v;
  }
  double s = 0;
  for (double a : acc) s += a;
  return s;
}

/// Σ_{i<n} r(i)²: one lane sum up to kChunkElements entries; beyond (a
/// convolution's batch × pixels), lane sums over fixed chunks on the thread
/// pool, added in chunk order (the same for any thread count). r may write
/// element-wise outputs at i.
template <typename Residual>
double sum_of_squares(Index n, Residual&& r) {
  if (n <= kChunkElements) return lane_sum_of_squares(0, n, r);
  const Index chunks = (n + kChunkElements - 1) / kChunkElements;
  std::vector<double> parts(static_cast<std::size_t>(chunks));
  parallel_for(chunks, [&](std::int64_t t) {
    parts[t] = lane_sum_of_squares(t * kChunkElements, std::min<Index>(n, (t + 1) * kChunkElements), r);
  });
  double s = 0;
  for (double p : parts) s += p;
  return s;
}

/// Tanh and sigmoid through Eigen's vectorised functions (the network's own
/// formulas, nn/activation.cpp): std::tanh and std::exp one element at a time
/// made every line-search trial of a tanh layer 17x and of a sigmoid layer
/// 6x slower (float, 256x100), and a deep tanh or sigmoid network makes
/// ~100 such trials per layer and step.
template <typename A>
void smooth_activation_in_place(Activation act, A&& x) {
  using T = typename std::decay_t<A>::Scalar;
  if (act == Activation::Tanh)
    x = x.tanh();
  else
    x = (T(1) + (-x).exp()).inverse();
}

bool is_smooth(Activation act) { return act == Activation::Tanh || act == Activation::Sigmoid; }

/// Elements per chunk of the vectorised passes: the chunk stays in L1.
constexpr Index kChunk = 1024;

/// Σ (σ(Z + t·P) − T)² for tanh or sigmoid, chunk by chunk, each chunk's
/// squares summed in double (as sum_of_squares does).
template <typename T>
double smooth_trial_data_term(Activation act, const Mat<T>& Z, const Mat<T>* P, T t, const Mat<T>& target,
                              Mat<T>* S) {
  using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;
  using CMap = Eigen::Map<const Arr>;
  Arr f(kChunk), r(kChunk);
  double sum = 0;
  const Index n = Z.size();
  for (Index i = 0; i < n; i += kChunk) {
    const Index c = std::min(kChunk, n - i);
    auto fc = f.head(c);
    auto rc = r.head(c);
    if (P)
      fc = CMap(Z.data() + i, c) + t * CMap(P->data() + i, c);
    else
      fc = CMap(Z.data() + i, c);
    smooth_activation_in_place(act, fc);
    rc = fc - CMap(target.data() + i, c);
    sum += rc.template cast<double>().square().sum();
    if (S) {
      Eigen::Map<Arr> s(S->data() + i, c);
      if (act == Activation::Tanh)
        s = rc * (T(1) - fc.square());
      else
        s = rc * fc * (T(1) - fc);
    }
  }
  return sum;
}

/// Σ (σ(Z + t·P) − T)²: one trial of the Armijo search, element-wise.
template <typename T>
double trial_data_term(Activation act, const Mat<T>& Z, const Mat<T>& P, T t, const Mat<T>& target) {
  if (is_smooth(act)) return smooth_trial_data_term<T>(act, Z, &P, t, target, nullptr);
  return with_activation(act, [&](auto op) {
    using Op = decltype(op);
    const T* z = Z.data();
    const T* p = P.data();
    const T* y = target.data();
    return sum_of_squares(Z.size(), [&](Index i) { return static_cast<double>(Op::value(z[i] + t * p[i]) - y[i]); });
  });
}

double dot(const auto& a, const auto& b) { return static_cast<double>((a.array() * b.array()).sum()); }

}  // namespace

template <typename T>
double prox_data_term(Activation act, const Mat<T>& Z, const Mat<T>& target, Mat<T>* S) {
  if (is_smooth(act)) return smooth_trial_data_term<T>(act, Z, nullptr, T(0), target, S);
  return with_activation(act, [&](auto op) {
    using Op = decltype(op);
    const T* z = Z.data();
    const T* y = target.data();
    if (!S) return sum_of_squares(Z.size(), [&](Index i) { return static_cast<double>(Op::value(z[i]) - y[i]); });
    T* s_out = S->data();
    return sum_of_squares(Z.size(), [&](Index i) {
      const T f = Op::value(z[i]);
      const T r = f - y[i];
      s_out[i] = r * Op::deriv(z[i], f);
      return static_cast<double>(r);
    });
  });
}

template <typename T>
double prox_objective(const ProxProblem<T>& p, const Mat<T>& W, const Vec<T>& b, const Mat<T>& Wk,
                      const Vec<T>& bk) {
  Mat<T> Z;
  p.input->times(W, b.data(), Z);
  return prox_data_term<T>(p.act, Z, *p.target, nullptr) +
         p.lambda * (static_cast<double>((W - Wk).squaredNorm()) + static_cast<double>((b - bk).squaredNorm()));
}

template <typename T>
ReferenceProxSolver<T>::ReferenceProxSolver(const SolverOptions& options, ReferenceSpace space)
    : options_(options), space_(space) {
  options_.validate();
}

template <typename T>
bool ReferenceProxSolver<T>::prefers_sample_space(Index d_out, Index d_in, Index m, int iters) {
  if (m >= d_in) return false;
  const double r = static_cast<double>(d_out), n = static_cast<double>(d_in), mm = static_cast<double>(m);
  // Multiply-adds: K (symmetric, half of it), X^k + C_x Aᵀ, then one C_g K per
  // iteration; against the gradient S Aᵀ and d·A of every iteration.
  const double sample = mm * mm * n / 2 + r * mm * n + iters * r * mm * mm;
  const double parameter = 2.0 * iters * r * mm * n;
  return sample < parameter;
}

template <typename T>
void ReferenceProxSolver<T>::apply_input(Block block, const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& D,
                                         Mat<T>& out) const {
  switch (block) {
    case Block::W: F.times(D, nullptr, out); break;
    case Block::b: out.colwise() = D.col(0); break;
    case Block::Joint: F.times(D.leftCols(F.rows()), D.col(F.rows()).data(), out); break;
  }
}

template <typename T>
void ReferenceProxSolver<T>::gradient(Block block, const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& X,
                                      double lambda, Work& w) const {
  switch (block) {
    case Block::W: F.times_transposed(S_, w.g, nullptr); break;
    case Block::b: w.g.col(0) = S_.rowwise().sum(); break;
    case Block::Joint: F.times_transposed(S_, w.g.leftCols(F.rows()), w.g.col(F.rows()).data()); break;
  }
  w.g = T(2) * w.g + static_cast<T>(2 * lambda) * (X - w.X0);
}

template <typename T>
LineSearchRecord ReferenceProxSolver<T>::armijo(const ProxProblem<T>& p, double phi, double gsearch, double xx,
                                                double xd, double dd, double noise) const {
  const ReferenceQuirks& q = options_.quirks;
  const bool jump = q.armijo_jump && !p.is_output_layer;
  const double lambda = p.lambda;
  LineSearchRecord rec;
  rec.objective_start = phi;
  rec.sigma_gd = gsearch;

  int m = 0;
  bool jumped = false;
  bool accepted = false;
  double last_trial = std::numeric_limits<double>::quiet_NaN();
  while (m < kMaxExponent) {
    const double t = std::pow(kRho, m);
    // Rounding floor: to first order no step of length t or shorter lowers φ by
    // more than t|⟨g,d⟩|; once that is below the rounding error of evaluating φ
    // the test would be decided by rounding, so the search stops (rejected).
    if (t * std::abs(gsearch) / kArmijoC <= noise) break;
    // λ‖X + t d − X^k‖² = λ(xx + 2t xd + t² dd): the penalty of a trial needs no pass over X.
    const double A0 = trial_data_term<T>(p.act, Z_, PA_, static_cast<T>(t), *p.target) +
                      lambda * (xx + 2 * t * xd + t * t * dd);
    const double B0 = phi + gsearch * t;
    last_trial = A0;
    if (jump && !jumped && m == 0) {
      // FR3.m: the exponent jumps after the unit step was evaluated, and
      // that test then decides whether the (untested) m0 is accepted.
      const double m0 = std::floor(std::log(phi * 0.01 / std::abs(gsearch)) / std::log(kRho));
      m = std::isnan(m0) ? 0 : static_cast<int>(std::clamp(m0, 0.0, 1000.0));
      jumped = true;
      rec.m_jump = m;
    }
    if (A0 < B0) {
      accepted = true;
      break;
    }
    ++m;
  }
  rec.m_exit = m;
  rec.accepted = accepted;
  rec.objective_last_trial = last_trial;
  rec.applied = accepted && (!q.skip_unit_step || m > 0);
  return rec;
}

template <typename T>
void ReferenceProxSolver<T>::record(LineSearchRecord rec, Block block, Index rows, Index cols, int k,
                                    LayerDiagnostics* diag) {
  rec.block = block == Block::W ? 'W' : block == Block::b ? 'b' : 'J';
  rec.rows = rows;
  rec.cols = cols;
  rec.k = k;
  if (diag) {
    diag->line_search_exponents.push_back(rec.accepted ? rec.m_exit : -1);
    ++diag->solver_iterations;
  }
  if (trace_) trace_->push_back(rec);
}

/// The vectors of the Fletcher–Reeves iteration where they are the unknowns
/// themselves: X − X^k, g and d are (d_out, cols) matrices; d·A is a product.
template <typename T>
struct ReferenceParameterSpace {
  Eigen::Ref<Mat<T>> X;
  Mat<T>& X0;
  Mat<T>& g;
  Mat<T>& d;
  Mat<T>& PA;
  std::function<void(const Eigen::Ref<const Mat<T>>&, Mat<T>&)> apply_input;  // out = D·A
  std::function<void(double)> gradient;                                     // g = 2 S Aᵀ + 2λ(X − X0)

  void start(double lambda) {
    X0 = X;
    g.resize(X.rows(), X.cols());
    d.resize(X.rows(), X.cols());
    gradient(lambda);
  }
  double penalty() const { return static_cast<double>((X - X0).squaredNorm()); }
  double gg() const { return static_cast<double>(g.squaredNorm()); }
  double gd() const { return dot(g, d); }
  double xd() const { return dot(X - X0, d); }
  double dd() const { return static_cast<double>(d.squaredNorm()); }
  void steepest() { d = -g; }
  void new_direction(T beta) { d = -g + beta * d; }
  void direction_input() { apply_input(d, PA); }
  void step(T t) { X += t * d; }
  void finish() {}
};

/// The same vectors as coefficients C of C·Aᵀ (the class comment): ⟨C₁Aᵀ, C₂Aᵀ⟩ =
/// Σ (C₁K) ⊙ C₂, and d·A = C_d K is kept up to date linearly, without a product.
template <typename T>
struct ReferenceSampleSpace {
  Eigen::Ref<Mat<T>> X;
  const Mat<T>& K;
  const Mat<T>& S;  // (σ(Z) − T) ⊙ σ'(Z) at the current iterate
  Mat<T>& Cx;       // X − X^k = Cx Aᵀ
  Mat<T>& XK;       // Cx K = (X − X^k) A
  Mat<T>& Cg;       // g = Cg Aᵀ
  Mat<T>& GK;       // Cg K = g A
  Mat<T>& Cd;       // d = Cd Aᵀ
  Mat<T>& PA;       // Cd K = d A
  std::function<void(const Mat<T>&)> add_to_X;  // X += C Aᵀ
  T lambda = 0;

  void start(double lam) {
    lambda = static_cast<T>(lam);
    Cx.setZero(S.rows(), S.cols());
    XK.setZero(S.rows(), S.cols());
    gradient_of_S();
  }
  void gradient_of_S() {
    Cg = T(2) * S + (T(2) * lambda) * Cx;
    GK.noalias() = Cg * K;
  }
  double penalty() const { return dot(XK, Cx); }
  double gg() const { return dot(GK, Cg); }
  double gd() const { return dot(GK, Cd); }
  double xd() const { return dot(XK, Cd); }
  double dd() const { return dot(PA, Cd); }
  void steepest() {
    Cd = -Cg;
    PA = -GK;
  }
  void new_direction(T beta) {
    Cd = -Cg + beta * Cd;
    PA = -GK + beta * PA;
  }
  void direction_input() {}
  void step(T t) {
    Cx += t * Cd;
    XK += t * PA;
  }
  void finish() { add_to_X(Cx); }
};

template <typename T>
template <typename Space>
void ReferenceProxSolver<T>::fletcher_reeves(Block block, const ProxProblem<T>& p, Space& space, Index rows,
                                             Index cols, LayerDiagnostics* diag) {
  const Mat<T>& target = *p.target;
  const double lambda = p.lambda;
  const ReferenceQuirks& q = options_.quirks;

  // φ and g at X^k. The published output-layer solver (FR4.m) leaves the
  // offset B out of its very first gradient only; φ itself is right.
  double phi = prox_data_term<T>(p.act, Z_, target, &S_);
  if (q.first_gradient_omits_bias && p.is_output_layer && block != Block::Joint) {
    apply_input(block, *p.input, space.X, PA_);  // X A without B
    prox_data_term<T>(p.act, PA_, target, &S_);
  }
  space.start(lambda);
  space.steepest();
  double gg = space.gg();
  const double target_norm = static_cast<double>(target.norm());

  for (int k = 0; k < options_.iters; ++k) {
    if (k > 0) {
      phi = prox_data_term<T>(p.act, Z_, target, &S_) + lambda * space.penalty();
      if constexpr (std::is_same_v<Space, ReferenceSampleSpace<T>>)
        space.gradient_of_S();
      else
        space.gradient(lambda);
      const double gg_new = space.gg();
      const T beta = gg > 0 ? static_cast<T>(gg_new / gg) : T(0);  // Fletcher–Reeves
      space.new_direction(beta);
      gg = gg_new;
      // A Fletcher–Reeves direction need not descend; with ⟨g,d⟩ ≥ 0 the
      // Armijo test could accept an increase of φ.
      if (!q.no_descent_restart && space.gd() >= 0) space.steepest();
    }
    // X is stationary: every trial would fail. (In sample space ‖g‖² is exactly
    // 0 where the parameter-space one is, and may round below 0 only for a
    // gradient at rounding level.)
    if (!(gg > 0)) break;

    space.direction_input();
    const double gsearch = kArmijoC * space.gd();
    const double xx = space.penalty();
    const double xd = space.xd();
    const double dd = space.dd();
    // A bound on the rounding error of one trial's data term Σ r²: each
    // residual r = σ(z + tp) − T carries about ε(|z| + |σ| + |r|), and
    // ‖σ(Z)‖ ≤ ‖T‖ + ‖r‖; summed, 2Σ|r||δr| ≤ 2ε‖r‖(‖Z‖ + ‖T‖ + 2‖r‖), doubled
    // for φ(X) itself. Negligible unless the targets differ from the layer's
    // output by little more than T's own resolution: in float, the lower
    // layers of a deep sigmoid network, where every search used to run all
    // kMaxExponent trials fitting rounding noise.
    const double r_norm = std::sqrt(std::max(0.0, phi - lambda * xx));
    const double noise = 4.0 * std::numeric_limits<T>::epsilon() * r_norm *
                         (static_cast<double>(Z_.norm()) + target_norm + 2.0 * r_norm);

    LineSearchRecord rec = armijo(p, phi, gsearch, xx, xd, dd, noise);
    if (rec.applied) {
      const T t = static_cast<T>(std::pow(kRho, rec.m_exit));
      space.step(t);
      Z_ += t * PA_;
    }
    record(rec, block, rows, cols, k, diag);
  }
  space.finish();
}

template <typename T>
double ReferenceProxSolver<T>::run_block(Block block, const ProxProblem<T>& p, Eigen::Ref<Mat<T>> X, Work& w,
                                         LayerDiagnostics* diag) {
  const LayerInput<T>& Fop = *p.input;
  const Index d_in = X.cols();  // rows of the block's input A
  const Index n = Fop.rows(), m = Fop.cols(), d_out = X.rows();
  const bool sample = space_ == ReferenceSpace::Sample ||
                      (space_ == ReferenceSpace::Auto && prefers_sample_space(d_out, d_in, m, options_.iters));
  if (!sample) {
    ReferenceParameterSpace<T> space{
        X, w.X0, w.g, w.d, PA_,
        [&](const Eigen::Ref<const Mat<T>>& D, Mat<T>& out) { apply_input(block, Fop, D, out); },
        [&](double lambda) { gradient(block, Fop, X, lambda, w); }};
    fletcher_reeves(block, p, space, X.rows(), X.cols(), diag);
    return diag ? space.penalty() : 0.0;
  }
  // K = AᵀA; the ones row of A (b and [W b]) adds 1 to every entry. Sample space
  // needs F itself (the input is wider than the batch: a dense layer, which holds it).
  const Eigen::Ref<const Mat<T>> F = block == Block::b ? Eigen::Ref<const Mat<T>>(Fx_) : Fop.matrix_or(Fx_);
  if (block == Block::b)
    K_.setOnes(m, m);
  else
    gram_of_columns<T>(F, block == Block::Joint, K_);
  Cg_.resize(d_out, m);
  Cd_.resize(d_out, m);
  GK_.resize(d_out, m);
  ReferenceSampleSpace<T> space{X, K_, S_, Cx_, XK_, Cg_, GK_, Cd_, PA_, [&](const Mat<T>& C) {
                                  switch (block) {
                                    case Block::W: X.noalias() += C * F.transpose(); break;
                                    case Block::b: X.col(0) += C.rowwise().sum(); break;
                                    case Block::Joint:
                                      X.leftCols(n).noalias() += C * F.transpose();
                                      X.col(n) += C.rowwise().sum();
                                      break;
                                  }
                                }};
  fletcher_reeves(block, p, space, X.rows(), X.cols(), diag);
  return diag ? space.penalty() : 0.0;
}

template <typename T>
void ReferenceProxSolver<T>::solve(const ProxProblem<T>& p, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) {
  if (p.input == nullptr || p.target == nullptr || p.G == nullptr)
    throw std::invalid_argument("ReferenceProxSolver::solve: the problem needs input, target and G set");
  if (p.sharded()) {
    // §6: the authors' solver takes many objective sums per iteration (Armijo
    // trials, rounding bounds) and may run in sample space: every rank gathers
    // the whole batch's problem and runs the same iteration on it. Correct for
    // every layer; on a convolution it gathers the patch matrix (README, "Across
    // processes": prefer gn-cg there).
    solve(gather_.gather(p, "reference solver: F, T, G"), W, b, diag);
    return;
  }
  const Index d_out = W.rows();
  const Index n = p.input->rows();
  const Index m = p.input->cols();
  if (W.cols() != n || b.size() != d_out || p.target->rows() != d_out || p.target->cols() != m ||
      p.G->rows() != d_out || p.G->cols() != m)
    throw std::invalid_argument("ReferenceProxSolver::solve: shapes of W, b, F, G and T disagree");
  Z_ = *p.G;
  PA_.resize(d_out, m);
  S_.resize(d_out, m);
  if (diag) {
    diag->objective_before = prox_data_term<T>(p.act, Z_, *p.target, nullptr);
    diag->solver_iterations = 0;
    diag->line_search_exponents.clear();
  }
  if (options_.mode == UpdateMode::Sequential) {
    const double xx_W = run_block(Block::W, p, W, work_W_, diag);
    // Z_ = W^{k+1} F + b^k 1ᵀ now: the b block's offset B = W^{k+1} F is in it.
    Eigen::Map<Mat<T>> bm(b.data(), d_out, 1);
    const double xx_b = run_block(Block::b, p, bm, work_b_, diag);
    if (diag) diag->objective_after = prox_data_term<T>(p.act, Z_, *p.target, nullptr) + p.lambda * (xx_W + xx_b);
  } else {
    XJ_.resize(d_out, n + 1);
    XJ_.leftCols(n) = W;
    XJ_.col(n) = b;
    const double xx = run_block(Block::Joint, p, XJ_, work_W_, diag);
    W = XJ_.leftCols(n);
    b = XJ_.col(n);
    if (diag) diag->objective_after = prox_data_term<T>(p.act, Z_, *p.target, nullptr) + p.lambda * xx;
  }
}

template <typename T>
std::unique_ptr<ProxSolver<T>> make_reference_prox_solver(const SolverOptions& options) {
  return std::make_unique<ReferenceProxSolver<T>>(options);
}

template std::unique_ptr<ProxSolver<float>> make_reference_prox_solver<float>(const SolverOptions&);
template std::unique_ptr<ProxSolver<double>> make_reference_prox_solver<double>(const SolverOptions&);
template class ReferenceProxSolver<float>;
template class ReferenceProxSolver<double>;
template double prox_data_term<float>(Activation, const Mat<float>&, const Mat<float>&, Mat<float>*);
template double prox_data_term<double>(Activation, const Mat<double>&, const Mat<double>&, Mat<double>*);
template double prox_objective<float>(const ProxProblem<float>&, const Mat<float>&, const Vec<float>&,
                                      const Mat<float>&, const Vec<float>&);
template double prox_objective<double>(const ProxProblem<double>&, const Mat<double>&, const Vec<double>&,
                                       const Mat<double>&, const Vec<double>&);

}  // namespace sibp
