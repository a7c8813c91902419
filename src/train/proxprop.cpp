#include "train/proxprop.hpp"

#include <algorithm>
#include <cmath>

#include "core/enum_names.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "linalg/sharded_input.hpp"

namespace sibp {

namespace {
constexpr EnumNames<ProxPropSolver, 3> kProxPropSolvers{
    {{ProxPropSolver::Exact, "exact"}, {ProxPropSolver::CG, "cg"}, {ProxPropSolver::Gradient, "gradient"}}};
}  // namespace

ProxPropSolver parse_proxprop_solver(std::string_view name, std::string_view option) {
  return parse_enum(kProxPropSolvers, name, option);
}

std::string to_string(ProxPropSolver s) { return enum_name(kProxPropSolvers, s); }

ProxPropCg parse_proxprop_cg(std::string_view name, std::string_view option) {
  if (name == "reference") return ProxPropCg::Reference;
  if (name == "textbook") return ProxPropCg::Textbook;
  throw UsageError(std::string(option) + ": expected reference or textbook, got '" + std::string(name) + "'");
}

std::string to_string(ProxPropCg c) { return c == ProxPropCg::Reference ? "reference" : "textbook"; }

CgOptions proxprop_cg_options(ProxPropCg c, int iterations) {
  CgOptions o;
  o.max_iterations = iterations;
  if (c == ProxPropCg::Reference) {
    // conjugate_gradient_block(A, B, x0, tol=1e-2, maxit, eps=1e-6) in ProxProp.py.
    o.tolerance = 1e-2;
    o.stop = CgStop::ProxPropReference;
    o.denominator_eps = 1e-6;
  } else {
    o.tolerance = 0.0;
  }
  return o;
}

void ProxPropOptions::validate() const {
  if (!(tau > 0) || !std::isfinite(tau)) throw OptionError("tau", "expected a finite number > 0, got " + format_number(tau));
  if (prox_iters < 1 || prox_iters > 10000)
    throw OptionError("prox_iters", "expected an integer from 1 to 10000, got " + std::to_string(prox_iters));
  if (outer.kind == UpdateKind::Adam && (outer.momentum != 0 || outer.nesterov))
    throw OptionError("momentum", "--momentum/--nesterov apply to SGD, not to the Adam outer optimizer (--outer adam)");
  outer.validate();
}

template <typename T>
ProxProp<T>::ProxProp(const ProxPropOptions& options, Communicator& comm)
    : options_((options.validate(), options)), rule_(options.outer), comm_(&comm) {}

template <typename T>
int ProxProp<T>::solve_layer_sharded(std::size_t layer, const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& delta,
                                     Mat<T>& dW, Vec<T>& db) {
  Communicator& comm = *comm_;
  const Index n_all = allreduce_count(comm, F.cols(), "proxprop: columns");
  // Parameter space needs nothing but F̃'s products: the gradient mode, and CG on an
  // operator input (a convolution) where the cost model that every CG layer solve
  // uses (resolve_cg_space, split products counted 1/R) picks parameter space for the
  // whole batch -- the same decision on every rank, which all see n_all.
  const bool products_only =
      options_.solver == ProxPropSolver::Gradient ||
      (options_.solver == ProxPropSolver::CG && !F.holds_matrix() &&
       resolve_cg_space(CgSpace::Auto, delta.rows(), F.rows(), n_all, std::max(options_.prox_iters, 1), comm.size(),
                        false) == CgSpace::Parameter);
  if (products_only) {
    const ShardedInput<T> sharded(F, comm, "proxprop: layer products");
    return solve_layer(layer, sharded, delta, dW, db, CgSpace::Parameter);
  }
  const std::vector<Index> cols = allgather_counts(comm, F.cols(), "proxprop: column counts");
  allgather_columns<T>(comm, F.matrix_or(F_), cols, F_all_, "proxprop: layer input F");
  allgather_columns<T>(comm, delta, cols, delta_all_, "proxprop: delta");
  return solve_layer(layer, DenseInput<T>(F_all_), delta_all_, dW, db);
}

template <typename T>
std::string ProxProp<T>::name() const {
  if (options_.solver == ProxPropSolver::CG) return "proxprop-cg" + std::to_string(options_.prox_iters);
  return "proxprop-" + to_string(options_.solver);
}

template <typename T>
void ProxProp<T>::ensure_workspace(std::size_t layer, Index d_out, Index d_in) {
  if (ridge_.size() <= layer) {
    ridge_.resize(layer + 1);
    zero_W_.resize(layer + 1);
    zero_b_.resize(layer + 1);
  }
  if (zero_W_[layer].rows() != d_out || zero_W_[layer].cols() != d_in)
    zero_W_[layer] = Mat<T>::Zero(d_out, d_in);
  if (zero_b_[layer].size() != d_out) zero_b_[layer] = Vec<T>::Zero(d_out);
}

template <typename T>
int ProxProp<T>::solve_layer(std::size_t layer, const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& delta,
                             Mat<T>& dW, Vec<T>& db, CgSpace space) {
  // §4 in the shifted unknown D = θ^k − θ*: argmin ½‖D[F;1ᵀ] − δ‖² + 1/(2τ)‖D‖²
  // (see the header). RidgeSolver minimises ‖·‖² + λ‖·‖², the same minimiser with λ = 1/τ.
  const double lambda = 1.0 / options_.tau;
  if (F.cols() != delta.cols() || dW.rows() != delta.rows() || dW.cols() != F.rows() ||
      db.size() != delta.rows())
    throw std::invalid_argument("ProxProp::solve_layer: F, delta, dW, db shapes do not agree");
  if (options_.solver != ProxPropSolver::Gradient) ensure_workspace(layer, dW.rows(), dW.cols());
  switch (options_.solver) {
    case ProxPropSolver::Gradient:
      // The reference's `gradient` mode: θ* = θ^k − Ãᵀ-adjoint of (θ^kÃ − target) = θ^k − ∇θ.
      F.times_transposed(delta, dW, db.data());
      return 0;
    case ProxPropSolver::Exact:
      ridge_[layer].solve_with_bias(F.matrix_or(F_), delta, zero_W_[layer], zero_b_[layer], lambda, dW, db);
      return 0;
    case ProxPropSolver::CG: {
      const CgReport r = ridge_[layer].solve_with_bias_cg(F, delta, zero_W_[layer], zero_b_[layer], lambda,
                                                          proxprop_cg_options(options_.cg, options_.prox_iters),
                                                          dW, db, space);
      return r.iterations;
    }
  }
  return 0;
}

template <typename T>
StepReport ProxProp<T>::step(Network<T>& net, const Batch<T>& batch) {
  StepReport report;
  const std::size_t L = net.num_param_layers();
  grads_.resize_like(net);
  net.forward(batch.X, tape_);  // §4: everything below uses the OLD parameters θ^k
  const Index m = tape_.batch_size();
  const Index m_mean = batch.total_size();  // §6: the whole batch's m with R ranks
  const bool sharded = comm_->size() > 1;
  // Δ_L = ∇_f ℓ / m: the batch-MEAN loss, as the reference's CrossEntropyLoss.
  report.loss = loss_sum<T>(net.loss(), tape_.output(), batch.Y, &delta_);
  if (sharded) report.loss = allreduce_value(*comm_, report.loss, "proxprop: batch loss");
  report.loss /= static_cast<double>(m_mean);
  if (!std::isfinite(report.loss)) {
    report.finite = false;
    return report;
  }
  delta_ *= T(1) / static_cast<T>(m_mean);
  if (diagnostics_) report.layers.clear();

  const std::size_t lowest = net.layer_index(0);
  std::size_t i = L;
  for (std::size_t k = net.num_layers(); k-- > lowest;) {
    const Layer<T>& layer = net.layer(k);
    LayerRecord<T>& rec = tape_.layers[k];
    if (layer.params()) {
      --i;
      multiply_by_derivative<T>(layer.spec().act, rec.G, rec.F, delta_);  // δ_l = ∂(mean loss)/∂G_l
      const std::unique_ptr<LayerInput<T>> P = layer.input_operator(tape_.input_of(k), rec);
      if (i + 1 == L) {
        // The output layer is an ordinary layer: its plain gradient (§4, last sentence).
        if (sharded)
          ShardedInput<T>(*P, *comm_, "proxprop: output gradient")
              .times_transposed(delta_, grads_.dW[i], grads_.db[i].data());
        else
          P->times_transposed(delta_, grads_.dW[i], grads_.db[i].data());
      } else {
        const int iters = sharded ? solve_layer_sharded(i, *P, delta_, grads_.dW[i], grads_.db[i])
                                  : solve_layer(i, *P, delta_, grads_.dW[i], grads_.db[i]);
        if (diagnostics_) {
          // Subproblem objective ½‖DÃ − δ‖² + 1/(2τ)‖D‖², which equals the §4 objective at θ^k − D.
          LayerDiagnostics d;
          d.layer = i;
          P->times(grads_.dW[i], grads_.db[i].data(), residual_);
          residual_ -= delta_;
          double sums[2] = {static_cast<double>(delta_.squaredNorm()), static_cast<double>(residual_.squaredNorm())};
          if (sharded) comm_->allreduce_sum(sums, 2, "proxprop: diagnostics");
          d.objective_before = 0.5 * sums[0];
          d.objective_after = 0.5 * sums[1] +
                              0.5 / options_.tau *
                                  static_cast<double>(grads_.dW[i].squaredNorm() + grads_.db[i].squaredNorm());
          d.solver_iterations = iters;
          report.layers.insert(report.layers.begin(), d);
        }
      }
    }
    if (k > lowest) {
      // δ for the layer below goes through the OLD weights (nothing has moved yet).
      layer.backward_input(rec, delta_, m, delta_below_, work_);
      delta_.swap(delta_below_);
    }
  }
  rule_.step(net, grads_);
  report.finite = net.all_finite();
  return report;
}

template class ProxProp<float>;
template class ProxProp<double>;

}  // namespace sibp
