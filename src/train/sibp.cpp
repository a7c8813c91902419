#include "train/sibp.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>

#include "core/error.hpp"
#include "core/format.hpp"
#include "core/thread_pool.hpp"

namespace sibp {

void SibpOptions::validate() const {
  if (!(eta > 0) || !std::isfinite(eta))
    throw OptionError("eta", "expected a finite number > 0, got " + format_number(eta));
  if (lambda.empty()) throw OptionError("lambda", "expected one value or one per layer, got none");
  for (double v : lambda)
    if (!(v > 0) || !std::isfinite(v))
      throw OptionError("lambda", "every value must be a finite number > 0, got " + format_number(v));
  if (solver_iters < 0 || solver_iters > 10000)
    throw OptionError("solver_iters", "expected an integer from 0 (each solver's default) to 10000, got " +
                                          std::to_string(solver_iters));
  solver_options().validate();
  if (conv_solver_iters < 0 || conv_solver_iters > 10000)
    throw OptionError("conv_solver_iters", "expected an integer from 0 (as solver_iters) to 10000, got " +
                                               std::to_string(conv_solver_iters));
  // Quirks describe the authors' solver; silently ignoring them under another
  // solver would make a "compat" run something else.
  if (quirks.any() && (solver.output != SolverKind::Reference || solver.hidden != SolverKind::Reference))
    throw OptionError("solver", "--compat/--quirk reproduce the authors' reference solver, but the solver is '" +
                                    solver.to_string() + "': use --solver reference");
}

double SibpOptions::lambda_for(std::size_t l, std::size_t L) const {
  if (lambda.size() == 1) return lambda[0];
  if (lambda.size() != L)
    throw OptionError("lambda", "expected 1 value or " + std::to_string(L) + " (one per dense or conv layer), got " +
                                    std::to_string(lambda.size()));
  return lambda[l];
}

double SibpOptions::step_lambda(std::size_t l, std::size_t L, Index m) const {
  const double per_unit = lambda_for(l, L);
  return lambda_per_sample ? per_unit * static_cast<double>(m) : per_unit;
}

int SibpOptions::iterations(LayerKind kind, SolverKind solver) const {
  if (kind == LayerKind::Conv2d && conv_solver_iters > 0) return conv_solver_iters;
  return solver_iters > 0 ? solver_iters : default_solver_iters(solver, kind);
}

SolverOptions SibpOptions::solver_options(LayerKind kind, SolverKind solver) const {
  SolverOptions o;
  o.iters = iterations(kind, solver);
  o.mode = mode;
  o.quirks = quirks;
  o.cg_space = cg_space;
  o.tol = solver_tol;
  o.stop = solver_stop;
  return o;
}

std::vector<double> parse_lambda_list(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    // from_chars reads back exactly what format_number (config.json) writes,
    // subnormal values included, which std::stod refuses as out of range.
    // Spaces around a value and a leading '+' are allowed, as stod allowed them.
    std::size_t a = 0, b = part.size();
    while (a < b && std::isspace(static_cast<unsigned char>(part[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(part[b - 1]))) --b;
    if (a < b && part[a] == '+') ++a;
    double v = 0;
    const auto [end, ec] = std::from_chars(part.data() + a, part.data() + b, v);
    const bool used = a < b && ec == std::errc() && end == part.data() + b;
    if (!used || !(v > 0) || !std::isfinite(v))
      throw OptionError("lambda", "'" + text + "': expected positive numbers joined by ',', got '" + part + "'");
    out.push_back(v);
  }
  if (out.empty() || (!text.empty() && text.back() == ','))
    throw OptionError("lambda", "'" + text + "': expected one value or one per layer joined by ','");
  return out;
}

template <typename T>
Sibp<T>::Sibp(const SibpOptions& options, const NetworkSpec& spec, Communicator& comm)
    : options_(options), spec_(spec), comm_(&comm) {
  options_.validate();
  const std::size_t L = spec_.num_param_layers();
  options_.lambda_for(0, L);  // throws unless 1 or L values
  std::size_t i = 0;
  for (const LayerSpec& layer : spec_.layers) {
    if (!layer.has_parameters()) continue;
    const bool out = ++i == L;
    const SolverKind kind = options_.solver.for_layer(out);
    check_solver_fits_layer(kind, layer, i);
    solvers_.push_back(make_prox_solver<T>(kind, options_.solver_options(layer.kind, kind)));
  }
  T_.resize(L);
}

template <typename T>
StepReport Sibp<T>::step(Network<T>& net, const Batch<T>& batch) {
  const std::size_t L = net.num_param_layers();
  if (L != solvers_.size() || net.spec().shapes != spec_.shapes)
    throw std::invalid_argument("Sibp::step: the network is not the one the algorithm was built for (" +
                                net.spec().arch_string() + " on " + net.spec().input.to_string() + ", expected " +
                                spec_.arch_string() + " on " + spec_.input.to_string() + ")");
  const T eta = static_cast<T>(options_.eta * step_factor_);
  StepReport report;

  // 1. Forward at (W^k, b^k), keeping every layer's P, G and F (§3 step 1).
  net.forward(batch.X, tape_);
  const Index m = tape_.batch_size();

  // 2. D_L = ∇_F ℓ per sample (not divided by m) (§3 step 2).
  // (§6: with R ranks, the sum over every shard, and m the whole batch's size.)
  report.loss = loss_sum<T>(net.loss(), tape_.output(), batch.Y, &D_);
  if (comm_->size() > 1) report.loss = allreduce_value(*comm_, report.loss, "sibp: batch loss");
  report.loss /= static_cast<double>(batch.total_size());
  if (!std::isfinite(report.loss)) {
    report.finite = false;
    return report;
  }

  if (diagnostics_) report.layers.resize(L);
  // 3. Backward sweep over every layer (§3 step 3, §5).
  const std::size_t lowest = net.layer_index(0);
  std::size_t i = L;
  for (std::size_t k = net.num_layers(); k-- > lowest;) {
    const Layer<T>& layer = net.layer(k);
    LayerRecord<T>& rec = tape_.layers[k];
    if (layer.params()) {
      --i;
      T_[i].resize(rec.F.rows(), rec.F.cols());
      for_column_chunks(rec.F.rows(), rec.F.cols(), [&](std::int64_t, Index c0, Index cn) {
        T_[i].middleCols(c0, cn).noalias() = rec.F.middleCols(c0, cn) - eta * D_.middleCols(c0, cn);  // T_l = F_l − η D_l
      });
      const std::unique_ptr<LayerInput<T>> input = layer.input_operator(tape_.input_of(k), rec);
      ProxProblem<T> problem;
      problem.input = input.get();
      problem.target = &T_[i];
      problem.G = &rec.G;
      problem.output = &rec.F;  // σ(G^k), which the Gauss–Newton solvers need
      problem.act = layer.spec().act;
      problem.lambda = options_.step_lambda(i, L, batch.total_size());
      problem.is_output_layer = (i + 1 == L);
      problem.comm = comm_;
      LayerDiagnostics* diag = nullptr;
      if (diagnostics_) {
        diag = &report.layers[i];
        diag->layer = i;
        // ‖T − F‖ / ‖F‖ = η‖D‖ / ‖F‖: how far the layer's output is asked to move.
        if (comm_->size() == 1) {
          diag->target_move = static_cast<double>(eta) * static_cast<double>(D_.norm()) /
                              static_cast<double>(rec.F.norm());
        } else {
          double norms[2] = {static_cast<double>(D_.squaredNorm()), static_cast<double>(rec.F.squaredNorm())};
          comm_->allreduce_sum(norms, 2, "sibp: diagnostics");
          diag->target_move = static_cast<double>(eta) * std::sqrt(norms[0]) / std::sqrt(norms[1]);
        }
      }
      // 3.1 implicit step on the layer's parameters.
      Params<T>& p = net.params(i);
      solvers_[i]->solve(problem, p.W, p.b, diag);
      if (k == lowest) break;
      // 3.2 D below = adjoint of (W_l^{k+1}, σ_l'(G_l^k) ⊙ D_l): the updated weights make it semi-implicit.
      multiply_by_derivative<T>(layer.spec().act, rec.G, rec.F, D_);
    }
    layer.backward_input(rec, D_, m, D_below_, work_);
    D_.swap(D_below_);
  }
  report.finite = net.all_finite();
  return report;
}

template class Sibp<float>;
template class Sibp<double>;

}  // namespace sibp
