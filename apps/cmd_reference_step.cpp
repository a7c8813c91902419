// `sibp reference-step DIR --out OUTDIR`: one SIBP step in float64 with the
// reference solver on a golden-vector case (ALGORITHMS.md §3.1, §3.3 a),
// compared with the case's *_after files when it has them.
#include <cmath>
#include <cstdio>
#include <limits>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "core/error.hpp"
#include "io/reference_case.hpp"
#include "train/sibp.hpp"

namespace sibp::cli {
namespace {

struct ReferenceStepArgs {
  std::string dir;
  std::string out;
  std::string compat;
  std::vector<std::string> quirks;
  double tol = 1e-9;
};

// ‖a − r‖_∞ and ‖a − r‖_∞ / ‖r‖_∞: element-wise relative errors are
// meaningless on entries that are (nearly) zero. A NaN or infinity on either
// side is a failure of its own: every comparison with NaN is false, so it
// would pass any tolerance test, and Eigen's maxCoeff may skip it.
struct Diff {
  double abs = 0, rel = 0;
  std::string non_finite;  ///< what is not finite, e.g. "reference NaN at (2, 0)"; empty if all is
};

std::string first_non_finite(const Mat<double>& m, const char* side) {
  for (Index j = 0; j < m.cols(); ++j)
    for (Index i = 0; i < m.rows(); ++i)
      if (!std::isfinite(m(i, j)))
        return std::string(side) + " " + (std::isnan(m(i, j)) ? "NaN" : "Inf") + " at (" + std::to_string(i) + ", " +
               std::to_string(j) + ")";
  return "";
}

Diff compare(const Mat<double>& a, const Mat<double>& r) {
  Diff d;
  d.non_finite = first_non_finite(a, "computed");
  if (d.non_finite.empty()) d.non_finite = first_non_finite(r, "reference");
  if (!d.non_finite.empty()) {
    d.abs = d.rel = std::numeric_limits<double>::quiet_NaN();
    return d;
  }
  d.abs = (a - r).cwiseAbs().maxCoeff();
  const double scale = r.cwiseAbs().maxCoeff();
  d.rel = scale > 0 ? d.abs / scale : d.abs;
  return d;
}

void run_reference_step(const ReferenceStepArgs& a) {
  if (!(a.tol >= 0)) throw UsageError("--tol: expected a number >= 0, got " + std::to_string(a.tol));
  const ReferenceCase c = read_reference_case(a.dir);
  SibpOptions options;
  options.solver = {SolverKind::Reference, SolverKind::Reference};
  options.solver_iters = 5;
  options.mode = UpdateMode::Sequential;
  if (!a.compat.empty()) options.quirks = ReferenceQuirks::authors();
  for (const std::string& q : a.quirks) options.quirks.enable(q);
  options.eta = c.eta;
  options.lambda = c.lambda;
  options.validate();

  const NetworkSpec spec = NetworkSpec::mlp(c.layers, Activation::ReLU);
  Network<double> net(spec);
  for (std::size_t l = 0; l < c.num_layers(); ++l) {
    net.params(l).W = c.W_before[l];
    net.params(l).b = c.b_before[l];
  }
  Sibp<double> sibp(options, spec);
  const StepReport report = sibp.step(net, Batch<double>{c.X, c.Y});

  std::vector<Mat<double>> W_after;
  std::vector<Vec<double>> b_after;
  for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
    W_after.push_back(net.params(l).W);
    b_after.push_back(net.params(l).b);
  }
  Tape<double> tape;
  const double loss_after =
      loss_sum<double>(net.loss(), net.predict(c.X, tape), c.Y) / static_cast<double>(c.X.cols());
  const nlohmann::json extra = {{"generator", std::string("sibp reference-step ") + SIBP_VERSION},
                                {"solver", "reference"},
                                {"quirks", options.quirks.to_string()},
                                {"batch_mean_ce_before", report.loss},
                                {"batch_mean_ce_after", loss_after}};
  write_reference_result(a.out, c, W_after, b_after, sibp.last_targets(), extra);
  std::cout << "reference-step: " << a.dir << " -> " << a.out << " (quirks: "
            << (options.quirks.any() ? options.quirks.to_string() : "none") << ")\n"
            << "batch mean loss " << report.loss << " -> " << loss_after << "\n";
  if (!report.finite) throw DataError("reference-step: the step produced NaN/Inf parameters for '" + a.dir + "'");
  if (!c.has_after()) return;

  std::cout << "tensor        max|abs diff|   max rel diff (|a-r|_inf/|r|_inf)\n";
  std::string worst, non_finite;
  double worst_rel = 0;
  auto row = [&](const std::string& name, const Mat<double>& ours) {
    const Diff d = compare(ours, c.load(name));
    const bool fails = !d.non_finite.empty() || d.rel > a.tol;
    char line[200];
    std::snprintf(line, sizeof line, "%-13s %.3e       %.3e%s%s\n", name.c_str(), d.abs, d.rel, fails ? "  FAIL" : "",
                  d.non_finite.empty() ? "" : (" (" + d.non_finite + ")").c_str());
    std::cout << line;
    if (!d.non_finite.empty() && non_finite.empty()) non_finite = name + ": " + d.non_finite;
    if (d.rel > worst_rel) {
      worst_rel = d.rel;
      worst = name;
    }
  };
  for (std::size_t l = 1; l <= c.num_layers(); ++l) {
    row("W" + std::to_string(l) + "_after.bin", W_after[l - 1]);
    row("b" + std::to_string(l) + "_after.bin", Mat<double>(b_after[l - 1]));
  }
  std::cout.flush();
  if (!non_finite.empty()) {
    std::cerr << "sibp: reference-step: " << non_finite << ": every compared value must be finite\n";
    throw Exit{1};
  }
  if (worst_rel > a.tol) {
    std::cerr << "sibp: reference-step: " << worst << " differs from the reference by relative " << worst_rel
              << " > --tol " << a.tol << "\n";
    throw Exit{1};
  }
}

}  // namespace

void register_reference_step(CLI::App& app) {
  auto args = std::make_shared<ReferenceStepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "reference-step",
      "Run one SIBP step (float64, reference solver) on a golden-vector case folder and compare it "
      "with the case's *_after files");
  cmd->add_option("DIR", args->dir, "Case folder with manifest.json, X.bin, Y.bin, W*_before.bin, b*_before.bin")
      ->required();
  cmd->add_option("--out", args->out, "Folder for W*_after.bin, b*_after.bin, intermediate/ and manifest.json")
      ->required();
  auto* compat = cmd->add_option("--compat", args->compat, "'authors': every quirk of the published code")
                     ->check(CLI::IsMember({"authors"}));
  cmd->add_option("--quirk", args->quirks,
                  "One quirk of the authors' solver: first-gradient-omits-bias, armijo-jump, skip-unit-step, "
                  "no-descent-restart (repeatable)")
      ->excludes(compat);
  cmd->add_option("--tol", args->tol, "Largest accepted relative difference to the *_after files")
      ->capture_default_str();
  cmd->callback([args] { run_reference_step(*args); });
}

}  // namespace sibp::cli
