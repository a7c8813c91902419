#pragma once
/// The paper's theorem (§3.1), checked on any network: iterate SIBP on one full
/// batch until it stops moving; the loss gradient must then vanish. Shared by the
/// dense (test_sibp.cpp) and convolutional (test_sibp_conv.cpp) tests.
#include <gtest/gtest.h>

#include <cmath>

#include "train/backprop.hpp"
#include "train/sibp.hpp"

namespace sibp::testing {

/// Runs SIBP with step `eta` (other options default) on `batch` until a step
/// moves the parameters by less than 1e-10 (at most 30000 steps), then expects
/// ‖∇‖ below 1e-6 of its initial value. The stall threshold bounds ‖∇‖ through
/// the prox optimality conditions (‖Δθ‖ ~ η‖∇(sum loss)‖/(λ + ‖F‖²)); 1e-6 of
/// the initial norm is a wide margin.
inline void expect_fixed_point_is_stationary(Network<double>& net, const NetworkSpec& spec,
                                             const Batch<double>& batch, double eta) {
  SibpOptions o;
  o.eta = eta;
  Sibp<double> sibp(o, spec);
  Tape<double> tape;
  Gradients<double> grads;
  BackpropWork<double> work;
  net.forward(batch.X, tape);
  backprop_gradients<double>(net, tape, batch.Y, grads, work);
  const double g0 = grads.norm();
  double move = 0;
  int steps = 0;
  for (; steps < 30000; ++steps) {
    const Network<double> prev = net;
    ASSERT_TRUE(sibp.step(net, batch).finite);
    move = 0;
    for (std::size_t l = 0; l < net.num_param_layers(); ++l)
      move += (net.params(l).W - prev.params(l).W).squaredNorm() +
              (net.params(l).b - prev.params(l).b).squaredNorm();
    move = std::sqrt(move);
    if (move < 1e-10) break;
  }
  net.forward(batch.X, tape);
  backprop_gradients<double>(net, tape, batch.Y, grads, work);
  EXPECT_LT(move, 1e-10) << "SIBP did not stall within " << steps << " steps";
  EXPECT_LT(grads.norm(), 1e-6 * g0) << "after " << steps << " steps, initial ‖∇‖ " << g0;
}

}  // namespace sibp::testing
