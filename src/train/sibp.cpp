#include "train/sibp.hpp"

#include <cmath>
#include <sstream>

#include "core/error.hpp"

namespace sibp {

void SibpOptions::validate() const {
  if (!(eta > 0) || !std::isfinite(eta))
    throw UsageError("--eta: expected a finite number > 0, got " + std::to_string(eta));
  if (lambda.empty()) throw UsageError("--lambda: expected one value or one per layer, got none");
  for (double v : lambda)
    if (!(v > 0) || !std::isfinite(v))
      throw UsageError("--lambda: every value must be a finite number > 0, got " + std::to_string(v));
  solver_options().validate();
}

double SibpOptions::lambda_for(std::size_t l, std::size_t L) const {
  if (lambda.size() == 1) return lambda[0];
  if (lambda.size() != L)
    throw UsageError("--lambda: expected 1 value or " + std::to_string(L) + " (one per layer), got " +
                     std::to_string(lambda.size()));
  return lambda[l];
}

SolverOptions SibpOptions::solver_options() const {
  SolverOptions o;
  o.iters = solver_iters;
  o.mode = mode;
  o.quirks = quirks;
  return o;
}

std::vector<double> parse_lambda_list(const std::string& text, const std::string& option) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (part.empty() || used != part.size() || !(v > 0) || !std::isfinite(v))
      throw UsageError(option + " '" + text + "': expected positive numbers joined by ',', got '" + part + "'");
    out.push_back(v);
  }
  if (out.empty()) throw UsageError(option + ": expected one value or one per layer, got ''");
  return out;
}

SibpOptions make_sibp_options(double eta, const std::string& lambda, const std::string& solver, int solver_iters,
                              const std::string& update, const std::vector<std::string>& quirks,
                              const std::string& compat) {
  SibpOptions o;
  o.eta = eta;
  o.lambda = parse_lambda_list(lambda);
  o.solver = parse_solver_spec(solver);
  o.solver_iters = solver_iters;
  o.mode = parse_update_mode(update);
  if (!compat.empty()) {
    if (compat != "authors") throw UsageError("--compat: expected 'authors', got '" + compat + "'");
    if (!quirks.empty()) throw UsageError("--compat authors already sets every quirk; drop --quirk");
    o.quirks = ReferenceQuirks::authors();
  }
  for (const auto& q : quirks) o.quirks.enable(q);
  // Quirks describe the authors' solver; silently ignoring them under another
  // solver would make a "compat" run something else.
  if (o.quirks.any() && (o.solver.output != SolverKind::Reference || o.solver.hidden != SolverKind::Reference))
    throw UsageError("--compat/--quirk reproduce the authors' reference solver, but --solver is '" +
                     o.solver.to_string() + "': add --solver reference");
  o.validate();
  return o;
}

void check_sibp_fits_network(const SibpOptions& options, const NetworkSpec& spec) {
  const std::size_t L = spec.widths.size() - 1;
  options.lambda_for(0, L);
  for (std::size_t l = 0; l < L; ++l) {
    const bool out = l + 1 == L;
    check_solver_fits_layer(options.solver.for_layer(out), out ? spec.output : spec.hidden, l + 1);
  }
}

template <typename T>
Sibp<T>::Sibp(const SibpOptions& options) : options_(options) {
  options_.validate();
}

template <typename T>
void Sibp<T>::build_solvers(const Network<T>& net) {
  const std::size_t L = net.num_layers();
  check_sibp_fits_network(options_, net.spec());
  solvers_.clear();
  for (std::size_t l = 0; l < L; ++l)
    solvers_.push_back(make_prox_solver<T>(options_.solver.for_layer(l + 1 == L), options_.solver_options()));
}

template <typename T>
StepReport Sibp<T>::step(Network<T>& net, const Batch<T>& batch) {
  const std::size_t L = net.num_layers();
  if (solvers_.size() != L) build_solvers(net);
  const T eta = static_cast<T>(options_.eta);
  StepReport report;

  // 1. Forward at (W^k, b^k), keeping every F_l and G_l (§3 step 1).
  net.forward(batch.X, tape_);
  const Index m = tape_.batch_size();
  T_.resize(L + 1);

  // 2. D_L = ∇_F ℓ per sample (not divided by m); T_L = F_L − η D_L (§3 step 2).
  D_.resize(L + 1);
  report.loss = loss_sum<T>(net.loss(), tape_.F[L], batch.Y, &D_[L]) / static_cast<double>(m);
  if (!std::isfinite(report.loss)) {
    report.finite = false;
    return report;
  }
  T_[L].noalias() = tape_.F[L] - eta * D_[L];

  if (this->diagnostics_) report.layers.resize(L);
  // 3. Backward sweep (§3 step 3).
  for (std::size_t l = L; l >= 1; --l) {
    Dense<T>& layer = net.layer(l - 1);
    ProxProblem<T> problem;
    problem.F = &tape_.F[l - 1];
    problem.target = &T_[l];
    problem.G = &tape_.G[l];
    problem.act = layer.act;
    problem.lambda = options_.lambda_for(l - 1, L);
    problem.is_output_layer = (l == L);
    LayerDiagnostics* diag = nullptr;
    if (this->diagnostics_) {
      diag = &report.layers[l - 1];
      diag->layer = l - 1;
    }
    // 3.1 implicit step on the layer's parameters.
    solvers_[l - 1]->solve(problem, layer.W, layer.b, diag);
    if (l > 1) {
      // 3.2 D_{l-1} = (W_l^{k+1})ᵀ(σ_l'(G_l^k) ⊙ D_l): the updated weights make it semi-implicit.
      multiply_by_derivative<T>(layer.act, tape_.G[l], tape_.F[l], D_[l]);
      D_[l - 1].noalias() = layer.W.transpose() * D_[l];
      T_[l - 1].noalias() = tape_.F[l - 1] - eta * D_[l - 1];
    }
  }
  report.finite = net.all_finite();
  return report;
}

template class Sibp<float>;
template class Sibp<double>;

}  // namespace sibp
