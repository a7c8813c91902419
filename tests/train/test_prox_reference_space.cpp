// The reference solver (ALGORITHMS.md §3.3 a) in sample space against the
// same solver in parameter space: one method, two representations, so the
// new parameters, the diagnostics and every line-search decision must agree
// for every activation, update mode and quirk.
#include <optional>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/reference_case.hpp"
#include "nn/activation.hpp"
#include "train/prox_reference.hpp"
#include "prox_case.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {

/// A prox problem as SIBP poses it (testing::SibpProxCase), λ = 0.5.
template <typename T>
struct Problem : testing::SibpProxCase<T> {
  Problem(Index d_in, Index m, Index d_out, Activation act, bool output, double eta, unsigned seed)
      : testing::SibpProxCase<T>(d_in, m, d_out, act, eta, 0.5, output, seed, {0.3, 0.3, false}) {}
};

template <typename T>
struct Outcome {
  Mat<T> W;
  Vec<T> b;
  LayerDiagnostics diag;
  std::vector<LineSearchRecord> trace;
};

template <typename T>
Outcome<T> run(const Problem<T>& pr, const SolverOptions& so, ReferenceSpace space) {
  ReferenceProxSolver<T> solver(so, space);
  Outcome<T> o{pr.Wk, pr.bk, {}, {}};
  solver.set_trace(&o.trace);
  solver.solve(pr.problem, o.W, o.b, &o.diag);
  return o;
}

// ‖a − r‖_∞ / ‖r‖_∞, on the updates: a tolerance relative to W would hide a
// wrong update (the updates are much smaller than W).
template <typename T>
double rel_diff(const Mat<T>& a, const Mat<T>& r) {
  const double scale = static_cast<double>(r.cwiseAbs().maxCoeff());
  const double diff = static_cast<double>((a - r).cwiseAbs().maxCoeff());
  return scale > 0 ? diff / scale : diff;
}

/// Which quirk paths the compared runs went through, so that the test
/// notices when its data stop exercising them.
struct Coverage {
  int compared = 0;         // runs compared
  int skipped_runs = 0;     // runs decided by rounding, not compared
  int jumps = 0;            // armijo_jump moved the exponent
  int not_applied = 0;      // accepted but not applied (skip_unit_step)
  int rejected = 0;         // no exponent < 50 passed
  int backtracked = 0;      // accepted with m ≥ 1 (no jump)
  int non_descent = 0;      // searched along ⟨g,d⟩ ≥ 0 (no_descent_restart)
  int restart_changed = 0;  // the restart changed the result of a compared run
  int omit_changed = 0;     // first_gradient_omits_bias changed the result of a compared run
};

/// True if one of the run's searches was decided by rounding: its smallest
/// trial step t changes φ + t·c⟨g,d⟩ by less than `resolution`·φ, so A0 < B0
/// compares numbers equal to working precision. A first direction that does
/// not descend (the omit-bias quirk on the b block) backtracks that far, and
/// so does a block that has converged (12 iterations on 5 biases). Any two
/// correct implementations may decide such a search differently.
bool decided_by_rounding(const std::vector<LineSearchRecord>& trace, double resolution) {
  return std::any_of(trace.begin(), trace.end(), [&](const LineSearchRecord& r) {
    const int last_tried = r.accepted ? r.m_exit : r.m_exit - 1;
    return std::pow(0.6, last_tried) * std::abs(r.sigma_gd) < resolution * std::abs(r.objective_start);
  });
}

