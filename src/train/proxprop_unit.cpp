/// ProxProp's registration (train/registry.hpp): its --algo name, the defaults
/// that depend on its outer optimiser, and its options from a run's settings.
#include "train/proxprop.hpp"
#include "train/registry.hpp"

namespace sibp {

namespace {

UpdateKind outer_kind(const std::string& name) {
  if (name == "sgd") return UpdateKind::SGD;
  if (name == "adam") return UpdateKind::Adam;
  throw OptionError("outer", "expected sgd or adam, got '" + name + "'");
}

}  // namespace

const AlgorithmInfo& proxprop_algorithm() {
  static const AlgorithmInfo info = [] {
    AlgorithmInfo a;
    a.names = {{"proxprop", "ProxProp", "Proximal back propagation (Frerix et al. 2018)"}};
    a.group = "ProxProp (--algo proxprop)";
    a.fields = {"tau", "prox_solver", "prox_iters", "prox_cg", "outer",
                "lr", "momentum", "nesterov", "weight_decay", "beta1", "beta2", "eps"};
    a.resolve = [](const std::string&, nlohmann::json& s) {
      const bool adam = s.contains("outer") && s["outer"] == "adam";
      default_to(s, "lr", adam ? UpdateOptions::adam().lr : ProxPropOptions{}.outer.lr);
      default_to(s, "momentum", 0.0);
      default_to(s, "weight_decay", 0.0);
    };
    a.build = [](const std::string&, const AlgorithmSettings& s) -> AlgorithmOptions {
      ProxPropOptions p;
      p.tau = s.number("tau");
      p.solver = parse_proxprop_solver(s.text("prox_solver"));
      p.prox_iters = static_cast<int>(s.integer("prox_iters"));
      p.cg = parse_proxprop_cg(s.text("prox_cg"));
      p.outer = update_options_from(outer_kind(s.text("outer")), s);
      p.validate();
      return p;
    };
    return a;
  }();
  return info;
}

std::string algorithm_name(const ProxPropOptions&) { return "proxprop"; }

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const ProxPropOptions& options, const NetworkSpec&,
                                                      Communicator& comm) {
  return std::make_unique<ProxProp<T>>(options, comm);
}

SIBP_INSTANTIATE_BUILD_ALGORITHM(ProxPropOptions);

}  // namespace sibp
