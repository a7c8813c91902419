#include "data/csv.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "data_test_util.hpp"

namespace sibp {
namespace {

using testing::TempDir;
using testing::error_message;
using testing::expect_mentions;

/// Writes text to dir/name and returns the path.
std::filesystem::path csv(const TempDir& dir, const std::string& text, const std::string& name = "d.csv") {
  testing::write_bytes(dir / name, text);
  return dir / name;
}

TEST(Csv, ReadsWithoutHeader) {
  TempDir dir;
  const auto p = csv(dir, "1,0.5,-2\n0,3,4e-1\n2, 1.25 ,+7\n");
  const Dataset ds = read_csv(p, "csv");
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.num_features(), 2);
  EXPECT_EQ(ds.sample_shape(), (Shape{2, 1, 1}));  // features: a vector
  EXPECT_EQ(ds.num_classes(), 3);  // max label 2 + 1
  EXPECT_FALSE(ds.is_bytes());
  EXPECT_EQ(ds.labels(), (std::vector<std::uint8_t>{1, 0, 2}));
  // Stored as float: compare with the float rounding of each literal.
  EXPECT_EQ(ds.feature(0, 0), 0.5f);
  EXPECT_EQ(ds.feature(0, 1), -2.0f);
  EXPECT_EQ(ds.feature(1, 1), static_cast<double>(0.4f));
  EXPECT_EQ(ds.feature(2, 0), 1.25f);
  EXPECT_EQ(ds.feature(2, 1), 7.0f);
}

TEST(Csv, DetectsHeaderAndAcceptsCrlfAndBlankLines) {
  TempDir dir;
  const auto p = csv(dir, "label,x,y\r\n3,1,2\r\n\r\n0,5,6\r\n\n");
  const Dataset ds = read_csv(p, "csv");
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.num_classes(), 4);
  EXPECT_EQ(ds.feature(1, 1), 6.0f);
  // An integral-valued label written as 2.0 is an integer label.
  EXPECT_EQ(read_csv(csv(dir, "2.0,1\n", "f.csv"), "f").labels(), std::vector<std::uint8_t>{2});
}

TEST(Csv, RaggedRowNamesFileLineAndCounts) {
  TempDir dir;
  const auto p = csv(dir, "1,2,3\n0,1\n");
  expect_mentions(error_message<DataError>([&] { read_csv(p, "c"); }),
                  {p.string() + ":2:", "expected 3 fields (as on line 1)", "found 2"});
  const auto h = csv(dir, "label,a,b\n1,2,3\n1,2,3,4\n", "h.csv");
  expect_mentions(error_message<DataError>([&] { read_csv(h, "c"); }),
                  {h.string() + ":3:", "expected 3 fields", "found 4"});
}

TEST(Csv, NonNumericFieldNamesLineAndColumn) {
  TempDir dir;
  const auto p = csv(dir, "1,2,3\n0,1,abc\n");
  expect_mentions(error_message<DataError>([&] { read_csv(p, "c"); }),
                  {p.string() + ":2:3:", "expected a number", "found 'abc'"});
  const auto e = csv(dir, "1,,3\n", "e.csv");
  expect_mentions(error_message<DataError>([&] { read_csv(e, "c"); }),
                  {e.string() + ":1:2:", "expected a number", "found ''"});
}

TEST(Csv, NanAndInfAreRejected) {
  TempDir dir;
  for (const std::string bad : {"nan", "inf", "-inf", "NaN", "1e39", "1e400"}) {
    const auto p = csv(dir, "1,2\n0," + bad + "\n");
    expect_mentions(error_message<DataError>([&] { read_csv(p, "c"); }),
                    {p.string() + ":2:2:", "expected a finite number", "found '" + bad + "'"});
  }
}