template <typename T>
void expect_same(const Outcome<T>& s, const Outcome<T>& r, const Mat<T>& Wk, const Vec<T>& bk, double tol,
                 Coverage& cov) {
  ++cov.compared;
  // Decisions are discrete: they must be identical, or the iterates part.
  ASSERT_EQ(s.trace.size(), r.trace.size());
  for (std::size_t i = 0; i < r.trace.size(); ++i) {
    const LineSearchRecord& a = s.trace[i];
    const LineSearchRecord& e = r.trace[i];
    SCOPED_TRACE("search " + std::to_string(i) + " block " + std::string(1, e.block) + " k " + std::to_string(e.k));
    EXPECT_EQ(a.block, e.block);
    EXPECT_EQ(a.rows, e.rows);
    EXPECT_EQ(a.cols, e.cols);
    EXPECT_EQ(a.k, e.k);
    EXPECT_EQ(a.m_jump, e.m_jump);
    EXPECT_EQ(a.m_exit, e.m_exit);
    EXPECT_EQ(a.accepted, e.accepted);
    EXPECT_EQ(a.applied, e.applied);
    EXPECT_NEAR(a.objective_start, e.objective_start, tol * std::abs(e.objective_start));
    // NaN in both when the search stopped before its first trial (a decrease below φ's rounding noise).
    EXPECT_EQ(std::isnan(a.objective_last_trial), std::isnan(e.objective_last_trial));
    if (!std::isnan(e.objective_last_trial))
      EXPECT_NEAR(a.objective_last_trial, e.objective_last_trial, tol * std::abs(e.objective_last_trial));
    // c⟨g,d⟩ relative to φ as well: it is a difference of large terms when
    // the direction barely descends.
    EXPECT_NEAR(a.sigma_gd, e.sigma_gd, tol * (std::abs(e.sigma_gd) + std::abs(e.objective_start)));
    cov.jumps += e.m_jump > 0;
    cov.not_applied += e.accepted && !e.applied;
    cov.rejected += !e.accepted;
    cov.backtracked += e.accepted && e.m_jump < 0 && e.m_exit > 0;
    cov.non_descent += e.sigma_gd >= 0;
  }
  EXPECT_LE(rel_diff<T>(s.W - Wk, r.W - Wk), tol) << "W update";
  EXPECT_LE(rel_diff<T>(Mat<T>(s.b - bk), Mat<T>(r.b - bk)), tol) << "b update";
  EXPECT_NEAR(s.diag.objective_before, r.diag.objective_before, tol * r.diag.objective_before);
  EXPECT_NEAR(s.diag.objective_after, r.diag.objective_after, tol * r.diag.objective_before);
  EXPECT_EQ(s.diag.solver_iterations, r.diag.solver_iterations);
  EXPECT_EQ(s.diag.line_search_exponents, r.diag.line_search_exponents);
}

ReferenceQuirks quirks_of(unsigned bits) {
  ReferenceQuirks q;
  q.first_gradient_omits_bias = bits & 1u;
  q.armijo_jump = bits & 2u;
  q.skip_unit_step = bits & 4u;
  q.no_descent_restart = bits & 8u;
  return q;
}

template <typename T>
Mat<T> stacked(const Outcome<T>& o) {
  Mat<T> X(o.W.rows(), o.W.cols() + 1);
  X << o.W, o.b;
  return X;
}

/// Runs `space` and parameter space on every quirk combination (the four
/// flags, 16 runs) of one problem and compares those not decided by rounding.
template <typename T>
void compare_all_quirks(const Problem<T>& pr, UpdateMode mode, int iters, ReferenceSpace space, double tol,
                        Coverage& cov) {
  const double resolution = 10 * std::numeric_limits<T>::epsilon();
  std::vector<Mat<T>> result(16);
  std::vector<bool> compared(16, false);
  for (unsigned bits = 0; bits < 16; ++bits) {
    SolverOptions so;
    so.mode = mode;
    so.iters = iters;
    so.quirks = quirks_of(bits);
    SCOPED_TRACE(to_string(pr.problem.act) + (pr.problem.is_output_layer ? " output " : " hidden ") +
                 to_string(mode) + " iters " + std::to_string(iters) + " quirks '" + so.quirks.to_string() + "'");
    const Outcome<T> s = run(pr, so, space);
    const Outcome<T> r = run(pr, so, ReferenceSpace::Parameter);
    result[bits] = stacked(r);
    if (decided_by_rounding(r.trace, resolution)) {
      ++cov.skipped_runs;
      continue;
    }
    compared[bits] = true;
    expect_same(s, r, pr.Wk, pr.bk, tol, cov);
  }
  for (unsigned bits = 0; bits < 16; ++bits) {
    const unsigned with_restart = bits & ~8u, with_bias = bits & ~1u;
    if ((bits & 8u) && compared[bits] && compared[with_restart])
      cov.restart_changed += result[bits] != result[with_restart];
    if ((bits & 1u) && compared[bits] && compared[with_bias]) cov.omit_changed += result[bits] != result[with_bias];
  }
}

