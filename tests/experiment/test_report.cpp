// Reading a comparison's results back (experiment/report.hpp): a result.json
// that is malformed, deeply nested, not a file, or holds an out-of-range
// number is a DataError naming it, never a crash or a hang.
#include "experiment/report.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/error.hpp"
#include "expect_error.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

std::vector<PlannedRun> one_run() {
  PlannedRun p;
  p.label = "sgd";
  p.subdir = "sgd/seed-1";
  return {p};
}

fs::path run_dir(const TempDir& dir) {
  fs::create_directories(dir / "sgd" / "seed-1");
  return dir / "sgd" / "seed-1";
}

TEST(ReadResults, ARunWithoutResultIsMissing) {
  TempDir dir;
  run_dir(dir);
  const auto results = read_results(dir.path(), one_run());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].complete);
  EXPECT_EQ(results[0].status, "missing");
}

TEST(ReadResults, DeeplyNestedResultIsACleanErrorNamingTheFile) {
  // The old message printed the value (dump), recursing once per level.
  TempDir dir;
  const fs::path result = run_dir(dir) / "result.json";
  testing::write_bytes(result, std::string(100000, '[') + std::string(100000, ']'));
  expect_mentions(error_message<DataError>([&] { (void)read_results(dir.path(), one_run()); }),
                  {result.string(), "nested too deeply"});
}

TEST(ReadResults, NumberOverflowNamesTheFile) {
  // out_of_range, not parse_error: it escaped the old catch as a library exception.
  TempDir dir;
  const fs::path result = run_dir(dir) / "result.json";
  testing::write_bytes(result, "{\"status\": \"completed\", \"seconds_per_epoch\": 1e400}");
  const std::string msg = error_message<DataError>([&] { (void)read_results(dir.path(), one_run()); });
  expect_mentions(msg, {result.string(), "1e400"});
  EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
}

TEST(ReadResults, AResultThatIsAFolderOrAFifoIsAnErrorNotAMissingRun) {
  TempDir dir;
  const fs::path result = run_dir(dir) / "result.json";
  fs::create_directory(result);
  expect_mentions(error_message<DataError>([&] { (void)read_results(dir.path(), one_run()); }),
                  {result.string(), "is a directory"});
  fs::remove(result);
  testing::expect_fifo_refused(result, [&] { (void)read_results(dir.path(), one_run()); });
}

}  // namespace
}  // namespace sibp
