// Reference-case folders (io/reference_case.hpp): a valid case reads; a
// malformed manifest or array file is a DataError naming it, never a crash,
// a raw library message or a read that hangs.
#include "io/reference_case.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/error.hpp"
#include "expect_error.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

fs::path fixture(const std::string& name) { return fs::path(SIBP_FIXTURES_DIR) / "sibp-reference" / name; }

TEST(ReferenceCase, ReadsTheFixture) {
  const ReferenceCase c = read_reference_case(fixture("case_b_fixed"));
  EXPECT_EQ(c.layers, (std::vector<Index>{784, 64, 32, 10}));
  EXPECT_EQ(c.X.rows(), 784);
  EXPECT_EQ(c.X.cols(), 50);
  EXPECT_TRUE(c.has_after());
}

TEST(ReferenceCase, DeeplyNestedManifestIsACleanError) {
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  for (const auto& [open, close] : {std::pair{"[", "]"}, std::pair{"{\"a\":", "}"}}) {
    std::string text = "{\"layers\": ";
    for (int i = 0; i < 100000; ++i) text += open;
    text += "1";
    for (int i = 0; i < 100000; ++i) text += close;
    testing::write_bytes(c / "manifest.json", text + "}");
    expect_mentions(error_message<DataError>([&] { (void)read_reference_case(c); }),
                    {(c / "manifest.json").string(), "nested too deeply"});
  }
}

TEST(ReferenceCase, NumberOverflowNamesTheManifest) {
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  testing::write_bytes(c / "manifest.json", "{\"layers\": [784, 10], \"eta\": 1e400}");
  const std::string msg = error_message<DataError>([&] { (void)read_reference_case(c); });
  expect_mentions(msg, {(c / "manifest.json").string(), "1e400"});
  EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
}

TEST(ReferenceCase, ManifestFieldsAreCheckedWithoutReadingArrays) {
  const nlohmann::json m = {{"layers", {3, 4, 2}}, {"eta", 0.5}, {"lambda", {1, 2}}, {"files", nlohmann::json::array()}};
  EXPECT_EQ(parse_reference_manifest("dir", m).lambda, (std::vector<double>{1, 2}));
  nlohmann::json bad = m;
  bad["lambda"] = {1, 2, 3};
  expect_mentions(error_message<DataError>([&] { (void)parse_reference_manifest("dir", bad); }),
                  {(fs::path("dir") / "manifest.json").string(), "field 'lambda'", "expected 1 or 2 values"});
  expect_mentions(error_message<DataError>([&] { (void)parse_reference_manifest("dir", nlohmann::json::array()); }),
                  {"manifest.json", "expected a JSON object, found []"});
}

TEST(ReferenceCase, AnArrayFileThatIsAFolderOrAFifoIsNamedAsSuch) {
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  fs::remove(c / "X.bin");
  fs::create_directory(c / "X.bin");
  expect_mentions(error_message<DataError>([&] { (void)read_reference_case(c); }),
                  {(c / "X.bin").string(), "is a directory"});
  fs::remove(c / "X.bin");
  testing::expect_fifo_refused(c / "X.bin", [&] { (void)read_reference_case(c); });
}

TEST(ReferenceCase, AManifestThatIsAFifoDoesNotHang) {
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  fs::remove(c / "manifest.json");
  testing::expect_fifo_refused(c / "manifest.json", [&] { (void)read_reference_case(c); });
}

}  // namespace
}  // namespace sibp