// Tolerance: once every decision agrees the two runs differ by rounding
// only (a K = AᵀA product against two products with A, ~1e-15 relative in
// double over 5–12 iterations; 1e-10 leaves room, while one different
// decision changes an update by ≥ 40%). In float the rounding is ~1e-7 per
// operation and the updates are differences of nearby numbers: 2e-4. Float
// runs stop at the 5 iterations of the method: after 12, most blocks have
// converged to float resolution and every search is decided by rounding.
template <typename T>
void check_spaces_agree() {
  constexpr bool is_double = std::is_same_v<T, double>;
  const double tol = is_double ? 1e-10 : 2e-4;
  // m < d_in (and < d_in + 1 for [W b]): the shapes sample space is for.
  const Index d_in = 24, m = 10, d_out = 5;
  ASSERT_TRUE(ReferenceProxSolver<T>::prefers_sample_space(d_out, d_in, m, 5));
  ASSERT_FALSE(ReferenceProxSolver<T>::prefers_sample_space(d_out, 1, m, 5));
  const std::vector<int> iter_counts = is_double ? std::vector<int>{5, 12} : std::vector<int>{5};
  Coverage cov;
  unsigned seed = 100;
  for (Activation act :
       {Activation::ReLU, Activation::LeakyReLU, Activation::Tanh, Activation::Sigmoid, Activation::Identity})
    for (bool output : {false, true})
      for (UpdateMode mode : {UpdateMode::Sequential, UpdateMode::Joint})
        for (double eta : {0.05, 3.0})
          for (int iters : iter_counts) {
            SCOPED_TRACE("eta " + std::to_string(eta));
            // Auto: sample space for W and [W b], parameter space for b, as in training.
            compare_all_quirks(Problem<T>(d_in, m, d_out, act, output, eta, ++seed), mode, iters,
                               ReferenceSpace::Auto, tol, cov);
          }
  // The filter must not swallow the test (in float it skips about one run
  // in five, mostly the omit-bias quirk on b), and the compared runs must
  // have gone through every quirk. A search along a direction that does not
  // descend ends at t ≈ 1e-11, below float resolution: float has no
  // comparable rejected search, nor a pair of runs the restart tells apart;
  // double covers them.
  EXPECT_GE(cov.compared, 3 * cov.skipped_runs) << cov.skipped_runs << " runs skipped";
  EXPECT_GT(cov.jumps, 0);
  EXPECT_GT(cov.not_applied, 0);
  EXPECT_GT(cov.backtracked, 0);
  EXPECT_GT(cov.omit_changed, 0);
  if (is_double) {
    EXPECT_GE(cov.compared, 10 * cov.skipped_runs) << cov.skipped_runs << " runs skipped";
    EXPECT_GT(cov.rejected, 0);
    EXPECT_GT(cov.non_descent, 0);
    EXPECT_GT(cov.restart_changed, 0);
  }
}

TEST(ReferenceSpace, SampleAndParameterSpaceAgreeDouble) { check_spaces_agree<double>(); }
TEST(ReferenceSpace, SampleAndParameterSpaceAgreeFloat) { check_spaces_agree<float>(); }

