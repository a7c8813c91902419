#pragma once
/// Proximal back propagation (ALGORITHMS.md §4): T. Frerix, T. Möllenhoff,
/// M. Moeller, D. Cremers, "Proximal Backpropagation", ICLR 2018, arXiv 1706.04638.
///
/// What the reference implementation (github.com/tfrerix/proxprop) does, read
/// from its files and matched here:
/// - Mean, not sum. The loss is torch.nn.CrossEntropyLoss() with its default
///   mean reduction (proxprop_pytorch.py, util.py `train`), and autograd hands
///   each ProxProp layer grad_z = ∂(mean loss)/∂z at its linear output z = G_l
///   (ProxProp.py, ForwardBackwardFunctional.backward). The target is
///   z − grad_z = G_l − δ_l: a unit explicit step on z, not scaled by τ.
/// - Old weights everywhere. δ_l is propagated through the layers above with
///   their current parameters (the grad_input of backward() re-runs the forward
///   with the unchanged module), every layer's new θ goes only into .grad as
///   θ^k − θ*, and the outer torch.optim step then moves all layers at once.
///   So the layers' solves are independent and their order does not matter.
/// - Joint [W b]. Both solvers work on X = [Wᵀ; bᵀ] with A = [input, 1]
///   (ProxProp.py, linear_to_cg_shape, linear_to_exact_solve_shape): the bias
///   is solved together with W and is penalised by the same 1/(2τ)·‖·‖².
/// - τ. optimization_step(A, Y, Z, beta = 1/tau_prox) minimises
///   ½‖AX − Y‖² + β/2‖X − Z‖² (ProxProp.py): data term summed over the m
///   samples, proximal weight 1/τ. As τ → 0 the update θ^k − θ* tends to
///   τ·∇θ(mean loss), so τ plays the role of a learning rate and the outer lr
///   is 1 in the paper's runs (paper_experiments.sh: --tau_prox 5e-2
///   --learning_rate 1, Nesterov momentum 0.95; or Adam lr 1e-3, τ = 1).
/// - exact: the normal equations (AᵀA + βI)X = AᵀY + βZ solved directly
///   (torch.gesv). cgN: `conjugate_gradient_block`, which runs one CG per
///   column of X (= per output unit) in parallel, each with its own α and β,
///   warm-started at X0 = Z = θ^k and stopped after N operator applications.
///   That function adds eps = 1e-6 to the denominators of α and β and stops
///   before N once every squared column residual is below 1e-4 times their
///   initial mean; ProxPropCg::Reference (the default) does the same,
///   ProxPropCg::Textbook makes exactly N plain CG steps.
/// - gradient: X = Z − Aᵀ(AZ − Y), i.e. θ^k − θ* = ∇θ(mean loss), which
///   recovers plain back propagation with the outer optimizer.
/// - Only the hidden layers are ProxProp layers; the last layer (final_fc in
///   models.py, ProxPropMLP) is an nn.Linear trained by its plain gradient.
///
/// How we compute it. Write D = θ^k − θ* (what the UpdateRule receives) and
/// Ã = [F_{l-1}; 1ᵀ]. Because θ^kÃ = G_l, the prox problem in D is
///     D* = argmin_D ½‖D Ã − δ_l‖² + 1/(2τ)‖D‖²,
/// the same problem shifted by θ^k, and CG from D = 0 produces exactly the
/// iterates of CG from θ = θ^k (CG commutes with the shift of the warm start).
/// Solving for D avoids forming G_l − δ_l and cancelling it against θ^kÃ, which
/// loses about log10(|G|/|δ|) ≈ 2–3 of float32's 7 digits at batch 100.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/communicator.hpp"
#include "linalg/ridge.hpp"
#include "train/algorithm.hpp"
#include "train/gradients.hpp"
#include "train/update_rule.hpp"

namespace sibp {

/// How a ProxProp layer's proximal problem is solved (the reference's modes).
enum class ProxPropSolver {
  Exact,     ///< `prox_exact`: normal equations, Cholesky or m×m Woodbury (whichever is smaller)
  CG,        ///< `prox_cgN`: N conjugate-gradient steps warm-started at θ^k
  Gradient,  ///< `gradient`: a gradient step instead of the prox (equals back propagation)
};

/// Parses "exact", "cg", "gradient"; throws UsageError naming `option` and the choices otherwise.
ProxPropSolver parse_proxprop_solver(std::string_view name,
                                     std::string_view option = "--prox-solver");
std::string to_string(ProxPropSolver s);

/// Which CG `cgN` runs.
enum class ProxPropCg {
  /// The reference implementation's `conjugate_gradient_block` (ProxProp.py): eps = 1e-6
  /// added to the denominators of α and β, and an early stop once every squared column
  /// residual is below 1e-4 times their initial mean (its tol = 1e-2). Where a unit's
  /// squared residual ‖δ_j Ãᵀ‖² is near 1e-6, β ≈ 0 makes its CG steepest descent.
  Reference,
  /// Textbook CG, exactly N steps.
  Textbook,
};
/// Parses "reference", "textbook"; throws UsageError naming `option` otherwise.
ProxPropCg parse_proxprop_cg(std::string_view name, std::string_view option = "--prox-cg");
std::string to_string(ProxPropCg c);
/// The CgOptions of `cgN` with N = iterations.
CgOptions proxprop_cg_options(ProxPropCg c, int iterations);

/// Options of ProxProp. Defaults are the paper's MLP run except the outer
/// momentum (paper: Nesterov 0.95), which the caller opts into.
struct ProxPropOptions {
  double tau = 0.05;                            ///< τ > 0, the proximal step
  ProxPropSolver solver = ProxPropSolver::CG;   ///< exact | cg | gradient
  int prox_iters = 3;                           ///< N of `cgN` (CG only), ≥ 1
  ProxPropCg cg = ProxPropCg::Reference;        ///< which CG (CG only)
  /// The optimizer that applies θ^k − θ* (hidden layers) and ∇ (last layer).
  UpdateOptions outer = UpdateOptions{UpdateKind::SGD, /*lr=*/1.0};

