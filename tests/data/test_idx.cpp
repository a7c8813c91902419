#include "data/idx.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "data_test_util.hpp"

namespace sibp {
namespace {

using testing::TempDir;
using testing::error_message;
using testing::expect_mentions;

// Three 2x3 images whose pixel k of image i is 10*i + k.
std::vector<std::uint8_t> small_pixels() {
  std::vector<std::uint8_t> p;
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 6; ++k) p.push_back(static_cast<std::uint8_t>(10 * i + k));
  return p;
}

TEST(Idx, ReadsPlainImages) {
  TempDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(3, 2, 3, small_pixels()));
  const IdxImages img = read_idx_images(dir / "img");
  EXPECT_EQ(img.count, 3);
  EXPECT_EQ(img.rows, 2);
  EXPECT_EQ(img.cols, 3);
  EXPECT_EQ(img.pixels, small_pixels());
}

TEST(Idx, ReadsGzipImagesAndLabels) {
  TempDir dir;
  testing::write_gz(dir / "img.gz", testing::idx_images(3, 2, 3, small_pixels()));
  testing::write_gz(dir / "lab.gz", testing::idx_labels({7, 0, 255}));
  // The .gz really is compressed: its first bytes are the gzip magic.
  EXPECT_EQ(testing::slurp(dir / "img.gz").substr(0, 2), std::string("\x1f\x8b"));
  const IdxImages img = read_idx_images(dir / "img.gz");
  EXPECT_EQ(img.count, 3);
  EXPECT_EQ(img.pixels, small_pixels());
  EXPECT_EQ(read_idx_labels(dir / "lab.gz"), (std::vector<std::uint8_t>{7, 0, 255}));
}

TEST(Idx, LoadsPairInIdxByteOrder) {
  TempDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(3, 2, 3, small_pixels()));
  testing::write_gz(dir / "lab.gz", testing::idx_labels({2, 0, 1}));
  const Dataset ds = load_idx_dataset(dir / "img", dir / "lab.gz", 10, "tiny");
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.num_features(), 6);
  // One channel of rows × cols pixels, stored row by row: PyTorch's (C, H, W) order.
  EXPECT_EQ(ds.sample_shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(ds.num_classes(), 10);
  EXPECT_EQ(ds.name(), "tiny");
  EXPECT_TRUE(ds.is_bytes());
  EXPECT_EQ(ds.labels(), (std::vector<std::uint8_t>{2, 0, 1}));
  // feature(i, k) is byte/255 exactly as computed in double.
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 6; ++k) EXPECT_EQ(ds.feature(i, k), (10 * i + k) / 255.0);
  // Without a class count, C = max label + 1.
  EXPECT_EQ(load_idx_dataset(dir / "img", dir / "lab.gz", std::nullopt, "t").num_classes(), 3);
}

TEST(Idx, WrongMagicNamesFileAndBothMagics) {
  TempDir dir;
  testing::write_bytes(dir / "labels-as-images", testing::idx_labels({1, 2}));
  const auto msg = error_message<DataError>([&] { read_idx_images(dir / "labels-as-images"); });
  expect_mentions(msg, {(dir / "labels-as-images").string(), "expected IDX image magic 0x00000803",
                        "found 0x00000801", "label file"});
  testing::write_bytes(dir / "images-as-labels", testing::idx_images(1, 1, 1, {5}));
  const auto msg2 = error_message<DataError>([&] { read_idx_labels(dir / "images-as-labels"); });
  expect_mentions(msg2, {(dir / "images-as-labels").string(), "expected IDX label magic 0x00000801",
                         "found 0x00000803"});
  testing::write_bytes(dir / "junk", "GARBAGE-GARBAGE-GARBAGE");
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "junk"); }),
                  {(dir / "junk").string(), "0x00000803", "found 0x47415242"});
}

