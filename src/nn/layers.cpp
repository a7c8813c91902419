#include "nn/layers.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"

namespace sibp {

WindowGeometry WindowGeometry::of(const LayerSpec& L, const Shape& in, const Shape& out) {
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
const Mat<T>& Layer<T>::unfolded_input(const Mat<T>& in, const LayerRecord<T>&) const {
  return in;
}

namespace {

/// G = W·P + b·1ᵀ, F = σ(G): the part every parametrised layer shares.
template <typename T>
void affine_forward(const Params<T>& p, Activation act, const Mat<T>& P, LayerRecord<T>& rec) {
  rec.G.resize(p.W.rows(), P.cols());
  rec.G.noalias() = p.W * P;
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
    affine_forward<T>(p_, this->spec().act, in, rec);
  }
  void backward_input(const LayerRecord<T>&, const Mat<T>& d, Index m, Mat<T>& d_in, Mat<T>&) const override {
    d_in.resize(p_.W.cols(), m);
    d_in.noalias() = p_.W.transpose() * d;
  }
  Params<T>* params() override { return &p_; }
  const Params<T>* params() const override { return &p_; }

 private:
  Params<T> p_;
};

/// conv(C,K,stride,pad): P = im2col(input), G is in image layout (C, m·H'·W').
template <typename T>
class Conv2d final : public Layer<T> {
 public:
  Conv2d(const LayerSpec& s, const Shape& in, const Shape& out)
      : Layer<T>(s, in, out),
        g_(WindowGeometry::of(s, in, out)),
        p_(zero_params<T>(s.units, in.channels * s.kernel * s.kernel)) {}
  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<Conv2d>(*this); }
  void forward(const Mat<T>& in, Index m, LayerRecord<T>& rec) const override {
    im2col<T>(in, g_, m, rec.P);
    affine_forward<T>(p_, this->spec().act, rec.P, rec);
  }
  void backward_input(const LayerRecord<T>&, const Mat<T>& d, Index m, Mat<T>& d_in, Mat<T>& work) const override {
    work.resize(p_.W.cols(), d.cols());
    work.noalias() = p_.W.transpose() * d;
    col2im<T>(work, g_, m, d_in);
  }
  Params<T>* params() override { return &p_; }
  const Params<T>* params() const override { return &p_; }
  const Mat<T>& unfolded_input(const Mat<T>&, const LayerRecord<T>& rec) const override { return rec.P; }

 private:
  WindowGeometry g_;
  Params<T> p_;
};

/// maxpool(K,stride): each output entry is its window's maximum; ties go to the
/// first maximum in row-major order and NaN wins, as PyTorch's MaxPool2d.
template <typename T>
class MaxPool2d final : public Layer<T> {
 public:
  MaxPool2d(const LayerSpec& s, const Shape& in, const Shape& out)
      : Layer<T>(s, in, out), g_(WindowGeometry::of(s, in, out)) {}
  std::unique_ptr<Layer<T>> clone() const override { return std::make_unique<MaxPool2d>(*this); }
  void forward(const Mat<T>& in, Index m, LayerRecord<T>& rec) const override {
    const Index C = g_.channels;
    rec.F.resize(C, m * g_.out_height * g_.out_width);
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
      : Layer<T>(s, in, out), g_(WindowGeometry::of(s, in, out)) {}
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