  /// Throws OptionError for τ not positive and finite, prox_iters outside
  /// [1, 10000], momentum with an Adam outer optimizer, or invalid outer options.
  void validate() const;
};

/// ProxProp: back propagation of the batch-mean loss with the old weights,
/// then a linear proximal step per hidden layer whose θ^k − θ* is handed, with
/// the output layer's plain gradient, to one outer UpdateRule (SGD/Nesterov/Adam).
///
/// Works on any list of layers: dense and conv layers below the last
/// parametrised one take the proximal step with their unfolded input P (§5).
/// Ensures (per step): StepReport.loss is the batch mean loss before the step;
/// once shapes are settled, no heap allocation in step() apart from Eigen's
/// GEMM blocking buffers.
template <typename T>
class ProxProp : public TrainingAlgorithm<T> {
 public:
  /// Throws UsageError if `options` are invalid.
  /// `comm`: the ranks that hold the other shards of every batch (ALGORITHMS.md §6).
  explicit ProxProp(const ProxPropOptions& options, Communicator& comm = single_process());

  StepReport step(Network<T>& net, const Batch<T>& batch) override;
  /// "proxprop-exact", "proxprop-cg3", or "proxprop-gradient".
  std::string name() const override;
  void set_diagnostics(bool on) override { diagnostics_ = on; }
  /// Scales the outer optimizer's learning rate; τ stays as given.
  void set_step_factor(double factor) override { rule_.set_step_factor(factor); }
  AlgorithmState<T> state() const override { return rule_.state(); }
  void restore(const AlgorithmState<T>& s, const Network<T>& net) override { rule_.restore(s, net); }

  const ProxPropOptions& options() const { return options_; }
  /// The directions handed to the outer rule in the last step: θ^k − θ* for
  /// layers 0..L-2, the mean-loss gradient for layer L-1.
  const Gradients<T>& last_directions() const { return grads_; }
  const UpdateRule<T>& outer_rule() const { return rule_; }

  /// Fills `D` with θ^k − θ* for the prox problem of ALGORITHMS.md §4 given a
  /// layer's forward input F (d_in, m) and δ = ∂(mean loss)/∂G (d_out, m),
  /// with this object's solver, τ and N. Exposed for tests; step() uses it.
  /// F is the layer's input operator: CG and the gradient mode use its products
  /// (a convolution's through oneDNN), the exact mode forms F (F̃F̃ᵀ is needed).
  /// Requires: dW (d_out, d_in), db (d_out) (else std::invalid_argument);
  /// `layer` selects the workspace, which keeps that layer's shapes.
  /// Returns CG iterations made (0 for exact and gradient). `space`: where CG runs
  /// (Auto: the cost model, linalg/sample_space_cg.hpp's resolve_cg_space).
  int solve_layer(std::size_t layer, const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& delta, Mat<T>& dW,
                  Vec<T>& db, CgSpace space = CgSpace::Auto);
  /// The same for an explicit F (d_in, m).
  int solve_layer(std::size_t layer, const Mat<T>& F, const Eigen::Ref<const Mat<T>>& delta, Mat<T>& dW,
                  Vec<T>& db) {
    return solve_layer(layer, DenseInput<T>(F), delta, dW, db);
  }

 private:
  void ensure_workspace(std::size_t layer, Index d_out, Index d_in);
  // solve_layer for this rank's shard of the batch (§6): products through a
  // ShardedInput where the solve stays in parameter space, else the layer's
  // F and δ gathered and solved whole on every rank.
  int solve_layer_sharded(std::size_t layer, const LayerInput<T>& F, const Eigen::Ref<const Mat<T>>& delta,
                          Mat<T>& dW, Vec<T>& db);

  ProxPropOptions options_;
  bool diagnostics_ = false;
  UpdateRule<T> rule_;
  Tape<T> tape_;
  Gradients<T> grads_;
  Mat<T> delta_, delta_below_;   // ∂(mean loss)/∂(a layer's output), then δ_l after σ'
  Mat<T> work_;                  // conv: patch-space scratch of the adjoint
  std::vector<RidgeSolver<T>> ridge_;  // one per hidden layer: its workspace keeps its shapes
  std::vector<Mat<T>> zero_W_;         // (d_l, d_{l-1}): the warm start D = 0, i.e. θ = θ^k
  std::vector<Vec<T>> zero_b_;         // (d_l)
  Mat<T> residual_;                    // (d_l, m): diagnostics only, D Ã − δ
  Mat<T> F_;                           // (d_{l-1}, m): a conv layer's P, formed for the exact solve
  Communicator* comm_;
  Mat<T> F_all_, delta_all_;           // R > 1, gathered solves: the whole batch's F and δ
};

/// The AlgorithmOptions interface of ProxPropOptions (train/algorithms.hpp; defined with
/// the unit's registration, src/train/proxprop_unit.cpp).
std::string algorithm_name(const ProxPropOptions& options);
template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> build_algorithm(const ProxPropOptions& options, const NetworkSpec& spec,
                                                      Communicator& comm);

}  // namespace sibp
