#pragma once
/// An in-memory labelled data set that keeps its raw values.
///
/// Images stay uint8 (60 000 MNIST images are 47 MB, not 188 MB as float);
/// they become float columns scaled to [0, 1] only when a batch is made.
/// CSV features are kept as float. Samples are stored contiguously
/// (sample-major), the layout of IDX and CIFAR files.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/shape.hpp"
#include "core/types.hpp"
#include "data/batch.hpp"

namespace sibp {

/// Which part of a data set with a fixed train/test division.
enum class Split { Train, Test };

/// "train" or "test", as written in a `--data` spec.
inline const char* split_name(Split split) { return split == Split::Train ? "train" : "test"; }

/// How raw features become network inputs.
struct Normalization {
  /// Per-feature (x - mean) / std after scaling; empty vectors mean "none".
  std::vector<double> mean;
  std::vector<double> inv_std;
  bool standardize() const { return !mean.empty(); }
};

class Dataset {
 public:
  Dataset() = default;
  /// uint8 features (images), scaled by 1/255 when batched.
  /// Requires: pixels.size() == n * d, labels.size() == n, every label < num_classes.
  static Dataset from_bytes(std::vector<std::uint8_t> pixels, std::vector<std::uint8_t> labels,
                            Index d, int num_classes, std::string name);
  /// float features used as they are.
  static Dataset from_floats(std::vector<float> values, std::vector<std::uint8_t> labels, Index d,
                             int num_classes, std::string name);
  /// The same over n·d values in memory the caller owns (e.g. a NumPy array),
  /// read in place, never copied; n = labels.size().
  /// Requires: `pixels` / `values` is not null (std::invalid_argument otherwise),
  /// outlives the data set and every copy of it, and is not resized meanwhile;
  /// every label < num_classes (DataError otherwise).
  static Dataset view_bytes(const std::uint8_t* pixels, std::vector<std::uint8_t> labels, Index d,
                            int num_classes, std::string name);
  static Dataset view_floats(const float* values, std::vector<std::uint8_t> labels, Index d, int num_classes,
                             std::string name);

  Index size() const { return static_cast<Index>(labels_.size()); }
  Index num_features() const { return d_; }
  /// The shape of one sample: (C, H, W) for images, (d, 1, 1) for feature vectors.
  /// A sample's d = C·H·W values are stored in (C, H, W) order.
  const Shape& sample_shape() const { return shape_; }
  /// Requires: shape.size() == num_features() (std::invalid_argument otherwise).
  void set_sample_shape(const Shape& shape);
  int num_classes() const { return num_classes_; }
  const std::string& name() const { return name_; }
  const std::vector<std::uint8_t>& labels() const { return labels_; }
  bool is_bytes() const { return view_ ? view_bytes_ != nullptr : !bytes_.empty() || values_.empty(); }
  /// The size()·num_features() raw values, sample after sample: uint8 when
  /// is_bytes(), else float (the other pointer is null).
  const std::uint8_t* byte_data() const { return view_ ? view_bytes_ : is_bytes() ? bytes_.data() : nullptr; }
  const float* float_data() const { return view_ ? view_floats_ : is_bytes() ? nullptr : values_.data(); }
  /// Raw feature k of sample i, after the 1/255 scaling of byte data.
  double feature(Index i, Index k) const;

  /// Widens the class count, e.g. so a train and a test set read from
  /// separate files agree on C = max label + 1 over both.
  /// Requires: every label < num_classes; throws DataError naming the set otherwise.
  void set_num_classes(int num_classes);

  /// Samples [begin, end) as a new data set (copies the raw values; the slice
  /// of a view is a view of the same memory).
  Dataset slice(Index begin, Index end, std::string name) const;

  /// Per-feature mean and 1/std of the scaled features (std floored at 1e-8
  /// so constant pixels do not divide by zero).
  Normalization fit_standardization() const;

  /// Fills batch with the samples `indices` (X: (d, m), Y: one-hot (C, m)),
  /// reusing the batch's storage when the size is unchanged.
  template <typename T>
  void make_batch(const Index* indices, Index m, const Normalization& norm, Batch<T>& batch) const;
  /// Samples [begin, end) in order.
  template <typename T>
  void make_range_batch(Index begin, Index end, const Normalization& norm, Batch<T>& batch) const;

 private:
  /// A dataset of `labels` (checked against `num_classes`) with `d` features per
  /// sample and no feature values yet: what every constructor starts from.
  static Dataset labelled(std::vector<std::uint8_t> labels, Index d, int num_classes, std::string name);

  std::vector<std::uint8_t> bytes_;
  std::vector<float> values_;
  // A view (view_bytes/view_floats) reads one of these instead of the vectors.
  bool view_ = false;
  const std::uint8_t* view_bytes_ = nullptr;
  const float* view_floats_ = nullptr;
  std::vector<std::uint8_t> labels_;
  Index d_ = 0;
  Shape shape_;
  int num_classes_ = 0;
  std::string name_;
};

}  // namespace sibp
