#pragma once
/// A random dense prox problem posed as SIBP poses one (ALGORITHMS.md §3 step 3),
/// for the tests of the prox solvers.
#include <optional>
#include <random>

#include "linalg/layer_input.hpp"
#include "nn/activation.hpp"
#include "test_support.hpp"
#include "train/prox_solver.hpp"

namespace sibp::testing {

/// How a SibpProxCase draws its data.
struct ProxCaseScales {
  double Wk = 0.3;           ///< standard deviation of W^k's entries
  double bk = 0.3;           ///< ... and of b^k's
  bool relu_inputs = false;  ///< for a ReLU layer, F ≥ 0 as after a ReLU below it
};

/// F (d_in, m), W^k, b^k drawn N(0, 1), N(0, Wk²), N(0, bk²) in that order from
/// std::mt19937(seed); G = W^k F + b^k 1ᵀ and the target T = σ(G) − η D with D
/// drawn N(0, 1) next, which is how SIBP makes targets (§3 step 3.2). A large η
/// puts the target far away, so searches backtrack; a small one lets the unit step pass.
/// `problem` points into the object, which therefore is neither copied nor moved.
template <typename T>
struct SibpProxCase {
  Mat<T> F, Wk, G, target;
  Vec<T> bk;
  std::optional<DenseInput<T>> input;  // views F
  ProxProblem<T> problem;

  SibpProxCase(Index d_in, Index m, Index d_out, Activation act, double eta, double lambda, bool output_layer,
               unsigned seed, const ProxCaseScales& scales) {
    std::mt19937 gen(seed);
    F = random_normal<T>(d_in, m, gen);
    if (scales.relu_inputs && act == Activation::ReLU) F = F.cwiseMax(T(0));
    Wk = random_normal<T>(d_out, d_in, gen, scales.Wk);
    bk = random_normal<T>(d_out, 1, gen, scales.bk);
    G = Wk * F;
    G.colwise() += bk;
    Mat<T> Fl(d_out, m);
    activate<T>(act, G, Fl);
    target = Fl - static_cast<T>(eta) * random_normal<T>(d_out, m, gen);
    input.emplace(F);
    problem.input = &*input;
    problem.G = &G;
    problem.target = &target;
    problem.act = act;
    problem.lambda = lambda;
    problem.is_output_layer = output_layer;
  }
  SibpProxCase(const SibpProxCase&) = delete;
  SibpProxCase& operator=(const SibpProxCase&) = delete;
};

}  // namespace sibp::testing
