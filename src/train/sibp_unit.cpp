/// SIBP's registration (train/registry.hpp): its --algo name, the defaults that
/// depend on its options, and its options built from a run's settings. A new
/// SIBP option is one entry of `options` below plus the line of `build` that
/// reads it into SibpOptions.
#include "core/error.hpp"
#include "train/registry.hpp"
#include "train/sibp.hpp"

namespace sibp {

namespace {

std::vector<double> lambda_from(const AlgorithmSettings& s) {
  const nlohmann::json& v = s.values().at("lambda");
  if (v.is_number()) return {v.get<double>()};
  return parse_lambda_list(s.text("lambda"));
}

ReferenceQuirks quirks_from(const AlgorithmSettings& s) {
  ReferenceQuirks q;
  if (!s.has("quirks")) return q;
  const nlohmann::json& v = s.values().at("quirks");
  if (v.is_string()) {
    q.enable(v.get<std::string>());
    return q;
  }
  for (const nlohmann::json& name : v) q.enable(name.get<std::string>());
  return q;
}

bool compat_authors(const nlohmann::json& s) {
  return s.contains("compat") && s["compat"].is_string() && s["compat"].get<std::string>() == "authors";
}

}  // namespace

const AlgorithmInfo& sibp_algorithm() {
  static const AlgorithmInfo info = [] {
    AlgorithmInfo a;
    a.names = {{"sibp", "SIBP", "Semi-Implicit Back Propagation (Liu & Zhang 2020)"}};
    a.group = "SIBP (--algo sibp)";
    a.fields = {"eta", "lambda", "solver", "solver_iters", "update", "quirks", "compat"};
    // New SIBP options go here, as {"key", AlgorithmOption::Kind::Number, "help",
    // default}, and are read in build below (validated there, by SibpOptions::validate).
    using Kind = AlgorithmOption::Kind;
    a.options = {
        {"solver_tol", Kind::Number,
         "gn-cg: an inexact solve, at most --solver-iters steps: stop a layer's CG once a step lowers the "
         "Gauss-Newton model by at most theta times the first step's (--solver-stop decrease) or its residual is at most theta "
         "times the first (residual); 0: always --solver-iters steps (ALGORITHMS.md 3.5)",
         0.0},
        {"solver_stop", Kind::Text, "gn-cg: what --solver-tol is compared with: decrease or residual", "decrease"},
        {"conv_solver_iters", Kind::Integer, "Iterations of iterative prox solvers on conv layers (0: as --solver-iters)",
         0},
        {"lambda_units", Kind::Text,
         "What --lambda is: batch (used as given, the authors' convention: the data term sums over the batch, "
         "so lambda's weight shrinks as the batch grows) or sample (per sample: each step uses batch x lambda, "
         "which keeps a step's size independent of the batch size; ALGORITHMS.md 3.4)",
         "batch"},
        {"cg_space", Kind::Text, "gn-cg: where its CG runs: auto (the cheaper by the cost model), sample or parameter",
         "auto"},
    };
    a.resolve = [](const std::string&, nlohmann::json& s) {
      // Quirks describe the authors' solver: asking for them picks it, here and only here.
      const bool quirky = compat_authors(s) || (s.contains("quirks") && !s["quirks"].is_null() && !s["quirks"].empty());
      default_to(s, "solver",
                 quirky ? SolverSpec{SolverKind::Reference, SolverKind::Reference}.to_string() : SolverSpec{}.to_string());
    };
    a.build = [](const std::string&, const AlgorithmSettings& s) -> AlgorithmOptions {
      SibpOptions o;
      o.eta = s.number("eta");
      o.lambda = lambda_from(s);
      o.solver = parse_solver_spec(s.text("solver"));
      o.solver_iters = static_cast<int>(s.integer("solver_iters"));
      o.solver_tol = s.number("solver_tol");
      o.solver_stop = parse_solver_stop(s.text("solver_stop"));
      const long long conv_iters = s.integer("conv_solver_iters");
      if (conv_iters < 0 || conv_iters > 10000)
        throw OptionError("conv_solver_iters",
                          "expected an integer from 0 (as solver_iters) to 10000, got " + std::to_string(conv_iters));
      o.conv_solver_iters = static_cast<int>(conv_iters);
      const std::string space = s.text("cg_space");
      if (space != "auto" && space != "sample" && space != "parameter")
        throw OptionError("cg_space", "expected auto, sample or parameter, got '" + space + "'");
      o.cg_space = parse_cg_space(space);
      const std::string units = s.text("lambda_units");
      if (units != "batch" && units != "sample")
        throw OptionError("lambda_units", "expected batch or sample, got '" + units + "'");
      o.lambda_per_sample = units == "sample";
      o.mode = parse_update_mode(s.text("update"));
      const ReferenceQuirks quirks = quirks_from(s);
      const bool compat = compat_authors(s.values());
      if (compat && quirks.any()) throw OptionError("quirk", "--compat authors already sets every quirk; drop --quirk");
      o.quirks = compat ? ReferenceQuirks::authors() : quirks;
      o.validate();
      return o;
    };
    return a;
  }();
  return info;
}

std::string algorithm_name(const SibpOptions&) { return "sibp"; }

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const SibpOptions& options, const NetworkSpec& spec,
                                                      Communicator& comm) {
  return std::make_unique<Sibp<T>>(options, spec, comm);
}

SIBP_INSTANTIATE_BUILD_ALGORITHM(SibpOptions);

}  // namespace sibp