TEST(ReferenceSpace, SampleSpaceIsValidForAnyShape) {
  // Forced sample space where Auto would not use it: m ≥ d_in, and the 1ᵀ
  // input of b (K = 11ᵀ). Slower, same iterates.
  Coverage cov;
  unsigned seed = 300;
  for (Activation act :
       {Activation::ReLU, Activation::LeakyReLU, Activation::Tanh, Activation::Sigmoid, Activation::Identity})
    for (bool output : {false, true})
      for (UpdateMode mode : {UpdateMode::Sequential, UpdateMode::Joint})
        for (double eta : {0.01, 3.0})
          compare_all_quirks(Problem<double>(6, 8, 4, act, output, eta, ++seed), mode, 5, ReferenceSpace::Sample,
                             1e-10, cov);
  EXPECT_GE(cov.compared, 10 * cov.skipped_runs);
  EXPECT_GT(cov.jumps, 0);
  EXPECT_GT(cov.not_applied, 0);
}

TEST(ReferenceSpace, AutoChoosesSampleSpaceWhereItIsCheaper) {
  using S = ReferenceProxSolver<double>;
  EXPECT_TRUE(S::prefers_sample_space(500, 784, 100, 5));   // MNIST hidden layer, W block
  EXPECT_TRUE(S::prefers_sample_space(500, 785, 100, 5));   // ... [W b]
  EXPECT_FALSE(S::prefers_sample_space(500, 1, 100, 5));    // b: input 1ᵀ
  EXPECT_FALSE(S::prefers_sample_space(500, 100, 100, 5));  // m = d_in
  EXPECT_FALSE(S::prefers_sample_space(500, 80, 100, 5));   // m > d_in
  // A narrow output layer: K = AᵀA alone costs more than the products it saves.
  EXPECT_FALSE(S::prefers_sample_space(1, 200, 100, 5));

  // Auto follows the rule: bit-identical to the forced space it picks.
  const Problem<double> wide(24, 10, 5, Activation::ReLU, false, 1.0, 3);
  const Problem<double> tall(8, 20, 5, Activation::ReLU, false, 1.0, 3);
  SolverOptions so;
  so.mode = UpdateMode::Joint;
  EXPECT_EQ(stacked(run(wide, so, ReferenceSpace::Auto)), stacked(run(wide, so, ReferenceSpace::Sample)));
  EXPECT_EQ(stacked(run(tall, so, ReferenceSpace::Auto)), stacked(run(tall, so, ReferenceSpace::Parameter)));
  EXPECT_NE(stacked(run(wide, so, ReferenceSpace::Sample)), stacked(run(wide, so, ReferenceSpace::Parameter)))
      << "rounding differs between the spaces; equality above would prove nothing otherwise";
}

TEST(ReferenceSpace, GoldenCasesExerciseSampleSpace) {
  // test_sibp_golden.cpp runs the authors' cases with the default (Auto)
  // solver; their hidden layers are wider than the batch, so the golden
  // vectors check the sample-space path, and the output layer the other.
  for (const char* name : {"case_b_original", "case_b_fixed"}) {
    const ReferenceCase c =
        read_reference_case(std::filesystem::path(SIBP_FIXTURES_DIR) / "sibp-reference" / name);
    const Index m = c.X.cols();
    SCOPED_TRACE(name);
    ASSERT_EQ(c.num_layers(), 3u);
    EXPECT_TRUE(ReferenceProxSolver<double>::prefers_sample_space(c.layers[1], c.layers[0], m, 5));
    EXPECT_TRUE(ReferenceProxSolver<double>::prefers_sample_space(c.layers[2], c.layers[1], m, 5));
    EXPECT_FALSE(ReferenceProxSolver<double>::prefers_sample_space(c.layers[3], c.layers[2], m, 5));
  }
}

}  // namespace
}  // namespace sibp
