#include "nn/layers.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "core/error.hpp"
#include "linalg/gemm.hpp"

namespace sibp {

WindowGeometry window_geometry(const LayerSpec& L, const Shape& in, const Shape& out) {
  WindowGeometry g;
  g.channels = in.channels;
  g.height = in.height;
  g.width = in.width;
  g.kernel = L.kernel;
  g.stride = L.stride;
  g.pad = L.kind == LayerKind::Conv2d ? L.pad : 0;
  g.out_height = out.height;
  g.out_width = out.width;
  return g;
}

// ---------------------------------------------------------------- layout kernels

template <typename T>
void im2col(const Mat<T>& in, const WindowGeometry& g, Index m, Mat<T>& P) {
  const Index C = g.channels, k = g.kernel, kk = k * k;
  P.resize(C * kk, m * g.out_height * g.out_width);
  const T* src = in.data();
  for (Index j = 0; j < m; ++j)
    for (Index u = 0; u < g.out_height; ++u)
      for (Index v = 0; v < g.out_width; ++v) {
        T* dst = P.col((j * g.out_height + u) * g.out_width + v).data();
        for (Index ki = 0; ki < k; ++ki) {
          const Index y = u * g.stride + ki - g.pad;
          for (Index kj = 0; kj < k; ++kj) {
            const Index x = v * g.stride + kj - g.pad;
            T* d = dst + ki * k + kj;
            if (y < 0 || y >= g.height || x < 0 || x >= g.width) {
              for (Index c = 0; c < C; ++c) d[c * kk] = T(0);
            } else {
              const T* s = src + ((j * g.height + y) * g.width + x) * C;
              for (Index c = 0; c < C; ++c) d[c * kk] = s[c];
            }
          }
        }
      }
}

template <typename T>
void col2im(const Mat<T>& dP, const WindowGeometry& g, Index m, Mat<T>& d_in) {
  const Index C = g.channels, k = g.kernel, kk = k * k;
  d_in.setZero(C, m * g.height * g.width);
  T* dst = d_in.data();
  for (Index j = 0; j < m; ++j)
    for (Index u = 0; u < g.out_height; ++u)
      for (Index v = 0; v < g.out_width; ++v) {
        const T* src = dP.col((j * g.out_height + u) * g.out_width + v).data();
        for (Index ki = 0; ki < k; ++ki) {
          const Index y = u * g.stride + ki - g.pad;
          if (y < 0 || y >= g.height) continue;
          for (Index kj = 0; kj < k; ++kj) {
            const Index x = v * g.stride + kj - g.pad;
            if (x < 0 || x >= g.width) continue;
            T* d = dst + ((j * g.height + y) * g.width + x) * C;
            const T* s = src + ki * k + kj;
            for (Index c = 0; c < C; ++c) d[c] += s[c * kk];
          }
        }
      }
}

template <typename T>
void vectors_to_image(const Mat<T>& X, const Shape& s, Mat<T>& out) {
  const Index m = X.cols(), HW = s.pixels();
  out.resize(s.channels, m * HW);
  for (Index j = 0; j < m; ++j)
    // Sample j's column, read as (HW, C), is the transpose of its (C, HW) block.
    out.middleCols(j * HW, HW) = Eigen::Map<const Mat<T>>(X.col(j).data(), HW, s.channels).transpose();
}

template <typename T>
void image_to_vectors(const Mat<T>& X, const Shape& s, Index m, Mat<T>& out) {
  const Index HW = s.pixels();
  out.resize(s.size(), m);
  for (Index j = 0; j < m; ++j)
    Eigen::Map<Mat<T>>(out.col(j).data(), HW, s.channels) = X.middleCols(j * HW, HW).transpose();
}

// ---------------------------------------------------------------- the layer kinds

template <typename T>
void Layer<T>::set_precision(Precision p) {
  if (p == Precision::BF16 && !std::is_same_v<T, float>)
    throw std::invalid_argument("Layer::set_precision: bf16 products are for float networks, not double");
  precision_ = p;
}

template <typename T>
void Layer<T>::weight_gradient(const Mat<T>& in, const LayerRecord<T>& rec, const Mat<T>& d, Mat<T>& dW,
                               T* db) const {
  input_operator(in, rec)->times_transposed(d, dW, db);
}

template <typename T>
std::unique_ptr<LayerInput<T>> Layer<T>::input_operator(const Mat<T>&, const LayerRecord<T>&) const {
  throw std::logic_error("Layer::input_operator: layer " + spec_.to_string() + " has no parameters");
}

namespace {

/// C = op(A)·op(B) in the layer's precision: gemm(), or gemm_bf16() for bf16
/// (only ever asked of float layers: set_precision refuses bf16 for double).
template <typename T>
void product(Precision precision, const Mat<T>& A, Trans opA, const Mat<T>& B, Trans opB, Mat<T>& C) {
  if constexpr (std::is_same_v<T, float>) {
    if (precision == Precision::BF16) return gemm_bf16(A, opA, B, opB, C);
  }
  gemm<T>(A, opA, B, opB, C);
}

/// G = W·P + b·1ᵀ, F = σ(G): the part every parametrised layer shares.
template <typename T>
void affine_forward(const Params<T>& p, Activation act, const Mat<T>& P, LayerRecord<T>& rec, Precision precision) {
  rec.G.resize(p.W.rows(), P.cols());
  product<T>(precision, p.W, Trans::No, P, Trans::No, rec.G);
  rec.G.colwise() += p.b;
  rec.F.resize(rec.G.rows(), rec.G.cols());
  activate<T>(act, rec.G, rec.F);
}

template <typename T>
Params<T> zero_params(Index rows, Index cols) {
  return {Mat<T>::Zero(rows, cols), Vec<T>::Zero(rows)};
}

/// dense(N): P is the input, (d_in, m).
template <typename T>
class Dense final : public Layer<T> {
 public:
  Dense(const LayerSpec& s, const Shape& in, const Shape& out)
      : Layer<T>(s, in, out), p_(zero_params<T>(out.size(), in.size())) {}
  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Dense>(*this); }
  void forward(const Mat<T>& in, Index, LayerRecord<T>& rec) const override {
    affine_forward<T>(p_, this->spec().act, in, rec, this->precision());
  }
  void backward_input(const LayerRecord<T>&, const Mat<T>& d, Index m, Mat<T>& d_in, Mat<T>&) const override {
    d_in.resize(p_.W.cols(), m);
    product<T>(this->precision(), p_.W, Trans::Yes, d, Trans::No, d_in);
  }
  void weight_gradient(const Mat<T>& in, const LayerRecord<T>& rec, const Mat<T>& d, Mat<T>& dW,
                       T* db) const override {
    if (this->precision() == Precision::F32) return Layer<T>::weight_gradient(in, rec, d, dW, db);
    product<T>(this->precision(), d, Trans::No, in, Trans::Yes, dW);
    if (db) Eigen::Map<Vec<T>>(db, d.rows()).noalias() = d.rowwise().sum();
  }
  Params<T>* params() override { return &p_; }
  const Params<T>* params() const override { return &p_; }
  std::unique_ptr<LayerInput<T>> input_operator(const Mat<T>& in, const LayerRecord<T>&) const override {
    return std::make_unique<DenseInput<T>>(in);
  }

