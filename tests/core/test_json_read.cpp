// The bounded JSON reader: nesting and size limits checked before parsing,
// every library exception turned into a DataError naming the source, the
// byte offset and what was found; files that are not regular refused.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/json_read.hpp"
#include "expect_error.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::error_message;
using testing::expect_mentions;
using testing::TempDir;

std::string parse_error(const std::string& text, const JsonLimits& limits = {}) {
  return error_message<DataError>([&] { (void)parse_json_text(text, "the-source.json", limits); });
}

void expect_no_library_message(const std::string& msg) {
  EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("[json"), std::string::npos) << msg;
}

TEST(JsonRead, ParsesValidJson) {
  const json j = parse_json_text(R"({"a": [1, 2.5, "x\"[{"], "b": {"c": null}})", "src");
  EXPECT_EQ(j["a"][1], 2.5);
  EXPECT_EQ(j["a"][2], "x\"[{");
  EXPECT_TRUE(j["b"]["c"].is_null());
}

TEST(JsonRead, DeepNestingIsACleanErrorNamingTheSourceAndOffset) {
  // 100 000 levels: nlohmann parses them, but printing, copying or comparing
  // such a value recurses once per level and overflows the stack.
  for (const auto& [open, close] : {std::pair{"[", "]"}, std::pair{"{\"k\":", "}"}}) {
    std::string text;
    for (int i = 0; i < 100000; ++i) text += open;
    for (int i = 0; i < 100000; ++i) text += close;
    const std::string msg = parse_error(text);
    expect_mentions(msg, {"the-source.json", "nested too deeply", "at most 64", "level 65"});
    expect_no_library_message(msg);
  }
}

TEST(JsonRead, NestingUpToTheLimitParses) {
  const std::string at_limit = std::string(64, '[') + std::string(64, ']');
  EXPECT_NO_THROW((void)parse_json_text(at_limit, "src"));
  const std::string msg = parse_error("{\"a\": " + std::string(65, '[') + std::string(65, ']') + "}");
  expect_mentions(msg, {"level 65", "byte offset 69"});  // the 64th '[' is at 6 + 63
  JsonLimits tight;
  tight.max_depth = 2;
  expect_mentions(parse_error("[[[]]]", tight), {"at most 2", "level 3", "byte offset 2"});
}

TEST(JsonRead, BracketsInsideStringsDoNotCount) {
  // Escaped quotes do not end the string; "\\" does end an escape.
  const std::string brackets(500, '[');
  const json j = parse_json_text("[\"" + brackets + "\\\"" + brackets + "\", \"\\\\\", [\"]]]]\"]]", "src");
  EXPECT_EQ(j[0].get<std::string>().size(), 1001u);
  EXPECT_EQ(j[1], "\\");
}

TEST(JsonRead, NumberOverflowNamesTheSourceTheNumberAndTheOffset) {
  const std::string msg = parse_error("{\"lr\": 1e400}");
  expect_mentions(msg, {"the-source.json", "not valid JSON", "byte offset", "1e400", "range of a double"});
  expect_no_library_message(msg);
}

TEST(JsonRead, SyntaxErrorsSayWhereAndWhatWasFoundAndExpected) {
  std::string msg = parse_error("{\n  \"a\": tru\n}");
  expect_mentions(msg, {"the-source.json", "line 2", "column", "byte offset", "tru"});
  expect_no_library_message(msg);
  msg = parse_error("{\"a\" 1}");
  expect_mentions(msg, {"line 1, column 6", "byte offset 5", "unexpected number literal", "expected ':'"});
  msg = parse_error("");
  expect_mentions(msg, {"the-source.json", "unexpected end of input"});
  msg = parse_error("[1] x");
  expect_mentions(msg, {"expected end of input"});
}

TEST(JsonRead, InvalidUtf8IsQuotedAsEscapes) {
  const std::string msg = parse_error("\"\xff\xfe\"");
  expect_mentions(msg, {"the-source.json", "\\xFF"});
  for (const char c : msg) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << msg;
}

TEST(JsonRead, TextLargerThanTheLimitIsRefused) {
  JsonLimits small;
  small.max_bytes = 10;
  expect_mentions(parse_error("[1, 2, 3, 4, 5]", small), {"the-source.json", "15 bytes", "more than the 10"});
}

TEST(JsonRead, FileErrorsNameThePath) {
  TempDir dir;
  testing::write_bytes(dir / "config.json", "{\"epochs\": 1e400}");
  expect_mentions(error_message<DataError>([&] { (void)read_json_file(dir / "config.json"); }),
                  {(dir / "config.json").string(), "1e400"});
  expect_mentions(error_message<DataError>([&] { (void)read_json_file(dir.path()); }),
                  {dir.path().string(), "is a directory"});
  JsonLimits small;
  small.max_bytes = 4;
  expect_mentions(error_message<DataError>([&] { (void)read_json_file(dir / "config.json", small); }),
                  {(dir / "config.json").string(), "17 bytes", "more than the 4"});
  testing::write_bytes(dir / "ok.json", "{\"epochs\": 3}");
  EXPECT_EQ(read_json_file(dir / "ok.json")["epochs"], 3);
}

TEST(JsonRead, AFifoIsRefusedWithoutWaitingForAWriter) {
  TempDir dir;
  testing::expect_fifo_refused(dir / "config.json", [&] { (void)read_json_file(dir / "config.json"); });
}

TEST(JsonRead, ExcerptIsShortAndNeverThrows) {
  const json big = json(std::vector<int>(1000, 7));
  const std::string e = json_excerpt(big, 20);
  EXPECT_EQ(e, "[7,7,7,7,7,7,7,7,7,7...");
  // A string built in code may hold invalid UTF-8, which dump() refuses.
  EXPECT_EQ(json_excerpt(json("a\xff" "b")), "\"a\xEF\xBF\xBD" "b\"");
}

}  // namespace
}  // namespace sibp
