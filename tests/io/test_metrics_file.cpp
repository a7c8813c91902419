// Tests of the metrics files (src/io/metrics_file.hpp).
#include "io/metrics_file.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

/// Bit equality, so -0.0 vs 0.0 and a last-digit rounding both count.
bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

void expect_same_optional(const std::optional<double>& a, const std::optional<double>& b, const char* what) {
  ASSERT_EQ(a.has_value(), b.has_value()) << what;
  if (a) {
    EXPECT_TRUE(same_double(*a, *b)) << what << ": " << *a << " vs " << *b;
  }
}

void expect_same_rows(const std::vector<MetricsRow>& a, const std::vector<MetricsRow>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    EXPECT_TRUE(same_double(a[i].epoch, b[i].epoch));
    EXPECT_EQ(a[i].iteration, b[i].iteration);
    EXPECT_TRUE(same_double(a[i].seconds, b[i].seconds));
    expect_same_optional(a[i].train_loss, b[i].train_loss, "train_loss");
    expect_same_optional(a[i].train_acc, b[i].train_acc, "train_acc");
    expect_same_optional(a[i].val_loss, b[i].val_loss, "val_loss");
    expect_same_optional(a[i].val_acc, b[i].val_acc, "val_acc");
    expect_same_optional(a[i].test_loss, b[i].test_loss, "test_loss");
    expect_same_optional(a[i].test_acc, b[i].test_acc, "test_acc");
    ASSERT_EQ(a[i].extra.size(), b[i].extra.size());
    for (std::size_t k = 0; k < a[i].extra.size(); ++k) {
      EXPECT_EQ(a[i].extra[k].first, b[i].extra[k].first);
      EXPECT_TRUE(same_double(a[i].extra[k].second, b[i].extra[k].second)) << a[i].extra[k].first;
    }
  }
}

/// Rows like a real run's: epoch fractions, awkward doubles (1/3, 0.1,
/// 1e-300, a value one ulp above 1), missing optionals, and extras that
/// appear only on some rows.
std::vector<MetricsRow> sample_rows() {
  std::vector<MetricsRow> rows(4);
  rows[0].epoch = 0;
  rows[0].iteration = 0;
  rows[0].seconds = 0;
  rows[0].train_loss = 2.302585092994046;
  rows[0].train_acc = 0.1;
  rows[0].test_loss = 2.3025;  // no validation set: val_* stay empty
  rows[0].test_acc = 0.0982;

  rows[1].epoch = 1.0 / 3.0;
  rows[1].iteration = 200;
  rows[1].seconds = 1.234567890123456789;
  rows[1].train_loss = 1e-300;
  rows[1].train_acc = std::nextafter(1.0, 2.0);
  rows[1].val_loss = -0.0;
  rows[1].val_acc = 0.5;
  rows[1].extra = {{"grad_norm", 3.5e-7}, {"cg_iterations", 12}};

  rows[2].epoch = 1;
  rows[2].iteration = 600;
  rows[2].seconds = 4.75;
  rows[2].extra = {{"grad_norm", std::numeric_limits<double>::infinity()}};

  rows[3].epoch = 2;
  rows[3].iteration = 1200;
  rows[3].seconds = 9.5;
  rows[3].test_loss = std::numeric_limits<double>::quiet_NaN();
  rows[3].extra = {{"cg_iterations", 7}, {"grad_norm", 0.25}};
  return rows;
}

TEST(MetricsFile, CsvRoundTripIsExact) {
  TempDir dir;
  const std::vector<MetricsRow> rows = sample_rows();
  write_metrics(dir.path(), rows);
  std::vector<MetricsRow> back = read_metrics_csv(dir / "metrics.csv");
  // Extras come back in column order; row 3 wrote them in another order.
  std::vector<MetricsRow> expected = rows;
  expected[3].extra = {{"grad_norm", 0.25}, {"cg_iterations", 7}};
  expect_same_rows(expected, back);
}

TEST(MetricsFile, CsvLayout) {
  TempDir dir;
  write_metrics(dir.path(), sample_rows());
  const std::string csv = read_file(dir / "metrics.csv");
  const std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_EQ(header, "epoch,iteration,seconds,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,grad_norm,"
                    "cg_iterations");
  // First row: val columns and both extras empty.
  const std::size_t start = csv.find('\n') + 1;
  EXPECT_EQ(csv.substr(start, csv.find('\n', start) - start), "0,0,0,2.302585092994046,0.1,,,2.3025,0.0982,,");
  EXPECT_NE(csv.find(",inf,"), std::string::npos);
  EXPECT_NE(csv.find(",nan,"), std::string::npos);
}