TEST(Csv, BadLabels) {
  TempDir dir;
  const auto neg = csv(dir, "1,2\n-1,3\n");
  expect_mentions(error_message<DataError>([&] { read_csv(neg, "c"); }),
                  {neg.string() + ":2:1:", "expected a class label >= 0", "found '-1'"});
  const auto frac = csv(dir, "1.5,2\n", "f.csv");
  expect_mentions(error_message<DataError>([&] { read_csv(frac, "c"); }),
                  {frac.string() + ":1:1:", "expected an integer class label", "found '1.5'"});
  const auto word = csv(dir, "label,x\n1,2\ncat,3\n", "w.csv");
  expect_mentions(error_message<DataError>([&] { read_csv(word, "c"); }),
                  {word.string() + ":3:1:", "expected an integer class label", "found 'cat'"});
  const auto big = csv(dir, "256,1\n", "b.csv");
  expect_mentions(error_message<DataError>([&] { read_csv(big, "c"); }),
                  {big.string() + ":1:1:", "0..255", "found '256'"});
  const auto nan = csv(dir, "nan,1\n", "n.csv");
  expect_mentions(error_message<DataError>([&] { read_csv(nan, "c"); }),
                  {nan.string() + ":1:1:", "expected an integer class label", "found 'nan'"});
}

TEST(Csv, EmptyFileAndHeaderOnly) {
  TempDir dir;
  const auto empty = csv(dir, "");
  expect_mentions(error_message<DataError>([&] { read_csv(empty, "c"); }),
                  {empty.string(), "expected at least one data row", "found an empty file"});
  const auto blank = csv(dir, "\n\n", "b.csv");
  expect_mentions(error_message<DataError>([&] { read_csv(blank, "c"); }), {blank.string(), "empty file"});
  const auto header = csv(dir, "label,x\n", "h.csv");
  expect_mentions(error_message<DataError>([&] { read_csv(header, "c"); }),
                  {header.string(), "found only a header line"});
}

TEST(Csv, LabelOnlyRowAndMissingFile) {
  TempDir dir;
  const auto p = csv(dir, "1\n2\n");
  expect_mentions(error_message<DataError>([&] { read_csv(p, "c"); }),
                  {p.string() + ":1:", "at least one feature"});
  expect_mentions(error_message<DataError>([&] { read_csv(dir / "none.csv", "c"); }),
                  {(dir / "none.csv").string(), "no such file"});
}

TEST(Csv, AByteOrderMarkDoesNotHideTheFirstRow) {
  // "UTF-8 CSV" from a spreadsheet starts with EF BB BF; left in, the first
  // label read as text and the first data row was taken for a header.
  TempDir dir;
  const auto p = csv(dir, "\xEF\xBB\xBF" "1,0.5\n0,2\n");
  const Dataset ds = read_csv(p, "csv");
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.labels(), (std::vector<std::uint8_t>{1, 0}));
  const auto h = csv(dir, "\xEF\xBB\xBF" "label,x\r\n1,0.5\r\n", "h.csv");
  const Dataset with_header = read_csv(h, "csv");
  EXPECT_EQ(with_header.size(), 1);
  EXPECT_EQ(with_header.feature(0, 0), 0.5f);
}

TEST(Csv, BinaryBytesInAFieldAreQuotedAsEscapes) {
  TempDir dir;
  const auto p = csv(dir, "0,1\n1,\x01\xff" + std::string(100, 'z') + "\n");
  const std::string msg = error_message<DataError>([&] { read_csv(p, "c"); });
  expect_mentions(msg, {p.string() + ":2:2", "found '\\x01\\xFFzzz", "..."});
  EXPECT_LT(msg.size(), p.string().size() + 120) << msg;
}

TEST(Csv, AFolderOrAFifoIsNamedAsSuch) {
  TempDir dir;
  expect_mentions(error_message<DataError>([&] { read_csv(dir.path(), "c"); }), {dir.path().string(), "is a directory"});
  testing::expect_fifo_refused(dir / "fifo.csv", [&] { read_csv(dir / "fifo.csv", "c"); });
}

}  // namespace
}  // namespace sibp