 private:
  Params<T> p_;
};

/// A convolution's patch matrix P = im2col(X) of a batch X as an operator, through
/// oneDNN (the fast backend): X_W·P is a forward convolution with kernel X_W and
/// Y·Pᵀ a backward-weights convolution, so P is never formed (ALGORITHMS.md §5).
class ConvInput final : public LayerInput<float> {
 public:
  /// Refers to `conv` (built for the layer's c_out) and the input X (c_in, m·H·W).
  ConvInput(DnnlConv2d& conv, const Mat<float>& X, Index m) : conv_(conv), X_(X), m_(m) {}
  Index rows() const override { return conv_.geometry().patch_rows(); }
  Index cols() const override { return m_ * conv_.geometry().out_height * conv_.geometry().out_width; }

  void times(const Eigen::Ref<const Mat<float>>& X, const float* b, Mat<float>& out) const override {
    check_cols("times", X.cols(), rows());
    out.resize(X.rows(), cols());
    if (X.rows() != conv_.out_channels()) {
      // The layer's primitives have c_out output channels; the solvers only ever
      // multiply (c_out, d) matrices. Another row count goes through P itself.
      gemm<float>(X, Trans::No, patches(), Trans::No, out);
      if (b) out.colwise() += Eigen::Map<const Vec<float>>(b, X.rows());
      return;
    }
    conv_.forward(X_.data(), m_, contiguous(X, x_copy_), b, out.data());
  }

