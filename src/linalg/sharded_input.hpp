#pragma once
/// A layer input split by columns over the ranks of a data-parallel job
/// (ALGORITHMS.md §6), seen by the solvers as the whole batch's input.
///
/// Each rank holds the columns of its own samples, F_r, and F = [F_0 … F_{R-1}].
/// Then X·F̃ is column-wise, so each rank computes its own columns of it, and
/// Y·F̃ᵀ = Σ_r Y_r·F̃_rᵀ is a sum of per-shard products: one allreduce of a
/// (rows, d + 1) matrix. A parameter-space solver (CG on X ↦ λX + ((X F̃) ⊙ w) F̃ᵀ,
/// its right-hand side, the reference solver's gradients) written against
/// LayerInput therefore runs unchanged on the sharded batch, its replicated
/// parameter-space vectors staying identical on every rank. Sums the solver
/// forms itself over columns (objective values) still need allreduce_value().
#include <string>

#include "core/communicator.hpp"
#include "linalg/layer_input.hpp"

namespace sibp {

template <typename T>
class ShardedInput final : public LayerInput<T> {
 public:
  /// `local` is this rank's columns; `what` names the sums in time-out messages.
  ShardedInput(const LayerInput<T>& local, Communicator& comm, const char* what)
      : local_(local), comm_(comm), what_(what) {}
  Index rows() const override { return local_.rows(); }
  /// This rank's columns: everything of shape (·, n) a solver holds is local.
  Index cols() const override { return local_.cols(); }
  void times(const Eigen::Ref<const Mat<T>>& X, const T* b, Mat<T>& out) const override { local_.times(X, b, out); }
  void times_transposed(const Eigen::Ref<const Mat<T>>& Y, Eigen::Ref<Mat<T>> out, T* ones) const override {
    local_.times_transposed(Y, out, ones);
    // One allreduce for [Y Fᵀ, Y 1]: pack when the bias part is asked for.
    if (ones == nullptr && out.outerStride() == out.rows()) {
      comm_.allreduce_sum(out.data(), static_cast<std::size_t>(out.size()), what_);
      return;
    }
    buffer_.resize(static_cast<std::size_t>(out.size() + (ones ? out.rows() : 0)));
    Eigen::Map<Mat<T>>(buffer_.data(), out.rows(), out.cols()) = out;
    if (ones) std::copy(ones, ones + out.rows(), buffer_.data() + out.size());
    comm_.allreduce_sum(buffer_.data(), buffer_.size(), what_);
    out = Eigen::Map<const Mat<T>>(buffer_.data(), out.rows(), out.cols());
    if (ones) std::copy(buffer_.data() + out.size(), buffer_.data() + buffer_.size(), ones);
  }
  /// Not offered: a solver that needs F itself (a Gram matrix of the batch's
  /// columns) must gather the whole problem instead (train/sharded_problem.hpp).
  bool holds_matrix() const override { return false; }
  Eigen::Ref<const Mat<T>> matrix_or(Mat<T>&) const override {
    throw std::logic_error(std::string("ShardedInput (") + what_ +
                           "): a sharded input has no local matrix of the whole batch; gather the problem");
  }

 private:
  const LayerInput<T>& local_;
  Communicator& comm_;
  const char* what_;
  mutable std::vector<T> buffer_;
};

}  // namespace sibp