TEST(Idx, TruncatedPlainHeader) {
  TempDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(3, 2, 3, {}).substr(0, 10));
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "img"); }),
                  {(dir / "img").string(), "truncated", "expected a 16-byte IDX image header", "found 10 bytes"});
  testing::write_bytes(dir / "empty", "");
  expect_mentions(error_message<DataError>([&] { read_idx_labels(dir / "empty"); }),
                  {(dir / "empty").string(), "truncated", "8-byte IDX label header", "found 0 bytes"});
}

TEST(Idx, TruncatedPlainPayload) {
  TempDir dir;
  auto pixels = small_pixels();
  pixels.resize(17);  // one byte short of 3 * 2 * 3
  testing::write_bytes(dir / "img", testing::idx_images(3, 2, 3, pixels));
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "img"); }),
                  {(dir / "img").string(), "truncated", "3 images of 2x3", "18 payload bytes", "found only 17"});
  std::string labels = testing::idx_labels({1, 2, 3});
  labels.pop_back();
  testing::write_bytes(dir / "lab", labels);
  expect_mentions(error_message<DataError>([&] { read_idx_labels(dir / "lab"); }),
                  {(dir / "lab").string(), "truncated", "3 labels", "found only 2"});
}

TEST(Idx, TruncatedGzip) {
  TempDir dir;
  // 64 KiB of noise: the .gz is about as large, so cutting it loses payload.
  const auto pixels = testing::noise_bytes(64 * 1024, 7);
  testing::write_gz(dir / "full.gz", testing::idx_images(64, 32, 32, pixels));
  const std::string gz = testing::slurp(dir / "full.gz");
  ASSERT_GT(gz.size(), 60000u);
  EXPECT_EQ(read_idx_images(dir / "full.gz").pixels, pixels);  // the uncut file is valid

  testing::write_bytes(dir / "half.gz", gz.substr(0, gz.size() / 2));
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "half.gz"); }),
                  {(dir / "half.gz").string(), "truncated"});
  // Cut inside the 8-byte trailer (CRC and length): every payload byte
  // decodes, only the end of the stream is missing.
  testing::write_bytes(dir / "trailer.gz", gz.substr(0, gz.size() - 3));
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "trailer.gz"); }),
                  {(dir / "trailer.gz").string(), "truncated gzip"});
}

TEST(Idx, CorruptGzipData) {
  TempDir dir;
  testing::write_gz(dir / "lab.gz", testing::idx_labels(testing::noise_bytes(4096, 3)));
  std::string gz = testing::slurp(dir / "lab.gz");
  // Flip bits in the CRC32 of the trailer: the payload inflates, the check fails.
  gz[gz.size() - 6] ^= 0x5a;
  testing::write_bytes(dir / "bad.gz", gz);
  expect_mentions(error_message<DataError>([&] { read_idx_labels(dir / "bad.gz"); }),
                  {(dir / "bad.gz").string(), "corrupt gzip data"});
}

TEST(Idx, TrailingBytesAreRejected) {
  TempDir dir;
  testing::write_bytes(dir / "lab", testing::idx_labels({1, 2}) + "x");
  expect_mentions(error_message<DataError>([&] { read_idx_labels(dir / "lab"); }),
                  {(dir / "lab").string(), "expected the file to end after the 2 payload bytes", "found more"});
}

TEST(Idx, ZeroSizedImagesAreRejected) {
  TempDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(2, 0, 5, {}));
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "img"); }),
                  {(dir / "img").string(), "at least 1x1", "found 0x5"});
}

TEST(Idx, MissingFileIsNamed) {
  TempDir dir;
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "nope"); }),
                  {(dir / "nope").string(), "no such file"});
}

TEST(Idx, CountMismatchNamesBothFiles) {
  TempDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(3, 2, 3, small_pixels()));
  testing::write_bytes(dir / "lab", testing::idx_labels({1, 2}));
  expect_mentions(error_message<DataError>([&] { load_idx_dataset(dir / "img", dir / "lab", 10, "x"); }),
                  {(dir / "img").string(), (dir / "lab").string(), "expected one label per image",
                   "3 images and 2 labels"});
}