  void times_transposed(const Eigen::Ref<const Mat<float>>& Y, Eigen::Ref<Mat<float>> out,
                        float* ones) const override {
    check_cols("times_transposed", Y.cols(), cols());
    if (out.rows() != Y.rows() || out.cols() != rows())
      throw std::invalid_argument("ConvInput::times_transposed: out must be " + std::to_string(Y.rows()) + "x" +
                                  std::to_string(rows()));
    if (Y.rows() != conv_.out_channels()) {
      gemm<float>(Y, Trans::No, patches(), Trans::Yes, out);
      if (ones) Eigen::Map<Vec<float>>(ones, Y.rows()).noalias() = Y.rowwise().sum();
      return;
    }
    const bool direct = out.outerStride() == out.rows();
    if (!direct) y_copy_.resize(out.rows(), out.cols());
    float* dW = direct ? out.data() : y_copy_.data();
    if (!ones) {
      ones_.resize(Y.rows());
      ones = ones_.data();
    }
    conv_.backward_weights(X_.data(), contiguous(Y, x_copy_), m_, dW, ones);
    if (!direct) out = y_copy_;
  }

  bool holds_matrix() const override { return false; }
  Eigen::Ref<const Mat<float>> matrix_or(Mat<float>& scratch) const override {
    im2col<float>(X_, conv_.geometry(), m_, scratch);
    return scratch;
  }

 private:
  const Mat<float>& patches() const {
    im2col<float>(X_, conv_.geometry(), m_, explicit_);
    return explicit_;
  }
  static void check_cols(const char* who, Index got, Index want) {
    if (got != want)
      throw std::invalid_argument(std::string("ConvInput::") + who + ": expected " + std::to_string(want) +
                                  " columns, got " + std::to_string(got));
  }
  // The data of M, copied into `copy` unless it is stored without gaps already.
  static const float* contiguous(const Eigen::Ref<const Mat<float>>& M, Mat<float>& copy) {
    if (M.outerStride() == M.rows()) return M.data();
    copy = M;
    return copy.data();
  }

  DnnlConv2d& conv_;
  const Mat<float>& X_;
  Index m_;
  mutable Mat<float> x_copy_, y_copy_, explicit_;
  mutable Vec<float> ones_;
};

/// conv(C,K,stride,pad): G is in image layout (C, m·H'·W'). Reference backend:
/// P = im2col(input) on the tape, G = W·P + b1ᵀ; fast backend (float): oneDNN.
template <typename T>
class Conv2d final : public Layer<T> {
 public:
  Conv2d(const LayerSpec& s, const Shape& in, const Shape& out)
      : Layer<T>(s, in, out),
        g_(window_geometry(s, in, out)),
        p_(zero_params<T>(s.units, in.channels * s.kernel * s.kernel)),
        dnnl_(g_, s.units),
        dnnl_bf16_(g_, s.units, Precision::BF16) {}
  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Conv2d>(*this); }

  void forward(const Mat<T>& in, Index m, LayerRecord<T>& rec) const override {
    if constexpr (std::is_same_v<T, float>) {
      if (conv_backend() == ConvBackend::Fast) {
        rec.P.resize(0, 0);  // marks the record as computed without P (and frees it)
        rec.G.resize(p_.W.rows(), m * g_.out_height * g_.out_width);
        conv().forward(in.data(), m, p_.W.data(), p_.b.data(), rec.G.data());
        rec.F.resize(rec.G.rows(), rec.G.cols());
        activate<T>(this->spec().act, rec.G, rec.F);
        return;
      }
    }
    im2col<T>(in, g_, m, rec.P);
    affine_forward<T>(p_, this->spec().act, rec.P, rec, this->precision());
  }

  void backward_input(const LayerRecord<T>& rec, const Mat<T>& d, Index m, Mat<T>& d_in,
                      Mat<T>& work) const override {
    if constexpr (std::is_same_v<T, float>) {
      if (rec.P.size() == 0) {
        d_in.resize(g_.channels, m * g_.height * g_.width);
        conv().backward_data(d.data(), m, p_.W.data(), d_in.data());
        return;
      }
    }
    work.resize(p_.W.cols(), d.cols());
    product<T>(this->precision(), p_.W, Trans::Yes, d, Trans::No, work);
    col2im<T>(work, g_, m, d_in);
  }