TEST(MetricsFile, JsonHasTheSameKeysAndNullsForMissingValues) {
  TempDir dir;
  const std::vector<MetricsRow> rows = sample_rows();
  write_metrics(dir.path(), rows);
  const json j = json::parse(read_file(dir / "metrics.json"));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), rows.size());
  const std::vector<std::string> keys{"epoch",   "iteration", "seconds",  "train_loss", "train_acc",    "val_loss",
                                      "val_acc", "test_loss", "test_acc", "grad_norm",  "cg_iterations"};
  for (const json& o : j) {
    ASSERT_EQ(o.size(), keys.size());
    for (const auto& k : keys) EXPECT_TRUE(o.contains(k)) << k;
  }
  EXPECT_TRUE(j[0]["val_loss"].is_null());
  EXPECT_TRUE(j[0]["grad_norm"].is_null());
  EXPECT_EQ(j[1]["iteration"].get<long long>(), 200);
  EXPECT_TRUE(j[1]["iteration"].is_number_integer());
  EXPECT_TRUE(same_double(j[1]["epoch"].get<double>(), 1.0 / 3.0));
  EXPECT_TRUE(same_double(j[1]["seconds"].get<double>(), rows[1].seconds));
  EXPECT_TRUE(same_double(j[1]["train_acc"].get<double>(), std::nextafter(1.0, 2.0)));
  EXPECT_EQ(j[1]["grad_norm"].get<double>(), 3.5e-7);
  EXPECT_TRUE(j[2]["grad_norm"].is_null()) << "JSON cannot spell infinity";
  EXPECT_TRUE(j[3]["test_loss"].is_null()) << "JSON cannot spell NaN";
  EXPECT_EQ(j[3]["cg_iterations"].get<double>(), 7);
}

TEST(MetricsFile, NoRowsGivesHeaderAndEmptyArray) {
  TempDir dir;
  write_metrics(dir.path(), {});
  EXPECT_TRUE(read_metrics_csv(dir / "metrics.csv").empty());
  EXPECT_EQ(json::parse(read_file(dir / "metrics.json")), json::array());
}

TEST(MetricsFile, RewriteReplacesFilesAndLeavesNoTemporaries) {
  TempDir dir;
  std::vector<MetricsRow> rows = sample_rows();
  write_metrics(dir.path(), {rows[0]});
  write_metrics(dir.path(), rows);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"metrics.csv", "metrics.json"}));
  EXPECT_EQ(read_metrics_csv(dir / "metrics.csv").size(), rows.size());
  EXPECT_EQ(json::parse(read_file(dir / "metrics.json")).size(), rows.size());
  EXPECT_THROW(write_metrics(dir / "missing-folder", rows), DataError);
}

TEST(MetricsFile, BadExtraNamesAreRefused) {
  TempDir dir;
  MetricsRow r;
  r.extra = {{"a,b", 1}};
  EXPECT_THROW(write_metrics(dir.path(), {r}), std::invalid_argument);
  r.extra = {{"", 1}};
  EXPECT_THROW(write_metrics(dir.path(), {r}), std::invalid_argument);
  r.extra = {{"val_loss", 1}};
  EXPECT_THROW(write_metrics(dir.path(), {r}), std::invalid_argument);
  r.extra = {{"x", 1}, {"x", 2}};
  EXPECT_THROW(write_metrics(dir.path(), {r}), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "metrics.csv"));
}

void expect_read_error(const std::string& text, const std::string& what) {
  TempDir dir;
  const fs::path path = dir / "metrics.csv";
  write_bytes(path, text);
  try {
    (void)read_metrics_csv(path);
    ADD_FAILURE() << "no DataError; expected one mentioning: " << what;
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message lacks '" << what << "': " << msg;
  }
}

const std::string kHeader = "epoch,iteration,seconds,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc";

TEST(MetricsFile, ReadErrorsNameFileAndLine) {
  expect_read_error("", "is empty");
  expect_read_error("epoch,iter,seconds\n0,0,0\n", "line 1: unknown header");
  expect_read_error("step,loss\n", "line 1: unknown header");
  expect_read_error(kHeader + ",grad_norm,grad_norm\n", "line 1: column 11 name 'grad_norm'");
  expect_read_error(kHeader + "\n0,0,0,1,1,,,,\n1,100,2,1,1,,,\n", "line 3: expected 9 cells as in the header, found 8");
  expect_read_error(kHeader + "\n0,0,0,abc,1,,,,\n", "line 2: column 'train_loss': expected a number or an empty cell, found 'abc'");
  expect_read_error(kHeader + "\n0,1.5,0,,,,,,\n", "line 2: column 'iteration': expected an integer, found '1.5'");
  expect_read_error(kHeader + "\n,0,0,,,,,,\n", "line 2: column 'epoch': expected a number, found ''");
  expect_read_error(kHeader + "\n0,0,0,1e5x,,,,,\n", "found '1e5x'");
  expect_read_error(kHeader + "\n0,0,0,,,,,,\n\n1,2,3,,,,,,\n", "line 3: blank line");
  expect_read_error(kHeader + ",g\n0,0,0,,,,,,,zz\n", "line 2: column 'g'");
  TempDir dir;
  EXPECT_THROW(read_metrics_csv(dir / "absent.csv"), DataError);
}

TEST(MetricsFile, ReadsWindowsLineEndingsAndNoFinalNewline) {
  TempDir dir;
  write_bytes(dir / "m.csv", kHeader + ",g\r\n0,0,0,1.5,,,,,,\r\n2,10,3.25,,,0.5,0.75,,,8");
  const std::vector<MetricsRow> rows = read_metrics_csv(dir / "m.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].train_loss, 1.5);
  EXPECT_FALSE(rows[0].train_acc);
  EXPECT_TRUE(rows[0].extra.empty());
  EXPECT_EQ(rows[1].iteration, 10);
  EXPECT_EQ(rows[1].val_acc, 0.75);
  ASSERT_EQ(rows[1].extra.size(), 1u);
  EXPECT_EQ(rows[1].extra[0], (std::pair<std::string, double>{"g", 8.0}));
}

}  // namespace
}  // namespace sibp