TEST(Idx, LabelOutOfRangeNamesFileSampleAndRange) {
  TempDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(3, 2, 3, small_pixels()));
  testing::write_bytes(dir / "lab", testing::idx_labels({1, 9, 10}));
  expect_mentions(error_message<DataError>([&] { load_idx_dataset(dir / "img", dir / "lab", 10, "x"); }),
                  {(dir / "lab").string(), "label of sample 2 is 10", "expected 0..9"});
}

TEST(Idx, BytesAfterTheGzipStreamAreRejectedNamingTheFile) {
  // zlib's gzread ignores them; a plain file with the same tail was already
  // rejected, so a .gz must be too.
  TempDir dir;
  testing::write_gz(dir / "lab.gz", testing::idx_labels({1, 2, 3}));
  const std::string gz = testing::slurp(dir / "lab.gz");
  testing::write_bytes(dir / "garbage.gz", gz + "garbage");
  expect_mentions(error_message<DataError>([&] { read_idx_labels(dir / "garbage.gz"); }),
                  {(dir / "garbage.gz").string(), "expected the file to end after its gzip stream",
                   "at byte " + std::to_string(gz.size()), "found more bytes starting with 0x67"});
  testing::write_bytes(dir / "zeros.gz", gz + std::string(4, '\0'));
  expect_mentions(error_message<DataError>([&] { read_idx_labels(dir / "zeros.gz"); }),
                  {(dir / "zeros.gz").string(), "expected the file to end after its gzip stream"});
  testing::write_bytes(dir / "one.gz", gz + "x");
  expect_mentions(error_message<DataError>([&] { read_idx_labels(dir / "one.gz"); }), {(dir / "one.gz").string()});
}

TEST(Idx, ConcatenatedGzipMembersAreOneStream) {
  // `cat a.gz b.gz` is a valid gzip file, which gzip -d reads as a + b.
  TempDir dir;
  const std::string file = testing::idx_images(3, 2, 3, small_pixels());
  testing::write_gz(dir / "a.gz", file.substr(0, 7));
  testing::write_gz(dir / "b.gz", file.substr(7));
  testing::write_bytes(dir / "both.gz", testing::slurp(dir / "a.gz") + testing::slurp(dir / "b.gz"));
  EXPECT_EQ(read_idx_images(dir / "both.gz").pixels, small_pixels());
}

TEST(Idx, DimensionsWhoseProductOverflowsAreRejected) {
  // 2^20 images of 2^22 x 2^22: 2^64 bytes, which wraps to 0 in 64 bits, so
  // a file with no payload at all matched the declared size.
  TempDir dir;
  testing::write_bytes(dir / "img", testing::idx_images(1u << 20, 1u << 22, 1u << 22, {}));
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "img"); }),
                  {(dir / "img").string(), "1048576 x 4194304 x 4194304", "overflows 64 bits"});
  testing::write_bytes(dir / "max", testing::idx_images(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, {}));
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "max"); }),
                  {(dir / "max").string(), "4294967295 x 4294967295 x 4294967295", "overflows"});
  // Within 64 bits but beyond the file: refused before anything is allocated.
  testing::write_bytes(dir / "big", testing::idx_images(1u << 20, 1u << 10, 1u << 10, {1, 2, 3}));
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir / "big"); }),
                  {(dir / "big").string(), "1048576 images of 1024x1024", "more than the"});
}

TEST(Idx, AFolderAFifoOrADeviceIsNamedAsSuch) {
  TempDir dir;
  expect_mentions(error_message<DataError>([&] { read_idx_images(dir.path()); }),
                  {dir.path().string(), "is a directory"});
  expect_mentions(error_message<DataError>([&] { read_idx_labels("/dev/zero"); }),
                  {"/dev/zero", "is not a regular file (character device)"});
  testing::expect_fifo_refused(dir / "fifo", [&] { read_idx_labels(dir / "fifo"); });
}

}  // namespace
}  // namespace sibp