  void weight_gradient(const Mat<T>& in, const LayerRecord<T>& rec, const Mat<T>& d, Mat<T>& dW,
                       T* db) const override {
    if (this->precision() == Precision::F32) return Layer<T>::weight_gradient(in, rec, d, dW, db);
    if constexpr (std::is_same_v<T, float>) {
      if (rec.P.size() == 0) {
        dnnl_bf16_.backward_weights(in.data(), d.data(), in.cols() / (g_.height * g_.width), dW.data(), db);
        return;
      }
    }
    product<T>(this->precision(), d, Trans::No, rec.P, Trans::Yes, dW);
    if (db) Eigen::Map<Vec<T>>(db, d.rows()).noalias() = d.rowwise().sum();
  }

  Params<T>* params() override { return &p_; }
  const Params<T>* params() const override { return &p_; }

  std::unique_ptr<LayerInput<T>> input_operator(const Mat<T>& in, const LayerRecord<T>& rec) const override {
    if constexpr (std::is_same_v<T, float>) {
      if (rec.P.size() == 0) return std::make_unique<ConvInput>(dnnl_, in, in.cols() / (g_.height * g_.width));
    }
    return std::make_unique<DenseInput<T>>(rec.P);
  }

 private:
  // The primitives of the layer's precision; input_operator() (the solvers)
  // always uses the float32 ones.
  DnnlConv2d& conv() const { return this->precision() == Precision::BF16 ? dnnl_bf16_ : dnnl_; }

  WindowGeometry g_;
  Params<T> p_;
  // Primitives per sub-batch size and workspace: a cache, hence mutable (a
  // network is used by one thread at a time, like its tape). Created on first
  // use, so the bf16 ones cost nothing in a float32 run.
  mutable DnnlConv2d dnnl_, dnnl_bf16_;
};

/// maxpool(K,stride): each output entry is its window's maximum; ties go to the
/// first maximum in row-major order and NaN wins, as PyTorch's MaxPool2d. On the
/// fast backend a 2×2, stride-2 pool of floats runs maxpool2x2_forward, with the
/// same rule.
template <typename T>
class MaxPool2d final : public Layer<T> {
 public:
  MaxPool2d(const LayerSpec& s, const Shape& in, const Shape& out)
      : Layer<T>(s, in, out), g_(window_geometry(s, in, out)) {}
  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<MaxPool2d>(*this); }
  void forward(const Mat<T>& in, Index m, LayerRecord<T>& rec) const override {
    const Index C = g_.channels;
    rec.F.resize(C, m * g_.out_height * g_.out_width);
    if (std::is_same_v<T, float> && conv_backend() == ConvBackend::Fast && g_.kernel == 2 && g_.stride == 2) {
      rec.argmax.clear();
      rec.window_argmax.resize(static_cast<std::size_t>(rec.F.size()));
      maxpool2x2_forward<T>(C, m, g_.height, g_.width, in.data(), rec.F.data(), rec.window_argmax.data());
      return;
    }
    rec.window_argmax.clear();
    rec.argmax.resize(static_cast<std::size_t>(rec.F.size()));
    const T* src = in.data();
    for (Index j = 0; j < m; ++j)
      for (Index u = 0; u < g_.out_height; ++u)
        for (Index v = 0; v < g_.out_width; ++v) {
          const Index col = (j * g_.out_height + u) * g_.out_width + v;
          T* best = rec.F.col(col).data();
          Index* arg = rec.argmax.data() + col * C;
          for (Index ki = 0; ki < g_.kernel; ++ki)
            for (Index kj = 0; kj < g_.kernel; ++kj) {
              const Index at = ((j * g_.height + u * g_.stride + ki) * g_.width + v * g_.stride + kj) * C;
              const bool first = ki == 0 && kj == 0;
              for (Index c = 0; c < C; ++c) {
                const T x = src[at + c];
                if (first || x > best[c] || std::isnan(x)) {
                  best[c] = x;
                  arg[c] = at + c;
                }
              }
            }
        }
  }
  void backward_input(const LayerRecord<T>& rec, const Mat<T>& d, Index m, Mat<T>& d_in, Mat<T>&) const override {
    if (!rec.window_argmax.empty()) {
      d_in.resize(g_.channels, m * g_.height * g_.width);
      maxpool2x2_backward<T>(g_.channels, m, g_.height, g_.width, d.data(), rec.window_argmax.data(), d_in.data());
      return;
    }
    d_in.setZero(g_.channels, m * g_.height * g_.width);
    T* dst = d_in.data();
    const T* src = d.data();
    for (std::size_t i = 0; i < rec.argmax.size(); ++i) dst[rec.argmax[i]] += src[i];
  }

 private:
  WindowGeometry g_;
};

