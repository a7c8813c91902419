#include "data/dataset.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "data/data_source.hpp"
#include "data_test_util.hpp"
#include "typed_scalars.hpp"

namespace sibp {
namespace {

using testing::error_message;
using testing::expect_mentions;

// 4 samples of 3 byte features; sample i has features (0, 255, 51*i) and label i % 3.
Dataset byte_set() {
  std::vector<std::uint8_t> px;
  for (int i = 0; i < 4; ++i) px.insert(px.end(), {0, 255, static_cast<std::uint8_t>(51 * i)});
  return Dataset::from_bytes(px, {0, 1, 2, 0}, 3, 3, "bytes-train");
}

SIBP_SCALAR_TYPED_SUITE(DatasetBatch);

TYPED_TEST(DatasetBatch, BytesScaleToUnitIntervalWithOneHotTargets) {
  using T = TypeParam;
  const Dataset ds = byte_set();
  Batch<T> batch;
  const Index idx[] = {3, 1};
  ds.make_batch<T>(idx, 2, Normalization{}, batch);
  ASSERT_EQ(batch.X.rows(), 3);
  ASSERT_EQ(batch.X.cols(), 2);
  ASSERT_EQ(batch.Y.rows(), 3);
  // byte * (1/255) in T: exact for 0 and 255; 153/255 and 51/255 are within
  // one rounding of T of the true quotients 0.6 and 0.2.
  const T eps = 2 * std::numeric_limits<T>::epsilon();
  EXPECT_EQ(batch.X(0, 0), T(0));
  EXPECT_EQ(batch.X(1, 0), T(1));
  EXPECT_NEAR(batch.X(2, 0), T(0.6), eps);
  EXPECT_NEAR(batch.X(2, 1), T(0.2), eps);
  EXPECT_GE(batch.X.minCoeff(), T(0));
  EXPECT_LE(batch.X.maxCoeff(), T(1));
  // Column j is one-hot at label(idx[j]): sample 3 has label 0, sample 1 label 1.
  Mat<T> Y_expected = Mat<T>::Zero(3, 2);
  Y_expected(0, 0) = 1;
  Y_expected(1, 1) = 1;
  EXPECT_EQ(batch.Y, Y_expected);
}

TYPED_TEST(DatasetBatch, StandardizationGivesZeroMeanUnitVariance) {
  using T = TypeParam;
  // Feature 0 varies, feature 1 is constant (std floored, so it maps to 0).
  const Dataset ds = Dataset::from_floats({1, 5, 3, 5, 5, 5, 7, 5}, {0, 1, 0, 1}, 2, 2, "f");
  const Normalization norm = ds.fit_standardization();
  ASSERT_TRUE(norm.standardize());
  EXPECT_DOUBLE_EQ(norm.mean[0], 4.0);            // (1+3+5+7)/4
  EXPECT_DOUBLE_EQ(norm.inv_std[0], 1 / std::sqrt(5.0));  // population variance 5
  EXPECT_DOUBLE_EQ(norm.mean[1], 5.0);
  Batch<T> batch;
  ds.make_range_batch<T>(0, 4, norm, batch);
  // Tolerance: a few roundings of T on values of magnitude ~1.5.
  const T eps = 8 * std::numeric_limits<T>::epsilon();
  EXPECT_NEAR(batch.X.row(0).mean(), T(0), eps);
  EXPECT_NEAR((batch.X.row(0).array().square()).mean(), T(1), eps);
  EXPECT_NEAR(batch.X(0, 0), T(-3 / std::sqrt(5.0)), eps);
  EXPECT_EQ(batch.X.row(1).cwiseAbs().maxCoeff(), T(0));
}

TEST(Dataset, RejectsInconsistentInputsNamingTheSet) {
  expect_mentions(error_message<DataError>([] { Dataset::from_bytes({1, 2, 3}, {0, 1}, 2, 2, "odd"); }),
                  {"odd", "3 feature values for 2 labels of 2 features"});
  expect_mentions(error_message<DataError>([] { Dataset::from_floats({1, 2}, {0, 5}, 1, 3, "lab"); }),
                  {"lab", "label of sample 1 is 5", "expected 0..2"});
}

TEST(Dataset, SetNumClassesWidensAndChecks) {
  Dataset ds = byte_set();
  ds.set_num_classes(7);
  EXPECT_EQ(ds.num_classes(), 7);
  Batch<float> batch;
  ds.make_range_batch<float>(0, 1, Normalization{}, batch);
  EXPECT_EQ(batch.Y.rows(), 7);
  expect_mentions(error_message<DataError>([&] { ds.set_num_classes(2); }),
                  {"bytes-train", "label of sample 2 is 2", "expected 0..1"});
}

TEST(SplitValidation, HoldsOutTheLastSamples) {
  Dataset train = byte_set();
  const Dataset val = split_validation(train, 1);
  EXPECT_EQ(train.size(), 3);
  EXPECT_EQ(val.size(), 1);
  EXPECT_EQ(val.name(), "bytes-val");
  EXPECT_EQ(train.name(), "bytes-train");
  EXPECT_EQ(train.labels(), (std::vector<std::uint8_t>{0, 1, 2}));
  EXPECT_EQ(val.labels(), std::vector<std::uint8_t>{0});
  EXPECT_EQ(val.feature(0, 2), 153 / 255.0);  // was sample 3
  EXPECT_EQ(val.num_classes(), 3);
  EXPECT_EQ(val.num_features(), 3);
  Dataset floats = Dataset::from_floats({1, 2, 3}, {0, 1, 0}, 1, 2, "f");
  const Dataset fval = split_validation(floats, 2);
  EXPECT_EQ(fval.name(), "f-val");
  EXPECT_EQ(fval.feature(1, 0), 3.0);
  EXPECT_EQ(floats.size(), 1);
  EXPECT_EQ(split_validation(floats, 0).size(), 0);
  EXPECT_EQ(floats.size(), 1);
}

TEST(Dataset, SampleShapeIsAVectorUnlessSetAndSurvivesSplits) {
  Dataset ds = Dataset::from_bytes(std::vector<std::uint8_t>(24, 7), {0, 1, 0, 1}, 6, 2, "img-train");
  EXPECT_EQ(ds.sample_shape(), (Shape{6, 1, 1}));
  ds.set_sample_shape({2, 1, 3});
  EXPECT_EQ(ds.sample_shape(), (Shape{2, 1, 3}));
  // A shape of another size is refused naming the set and both sizes, and changes nothing.
  try {
    ds.set_sample_shape({1, 2, 2});
    ADD_FAILURE() << "a 4-value shape accepted for 6-value samples";
  } catch (const std::invalid_argument& e) {
    expect_mentions(e.what(), {"img-train", "1x2x2", "6"});
  }
  EXPECT_EQ(ds.sample_shape(), (Shape{2, 1, 3}));
  const Dataset val = split_validation(ds, 1);
  EXPECT_EQ(val.sample_shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(ds.sample_shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(ds.slice(0, 2, "s").sample_shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(Dataset::from_floats({1, 2, 3, 4}, {0, 1}, 2, 2, "f").sample_shape(), (Shape{2, 1, 1}));
}

TEST(SplitValidation, RejectsSizesOutsideTheTrainingSet) {
  Dataset train = byte_set();
  for (Index n : {Index(-1), Index(4), Index(10)})
    expect_mentions(error_message<UsageError>([&] { split_validation(train, n); }),
                    {"--val-split", "found " + std::to_string(n), "4 training samples"});
  EXPECT_EQ(train.size(), 4);  // unchanged after the errors
}

}  // namespace
}  // namespace sibp
