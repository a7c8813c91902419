#pragma once
/// The layers a network is a list of (ALGORITHMS.md §1, §5), behind one small
/// interface: forward into the tape, the adjoint of the layer's linear map, and
/// the parameters of the layers that have them.
///
/// Every parametrised layer (dense, convolution) computes
///
///     P = U(F_in)          the layer's input unfolded: F_in itself (dense) or its
///                          patch matrix (im2col, convolution)
///     G = W·P + b·1ᵀ       (d_out, n), one column per sample (dense) or per sample-pixel
///     F = σ(G)
///
/// so the algorithms see every parametrised layer as section 1's dense layer with
/// P in place of F_{l-1}, through the operator input_operator() (products with
/// P̃ = [P; 1ᵀ] and P̃ᵀ: linalg/layer_input.hpp), which a convolution computes
/// with oneDNN without forming P. Parameter-free layers (pooling, flatten) are
/// maps whose adjoint carries a difference from their output back to their input.
/// Layouts are those of nn/architecture.hpp.
///
/// Convolution and max-pooling have two implementations, selected by
/// conv_backend() (nn/conv_kernels.hpp): the plain one (im2col + GEMM, the
/// generic pooling loop), which is the reference, and the fast one (oneDNN,
/// AVX-512), tested against it. A forward pass records which one ran, and the
/// backward pass and input_operator() follow it.
#include <memory>

#include "linalg/layer_input.hpp"
#include "nn/architecture.hpp"
#include "nn/bf16.hpp"
#include "nn/conv_kernels.hpp"
#include "nn/tape.hpp"

namespace sibp {

/// The weights and biases of a dense or conv layer: G = W·P + b·1ᵀ.
template <typename T>
struct Params {
  /// (d_out, d_in): dense (units, inputs); conv (c_out, c_in·k·k), PyTorch's
  /// [out, in, kh, kw] kernel with its last three dimensions flattened in that order.
  Mat<T> W;
  Vec<T> b;  // (d_out)
};

/// The window geometry of a conv or pooling layer `L` mapping `in` to `out`.
WindowGeometry window_geometry(const LayerSpec& L, const Shape& in, const Shape& out);

/// P ← the patch matrix of `in` (channels, m·H·W): column (j·H' + u)·W' + v holds the
/// window of sample j at output pixel (u, v), row (c·k + ki)·k + kj its channel-c
/// entry at kernel offset (ki, kj), zero where the window leaves the padded input.
template <typename T>
void im2col(const Mat<T>& in, const WindowGeometry& g, Index m, Mat<T>& P);

/// The adjoint of im2col: d_in (channels, m·H·W) ← Σ of every patch entry into the
/// input entry it was copied from.
template <typename T>
void col2im(const Mat<T>& dP, const WindowGeometry& g, Index m, Mat<T>& d_in);

/// Vector layout (C·H·W, m) → image layout (C, m·H·W), and back.
template <typename T>
void vectors_to_image(const Mat<T>& X, const Shape& s, Mat<T>& out);
template <typename T>
void image_to_vectors(const Mat<T>& X, const Shape& s, Index m, Mat<T>& out);

/// One layer. Implementations: Dense, Conv2d, MaxPool2d, AvgPool2d, Flatten.
template <typename T>
class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::unique_ptr<Layer<T>> clone() const = 0;

  const LayerSpec& spec() const { return spec_; }
  const Shape& input_shape() const { return in_; }
  const Shape& output_shape() const { return out_; }

  /// Records the forward pass of m samples: rec.F, and whatever backward_input needs.
  /// Requires: `in` holds m samples of input_shape() in this layer's input layout.
  virtual void forward(const Mat<T>& in, Index m, LayerRecord<T>& rec) const = 0;

  /// d_in ← the adjoint of the layer's map applied to `d`. For dense/conv, `d` is a
  /// difference on G (after σ'; (d_out, n)) and d_in = Uᵀ(Wᵀd) with the layer's current
  /// W; for pooling and flatten, `d` is on the output and d_in = (the map)ᵀ d. `work`
  /// is scratch that keeps its allocation between calls.
  virtual void backward_input(const LayerRecord<T>& rec, const Mat<T>& d, Index m, Mat<T>& d_in,
                              Mat<T>& work) const = 0;

  /// [dW db] ← d·P̃ᵀ = [d·Pᵀ, d·1]: the parameters' part of the adjoint for a
  /// difference `d` on G (d_out, n), `in` and `rec` the layer's input and record
  /// of the last forward pass; dW sized like W, db like b. In float32 exactly
  /// input_operator(in, rec)->times_transposed(d, dW, db); in bf16 precision the
  /// product's inputs are rounded to bf16 and db is summed in float32 (of d
  /// itself, or, on the oneDNN convolution path, of the bf16 copy of d that the
  /// backward-weights primitive reads, as PyTorch's autocast does).
  /// Requires: params() is not null (else std::logic_error).
  virtual void weight_gradient(const Mat<T>& in, const LayerRecord<T>& rec, const Mat<T>& d, Mat<T>& dW,
                               T* db) const;

  /// Precision of the products of forward(), backward_input() and
  /// weight_gradient() (input_operator(), which the solvers use, is float32
  /// always). F32 unless set.
  Precision precision() const { return precision_; }
  /// Requires: p is F32, or T is float (else std::invalid_argument).
  void set_precision(Precision p);

  /// The layer's parameters, or null for a parameter-free layer.
  virtual Params<T>* params() { return nullptr; }
  virtual const Params<T>* params() const { return nullptr; }

  /// The matrix W multiplies (P above) as an operator: the input itself for dense
  /// (held: matrix() is `in`), the patch matrix for conv (held on the reference
  /// backend, where it is rec.P; computed through oneDNN on the fast one).
  /// Requires: params() is not null (else std::logic_error); `in` and `rec` are
  /// the layer's input and record of the last forward pass, and outlive the view.
  virtual std::unique_ptr<LayerInput<T>> input_operator(const Mat<T>& in, const LayerRecord<T>& rec) const;

 protected:
  Layer(const LayerSpec& spec, const Shape& in, const Shape& out) : spec_(spec), in_(in), out_(out) {}
  Layer(const Layer&) = default;

 private:
  LayerSpec spec_;
  Shape in_, out_;
  Precision precision_ = Precision::F32;
};

/// Builds the layer `spec` mapping `in` to `out` (as NetworkSpec resolved them), with
/// zero parameters.
template <typename T>
std::unique_ptr<Layer<T>> make_layer(const LayerSpec& spec, const Shape& in, const Shape& out);

}  // namespace sibp
