#include "train/prox_reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"
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

/// Σ_{i<n} r(i)² in double, in kLanes independent partial sums: a single
/// running sum serialises every addition on its latency and cannot be
/// vectorised, and the line search makes dozens of these passes over
/// (d_out, m) per layer and batch. 16 lanes keep four 256-bit FMA chains in
/// flight (10× a running sum for 500×100 ReLU trials; 8 lanes: 5×).
template <typename Residual>
double sum_of_squares(Index n, Residual&& r) {
  constexpr int kLanes = 16;
  double acc[kLanes] = {};
  Index i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const double v = r(i + j);
      acc[j] += v * v;
    }
  for (; i < n; ++i) {
    const double v = r(i);
    acc[0] += v * v;
  }
  double s = 0;
  for (double a : acc) s += a;
  return s;
}

/// Σ (σ(Z + t·P) − T)²: one trial of the Armijo search, element-wise.
template <typename T>
double trial_data_term(Activation act, const Mat<T>& Z, const Mat<T>& P, T t, const Mat<T>& target) {
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
  Mat<T> Z = W * (*p.F);
  Z.colwise() += b;
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
void ReferenceProxSolver<T>::apply_input(Block block, const Mat<T>& F, const Eigen::Ref<const Mat<T>>& D,
                                         Mat<T>& out) const {
  switch (block) {
    case Block::W: out.noalias() = D * F; break;
    case Block::b: out.colwise() = D.col(0); break;
    case Block::Joint:
      out.noalias() = D.leftCols(F.rows()) * F;
      out.colwise() += D.col(F.rows());
      break;
  }
}

template <typename T>
void ReferenceProxSolver<T>::gradient(Block block, const Mat<T>& F, const Eigen::Ref<const Mat<T>>& X,
                                      double lambda, Work& w) const {
  switch (block) {
    case Block::W: w.g.noalias() = S_ * F.transpose(); break;
    case Block::b: w.g.col(0) = S_.rowwise().sum(); break;
    case Block::Joint:
      w.g.leftCols(F.rows()).noalias() = S_ * F.transpose();
      w.g.col(F.rows()) = S_.rowwise().sum();
      break;
  }
  w.g = T(2) * w.g + static_cast<T>(2 * lambda) * (X - w.X0);
}

template <typename T>
LineSearchRecord ReferenceProxSolver<T>::armijo(const ProxProblem<T>& p, double phi, double gsearch, double xx,
                                                double xd, double dd) const {
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

template <typename T>
double ReferenceProxSolver<T>::run_block(Block block, const ProxProblem<T>& p, Eigen::Ref<Mat<T>> X, Work& w,
                                         LayerDiagnostics* diag) {
  const Index d_in = X.cols();  // rows of the block's input A
  const bool sample = space_ == ReferenceSpace::Sample ||
                      (space_ == ReferenceSpace::Auto &&
                       prefers_sample_space(X.rows(), d_in, p.F->cols(), options_.iters));
  if (sample) return run_cg_sample(block, p, X, diag);
  run_cg(block, p, X, w, diag);
  return diag ? static_cast<double>((X - w.X0).squaredNorm()) : 0.0;
}

template <typename T>
void ReferenceProxSolver<T>::run_cg(Block block, const ProxProblem<T>& p, Eigen::Ref<Mat<T>> X, Work& w,
                                    LayerDiagnostics* diag) {
  const Mat<T>& F = *p.F;
  const Mat<T>& target = *p.target;
  const double lambda = p.lambda;
  const ReferenceQuirks& q = options_.quirks;

  w.X0 = X;
  w.g.resize(X.rows(), X.cols());
  w.d.resize(X.rows(), X.cols());

  // φ and g at X^k. The published output-layer solver (FR4.m) leaves the
  // offset B out of its very first gradient only; φ itself is right.
  double phi = prox_data_term<T>(p.act, Z_, target, &S_);
  if (q.first_gradient_omits_bias && p.is_output_layer && block != Block::Joint) {
    apply_input(block, F, X, PA_);  // X A without B
    prox_data_term<T>(p.act, PA_, target, &S_);
  }
  gradient(block, F, X, lambda, w);
  w.d = -w.g;
  double gg = static_cast<double>(w.g.squaredNorm());

  for (int k = 0; k < options_.iters; ++k) {
    if (k > 0) {
      phi = prox_data_term<T>(p.act, Z_, target, &S_) + lambda * static_cast<double>((X - w.X0).squaredNorm());
      gradient(block, F, X, lambda, w);
      const double gg_new = static_cast<double>(w.g.squaredNorm());
      const T beta = gg > 0 ? static_cast<T>(gg_new / gg) : T(0);  // Fletcher–Reeves
      w.d = -w.g + beta * w.d;
      gg = gg_new;
      // A Fletcher–Reeves direction need not descend; with ⟨g,d⟩ ≥ 0 the
      // Armijo test could accept an increase of φ.
      if (!q.no_descent_restart && dot(w.g, w.d) >= 0) w.d = -w.g;
    }
    if (gg == 0) break;  // X is stationary: every trial would fail

    apply_input(block, F, w.d, PA_);
    const double gsearch = kArmijoC * dot(w.g, w.d);
    const double xx = static_cast<double>((X - w.X0).squaredNorm());
    const double xd = dot(X - w.X0, w.d);
    const double dd = static_cast<double>(w.d.squaredNorm());

    LineSearchRecord rec = armijo(p, phi, gsearch, xx, xd, dd);
    if (rec.applied) {
      const T t = static_cast<T>(std::pow(kRho, rec.m_exit));
      X += t * w.d;
      Z_ += t * PA_;
    }
    record(rec, block, X.rows(), X.cols(), k, diag);
  }
}

template <typename T>
double ReferenceProxSolver<T>::run_cg_sample(Block block, const ProxProblem<T>& p, Eigen::Ref<Mat<T>> X,
                                             LayerDiagnostics* diag) {
  const Mat<T>& F = *p.F;
  const Mat<T>& target = *p.target;
  const double lambda = p.lambda;
  const ReferenceQuirks& q = options_.quirks;
  const Index n = F.rows();
  const Index m = F.cols();
  const Index d_out = X.rows();

  // K = AᵀA; the ones row of A (b and [W b]) adds 1 to every entry.
  if (block == Block::b)
    K_.setOnes(m, m);
  else
    gram_of_columns<T>(F, block == Block::Joint, K_);
  Cx_.setZero(d_out, m);
  XK_.setZero(d_out, m);
  Cg_.resize(d_out, m);
  Cd_.resize(d_out, m);
  GK_.resize(d_out, m);

  // First gradient as in run_cg, with the same FR4.m quirk; X is still X^k.
  double phi = prox_data_term<T>(p.act, Z_, target, &S_);
  if (q.first_gradient_omits_bias && p.is_output_layer && block != Block::Joint) {
    apply_input(block, F, X, PA_);
    prox_data_term<T>(p.act, PA_, target, &S_);
  }
  Cg_ = T(2) * S_;  // + 2λ C_x with C_x = 0
  GK_.noalias() = Cg_ * K_;
  Cd_ = -Cg_;
  PA_ = -GK_;  // d·A = C_d K follows C_d linearly: no product of its own
  double gg = dot(GK_, Cg_);

  for (int k = 0; k < options_.iters; ++k) {
    if (k > 0) {
      phi = prox_data_term<T>(p.act, Z_, target, &S_) + lambda * dot(XK_, Cx_);
      Cg_ = T(2) * S_ + static_cast<T>(2 * lambda) * Cx_;
      GK_.noalias() = Cg_ * K_;
      const double gg_new = dot(GK_, Cg_);
      const T beta = gg > 0 ? static_cast<T>(gg_new / gg) : T(0);  // Fletcher–Reeves
      Cd_ = -Cg_ + beta * Cd_;
      PA_ = -GK_ + beta * PA_;
      gg = gg_new;
      if (!q.no_descent_restart && dot(GK_, Cd_) >= 0) {
        Cd_ = -Cg_;
        PA_ = -GK_;
      }
    }
    // ‖g‖² = tr(C_g K C_gᵀ) is exactly 0 where run_cg's is (S = 0 at X^k, or
    // A = 0), and may round below 0 only for a gradient at rounding level.
    if (gg <= 0) break;

    const double gsearch = kArmijoC * dot(GK_, Cd_);
    const double xx = dot(XK_, Cx_);
    const double xd = dot(XK_, Cd_);
    const double dd = dot(PA_, Cd_);

    LineSearchRecord rec = armijo(p, phi, gsearch, xx, xd, dd);
    if (rec.applied) {
      const T t = static_cast<T>(std::pow(kRho, rec.m_exit));
      Cx_ += t * Cd_;
      XK_ += t * PA_;
      Z_ += t * PA_;
    }
    record(rec, block, X.rows(), X.cols(), k, diag);
  }

  switch (block) {
    case Block::W: X.noalias() += Cx_ * F.transpose(); break;
    case Block::b: X.col(0) += Cx_.rowwise().sum(); break;
    case Block::Joint:
      X.leftCols(n).noalias() += Cx_ * F.transpose();
      X.col(n) += Cx_.rowwise().sum();
      break;
  }
  return diag ? dot(XK_, Cx_) : 0.0;
}

template <typename T>
void ReferenceProxSolver<T>::solve(const ProxProblem<T>& p, Mat<T>& W, Vec<T>& b, LayerDiagnostics* diag) {
  const Mat<T>& F = *p.F;
  const Index d_out = W.rows();
  const Index n = F.rows();
  const Index m = F.cols();
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

template class ReferenceProxSolver<float>;
template class ReferenceProxSolver<double>;
template double prox_data_term<float>(Activation, const Mat<float>&, const Mat<float>&, Mat<float>*);
template double prox_data_term<double>(Activation, const Mat<double>&, const Mat<double>&, Mat<double>*);
template double prox_objective<float>(const ProxProblem<float>&, const Mat<float>&, const Vec<float>&,
                                      const Mat<float>&, const Vec<float>&);
template double prox_objective<double>(const ProxProblem<double>&, const Mat<double>&, const Vec<double>&,
                                       const Mat<double>&, const Vec<double>&);

}  // namespace sibp
