#include "data/dataset.hpp"

#include <cmath>
#include <numeric>

#include "core/error.hpp"

namespace sibp {

namespace {
void check_labels(const std::vector<std::uint8_t>& labels, int num_classes, const std::string& name) {
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= num_classes)
      throw DataError(name + ": label of sample " + std::to_string(i) + " is " +
                      std::to_string(labels[i]) + ", expected 0.." + std::to_string(num_classes - 1));
}

/// An owning dataset has d >= 1 features for every label.
void check_value_count(std::size_t values, std::size_t labels, Index d, const std::string& name) {
  if (d < 1 || values != labels * static_cast<std::size_t>(d))
    throw DataError(name + ": " + std::to_string(values) + " feature values for " + std::to_string(labels) +
                    " labels of " + std::to_string(d) + " features each");
}

/// A view needs memory to read and d >= 1.
void check_view(const void* data, Index d, const std::string& name) {
  if (d < 1 || !data)
    throw std::invalid_argument(name + ": a view needs data and d >= 1, got d = " + std::to_string(d));
}
}  // namespace

Dataset Dataset::labelled(std::vector<std::uint8_t> labels, Index d, int num_classes, std::string name) {
  check_labels(labels, num_classes, name);
  Dataset ds;
  ds.labels_ = std::move(labels);
  ds.d_ = d;
  ds.shape_ = {d, 1, 1};
  ds.num_classes_ = num_classes;
  ds.name_ = std::move(name);
  return ds;
}

Dataset Dataset::from_bytes(std::vector<std::uint8_t> pixels, std::vector<std::uint8_t> labels,
                            Index d, int num_classes, std::string name) {
  check_value_count(pixels.size(), labels.size(), d, name);
  Dataset ds = labelled(std::move(labels), d, num_classes, std::move(name));
  ds.bytes_ = std::move(pixels);
  return ds;
}

Dataset Dataset::from_floats(std::vector<float> values, std::vector<std::uint8_t> labels, Index d,
                             int num_classes, std::string name) {
  check_value_count(values.size(), labels.size(), d, name);
  Dataset ds = labelled(std::move(labels), d, num_classes, std::move(name));
  ds.values_ = std::move(values);
  return ds;
}

Dataset Dataset::view_bytes(const std::uint8_t* pixels, std::vector<std::uint8_t> labels, Index d,
                            int num_classes, std::string name) {
  check_view(pixels, d, name);
  Dataset ds = labelled(std::move(labels), d, num_classes, std::move(name));
  ds.view_ = true;
  ds.view_bytes_ = pixels;
  return ds;
}

Dataset Dataset::view_floats(const float* values, std::vector<std::uint8_t> labels, Index d, int num_classes,
                             std::string name) {
  check_view(values, d, name);
  Dataset ds = labelled(std::move(labels), d, num_classes, std::move(name));
  ds.view_ = true;
  ds.view_floats_ = values;
  return ds;
}

double Dataset::feature(Index i, Index k) const {
  const std::size_t at = static_cast<std::size_t>(i * d_ + k);
  return is_bytes() ? byte_data()[at] / 255.0 : static_cast<double>(float_data()[at]);
}

void Dataset::set_sample_shape(const Shape& shape) {
  if (shape.size() != d_)
    throw std::invalid_argument(name_ + ": sample shape " + shape.to_string() + " has " +
                                std::to_string(shape.size()) + " values, but samples have " + std::to_string(d_));
  shape_ = shape;
}

void Dataset::set_num_classes(int num_classes) {
  check_labels(labels_, num_classes, name_);
  num_classes_ = num_classes;
}

Dataset Dataset::slice(Index begin, Index end, std::string name) const {
  if (begin < 0 || end > size() || begin > end)
    throw std::invalid_argument("Dataset::slice: range out of bounds");
  Dataset out;
  out.d_ = d_;
  out.shape_ = shape_;
  out.num_classes_ = num_classes_;
  out.name_ = std::move(name);
  out.labels_.assign(labels_.begin() + begin, labels_.begin() + end);
  if (view_) {
    out.view_ = true;
    if (view_bytes_) out.view_bytes_ = view_bytes_ + begin * d_;
    if (view_floats_) out.view_floats_ = view_floats_ + begin * d_;
  } else if (is_bytes())
    out.bytes_.assign(byte_data() + begin * d_, byte_data() + end * d_);
  else
    out.values_.assign(float_data() + begin * d_, float_data() + end * d_);
  return out;
}

Normalization Dataset::fit_standardization() const {
  Normalization norm;
  const Index n = size();
  norm.mean.assign(static_cast<std::size_t>(d_), 0.0);
  norm.inv_std.assign(static_cast<std::size_t>(d_), 0.0);
  std::vector<double> sq(static_cast<std::size_t>(d_), 0.0);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d_; ++k) {
      const double x = feature(i, k);
      norm.mean[k] += x;
      sq[k] += x * x;
    }
  for (Index k = 0; k < d_; ++k) {
    const double mu = n ? norm.mean[k] / n : 0.0;
    const double var = n ? std::max(sq[k] / n - mu * mu, 0.0) : 0.0;
    norm.mean[k] = mu;
    norm.inv_std[k] = 1.0 / std::max(std::sqrt(var), 1e-8);
  }
  return norm;
}

template <typename T>
void Dataset::make_batch(const Index* indices, Index m, const Normalization& norm, Batch<T>& batch) const {
  batch.X.resize(d_, m);
  batch.Y.setZero(num_classes_, m);
  const bool bytes = is_bytes();
  const std::uint8_t* byte_values = byte_data();
  const float* float_values = float_data();
  const T scale = T(1) / T(255);
  for (Index j = 0; j < m; ++j) {
    const Index i = indices[j];
    T* col = batch.X.col(j).data();
    if (bytes) {
      const std::uint8_t* src = byte_values + i * d_;
      for (Index k = 0; k < d_; ++k) col[k] = static_cast<T>(src[k]) * scale;
    } else {
      const float* src = float_values + i * d_;
      for (Index k = 0; k < d_; ++k) col[k] = static_cast<T>(src[k]);
    }
    if (norm.standardize())
      for (Index k = 0; k < d_; ++k)
        col[k] = static_cast<T>((static_cast<double>(col[k]) - norm.mean[k]) * norm.inv_std[k]);
    batch.Y(labels_[static_cast<std::size_t>(i)], j) = T(1);
  }
}

template <typename T>
void Dataset::make_range_batch(Index begin, Index end, const Normalization& norm, Batch<T>& batch) const {
  std::vector<Index> idx(static_cast<std::size_t>(end - begin));
  std::iota(idx.begin(), idx.end(), begin);
  make_batch<T>(idx.data(), end - begin, norm, batch);
}

template void Dataset::make_batch<float>(const Index*, Index, const Normalization&, Batch<float>&) const;
template void Dataset::make_batch<double>(const Index*, Index, const Normalization&, Batch<double>&) const;
template void Dataset::make_range_batch<float>(Index, Index, const Normalization&, Batch<float>&) const;
template void Dataset::make_range_batch<double>(Index, Index, const Normalization&, Batch<double>&) const;

}  // namespace sibp