/// avgpool(K,stride): each output entry is its window's mean.
template <typename T>
class AvgPool2d final : public Layer<T> {
 public:
  AvgPool2d(const LayerSpec& s, const Shape& in, const Shape& out)
      : Layer<T>(s, in, out), g_(window_geometry(s, in, out)) {}
  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<AvgPool2d>(*this); }
  void forward(const Mat<T>& in, Index m, LayerRecord<T>& rec) const override {
    const Index C = g_.channels;
    const T scale = T(1) / static_cast<T>(g_.kernel * g_.kernel);
    rec.F.setZero(C, m * g_.out_height * g_.out_width);
    for_each_window(m, [&](Index col, Index at) { rec.F.col(col) += in.col(at); });
    rec.F *= scale;
  }
  void backward_input(const LayerRecord<T>&, const Mat<T>& d, Index m, Mat<T>& d_in, Mat<T>&) const override {
    const T scale = T(1) / static_cast<T>(g_.kernel * g_.kernel);
    d_in.setZero(g_.channels, m * g_.height * g_.width);
    for_each_window(m, [&](Index col, Index at) { d_in.col(at) += scale * d.col(col); });
  }

 private:
  // fn(output column, input column) for every window entry, in row-major window order.
  template <typename Fn>
  void for_each_window(Index m, Fn&& fn) const {
    for (Index j = 0; j < m; ++j)
      for (Index u = 0; u < g_.out_height; ++u)
        for (Index v = 0; v < g_.out_width; ++v) {
          const Index col = (j * g_.out_height + u) * g_.out_width + v;
          for (Index ki = 0; ki < g_.kernel; ++ki)
            for (Index kj = 0; kj < g_.kernel; ++kj)
              fn(col, (j * g_.height + u * g_.stride + ki) * g_.width + v * g_.stride + kj);
        }
  }
  WindowGeometry g_;
};

/// flatten: image layout (C, m·H·W) → vectors (C·H·W, m) in PyTorch's (C, H, W) order.
template <typename T>
class Flatten final : public Layer<T> {
 public:
  Flatten(const LayerSpec& s, const Shape& in, const Shape& out) : Layer<T>(s, in, out) {}
  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Flatten>(*this); }
  void forward(const Mat<T>& in, Index m, LayerRecord<T>& rec) const override {
    image_to_vectors<T>(in, this->input_shape(), m, rec.F);
  }
  void backward_input(const LayerRecord<T>&, const Mat<T>& d, Index, Mat<T>& d_in, Mat<T>&) const override {
    vectors_to_image<T>(d, this->input_shape(), d_in);
  }
};

}  // namespace

template <typename T>
std::unique_ptr<Layer<T>> make_layer(const LayerSpec& spec, const Shape& in, const Shape& out) {
  switch (spec.kind) {
    case LayerKind::Dense: return std::make_unique<Dense<T>>(spec, in, out);
    case LayerKind::Conv2d: return std::make_unique<Conv2d<T>>(spec, in, out);
    case LayerKind::MaxPool2d: return std::make_unique<MaxPool2d<T>>(spec, in, out);
    case LayerKind::AvgPool2d: return std::make_unique<AvgPool2d<T>>(spec, in, out);
    case LayerKind::Flatten: return std::make_unique<Flatten<T>>(spec, in, out);
  }
  throw std::invalid_argument("make_layer: unknown layer kind");
}

#define SIBP_INSTANTIATE(T)                                                                          \
  template void im2col<T>(const Mat<T>&, const WindowGeometry&, Index, Mat<T>&);                     \
  template void col2im<T>(const Mat<T>&, const WindowGeometry&, Index, Mat<T>&);                     \
  template void vectors_to_image<T>(const Mat<T>&, const Shape&, Mat<T>&);                           \
  template void image_to_vectors<T>(const Mat<T>&, const Shape&, Index, Mat<T>&);                    \
  template class Layer<T>;                                                                           \
  template std::unique_ptr<Layer<T>> make_layer<T>(const LayerSpec&, const Shape&, const Shape&);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
