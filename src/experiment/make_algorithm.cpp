#include "experiment/make_algorithm.hpp"

#include "core/error.hpp"
#include "train/backprop.hpp"
#include "train/proxprop.hpp"
#include "train/sibp.hpp"

namespace sibp {

UpdateOptions update_options(const RunConfig& c) {
  UpdateOptions o;
  const bool adam = c.algo == "adam" || (c.algo == "proxprop" && c.outer == "adam");
  o.kind = adam ? UpdateKind::Adam : UpdateKind::SGD;
  o.lr = c.lr;
  o.momentum = c.momentum;
  o.nesterov = c.nesterov || c.algo == "nesterov";
  o.weight_decay = c.weight_decay;
  o.beta1 = c.beta1;
  o.beta2 = c.beta2;
  o.eps = c.eps;
  if (c.algo == "momentum" || c.algo == "nesterov") {
    if (o.momentum == 0) o.momentum = 0.9;  // the usual default when the name asks for momentum
  }
  if (adam && (c.momentum != 0 || c.nesterov))
    throw UsageError("--momentum/--nesterov apply to SGD, not to Adam");
  o.validate();
  return o;
}

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> make_algorithm(const RunConfig& c, const NetworkSpec& spec) {
  if (c.algo == "sgd" || c.algo == "momentum" || c.algo == "nesterov" || c.algo == "adam")
    return std::make_unique<BackProp<T>>(update_options(c));
  if (c.algo == "sibp") {
    // --compat/--quirk alone mean the authors' solver: the default solver gives way.
    const bool quirky = !c.quirks.empty() || !c.compat.empty();
    const std::string solver = quirky && c.solver == RunConfig{}.solver ? "reference" : c.solver;
    const SibpOptions options =
        make_sibp_options(c.eta, c.lambda, solver, c.solver_iters, c.update, c.quirks, c.compat);
    return std::make_unique<Sibp<T>>(options, spec);
  }
  if (c.algo == "proxprop") {
    RunConfig outer = c;  // the outer optimizer is SGD or Adam as --outer says
    outer.algo = c.outer == "adam" ? "adam" : "sgd";
    return std::make_unique<ProxProp<T>>(
        make_proxprop_options(c.tau, c.prox_solver, c.prox_iters, c.outer, update_options(outer), c.prox_cg));
  }
  throw UsageError("unknown --algo '" + c.algo + "'");
}

template std::unique_ptr<TrainingAlgorithm<float>> make_algorithm<float>(const RunConfig&, const NetworkSpec&);
template std::unique_ptr<TrainingAlgorithm<double>> make_algorithm<double>(const RunConfig&, const NetworkSpec&);

}  // namespace sibp
