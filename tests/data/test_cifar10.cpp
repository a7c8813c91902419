#include "data/cifar10.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "data_test_util.hpp"

namespace sibp {
namespace {

using testing::TempDir;
using testing::error_message;
using testing::expect_mentions;

/// n records; record r has label labels[r] and pixel k = (r + k) % 256.
std::string cifar_records(const std::vector<std::uint8_t>& labels, int first = 0) {
  std::string s;
  for (std::size_t r = 0; r < labels.size(); ++r) {
    s.push_back(static_cast<char>(labels[r]));
    for (int k = 0; k < 3072; ++k) s.push_back(static_cast<char>((first + static_cast<int>(r) + k) % 256));
  }
  return s;
}

void write_all_batches(const TempDir& dir) {
  for (int b = 1; b <= 5; ++b)
    testing::write_bytes(dir / ("data_batch_" + std::to_string(b) + ".bin"),
                         cifar_records({static_cast<std::uint8_t>(b), static_cast<std::uint8_t>(b + 4)}, 2 * (b - 1)));
  testing::write_bytes(dir / "test_batch.bin", cifar_records({3, 1, 4}, 100));
}

TEST(Cifar10, LoadsTrainBatchesInOrderAndTest) {
  TempDir dir;
  write_all_batches(dir);
  const Dataset train = load_cifar10(dir.path(), Split::Train);
  EXPECT_EQ(train.size(), 10);
  EXPECT_EQ(train.num_features(), 3072);
  // Each record holds its red, green and blue planes in turn: (C, H, W) order.
  EXPECT_EQ(train.sample_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(train.num_classes(), 10);
  EXPECT_EQ(train.name(), "cifar10-train");
  EXPECT_EQ(train.labels(), (std::vector<std::uint8_t>{1, 5, 2, 6, 3, 7, 4, 8, 5, 9}));
  // Sample i came from global record i, so its pixel k is (i + k) % 256.
  for (Index i : {0, 3, 9})
    for (Index k : {0, 1, 1023, 1024, 3071}) EXPECT_EQ(train.feature(i, k), ((i + k) % 256) / 255.0);
  const Dataset test = load_cifar10(dir.path(), Split::Test);
  EXPECT_EQ(test.size(), 3);
  EXPECT_EQ(test.sample_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(test.labels(), (std::vector<std::uint8_t>{3, 1, 4}));
  EXPECT_EQ(test.feature(2, 5), ((100 + 2 + 5) % 256) / 255.0);
}

TEST(Cifar10, SizeNotMultipleOfRecordSaysSizeAndRecordSize) {
  TempDir dir;
  std::string bytes = cifar_records({1, 2});
  bytes.resize(bytes.size() - 100);  // 6046 bytes
  testing::write_bytes(dir / "test_batch.bin", bytes);
  expect_mentions(error_message<DataError>([&] { load_cifar10(dir.path(), Split::Test); }),
                  {(dir / "test_batch.bin").string(), "size 6046 bytes", "record size 3073"});
}

TEST(Cifar10, LabelAboveNine) {
  TempDir dir;
  testing::write_bytes(dir / "test_batch.bin", cifar_records({9, 0, 10}));
  expect_mentions(error_message<DataError>([&] { load_cifar10(dir.path(), Split::Test); }),
                  {(dir / "test_batch.bin").string(), "record 2", "label 10", "expected 0..9"});
}

TEST(Cifar10, MissingFilesAreListedWithWhereToGetThem) {
  TempDir dir;
  testing::write_bytes(dir / "data_batch_1.bin", cifar_records({1}));
  testing::write_bytes(dir / "data_batch_4.bin", cifar_records({1}));
  const auto msg = error_message<DataError>([&] { load_cifar10(dir.path(), Split::Train); });
  expect_mentions(msg, {dir.path().string(), "data_batch_2.bin, data_batch_3.bin, data_batch_5.bin",
                        "CIFAR-10 binary version", "cifar-10-binary.tar.gz",
                        "https://www.cs.toronto.edu/~kriz/cifar.html", "cifar-10-batches-bin/", "cifar10:DIR"});
  EXPECT_EQ(msg.find("data_batch_1.bin"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("data_batch_4.bin"), std::string::npos) << msg;
  expect_mentions(error_message<DataError>([&] { load_cifar10(dir.path(), Split::Test); }),
                  {"test_batch.bin", "CIFAR-10 binary version"});
}

TEST(Cifar10, AnEmptyBatchIsAnErrorNamingTheFileAndSize) {
  TempDir dir;
  testing::write_bytes(dir / "test_batch.bin", "");
  expect_mentions(error_message<DataError>([&] { load_cifar10(dir.path(), Split::Test); }),
                  {(dir / "test_batch.bin").string(), "size 0 bytes", "positive multiple", "3073", "empty"});
}

TEST(Cifar10, AFolderOrDeviceInPlaceOfABatchIsNotReportedMissing) {
  TempDir dir;
  write_all_batches(dir);
  std::filesystem::remove(dir / "test_batch.bin");
  std::filesystem::create_directory(dir / "test_batch.bin");
  std::string msg = error_message<DataError>([&] { load_cifar10(dir.path(), Split::Test); });
  expect_mentions(msg, {(dir / "test_batch.bin").string(), "is a directory"});
  EXPECT_EQ(msg.find("missing"), std::string::npos) << msg;

  std::filesystem::remove(dir / "data_batch_3.bin");
  std::filesystem::create_symlink("/dev/zero", dir / "data_batch_3.bin");
  msg = error_message<DataError>([&] { load_cifar10(dir.path(), Split::Train); });
  expect_mentions(msg, {(dir / "data_batch_3.bin").string(), "is not a regular file (character device)"});
  EXPECT_EQ(msg.find("missing"), std::string::npos) << msg;
}

}  // namespace
}  // namespace sibp
