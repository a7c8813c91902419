// Issue 21: a limit on the number of layers, and messages that print full
// shapes and echo the user's input bounded, once, with control bytes escaped.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/shape.hpp"
#include "expect_error.hpp"
#include "nn/architecture.hpp"

namespace sibp {
namespace {
using testing::error_message;
using testing::expect_mentions;

std::string repeated(const std::string& word, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " " : "") + word;
  return s;
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(ArchitectureLimits, MoreThanTheLayerLimitIsRefusedByEveryParser) {
  // A 10^6-layer network was accepted and trained for minutes.
  const std::string limit = std::to_string(kMaxLayers);
  EXPECT_EQ(Architecture::parse(repeated("dense(2) relu", 1000)).layers.size(), 1000u);
  expect_mentions(error_message<UsageError>([] { (void)Architecture::parse(repeated("dense(2) relu", 1001)); }),
                  {"--arch", "word 2001", "more than " + limit + " layers"});
  expect_mentions(error_message<UsageError>([] { (void)Architecture::parse(repeated("dense(2)", 1000000)); }),
                  {"more than " + limit + " layers"});
  std::string widths = "2";
  for (int i = 0; i < 1001; ++i) widths += "-2";
  expect_mentions(error_message<UsageError>([&] { (void)parse_widths(widths); }),
                  {"--layers", "more than " + limit + " layers"});
  const std::vector<Index> many(1002, 2);
  expect_mentions(error_message<UsageError>([&] { (void)Architecture::from_widths(many, Activation::ReLU); }),
                  {"1001 layers", "more than " + limit});
  Architecture built;
  built.layers.assign(1001, Architecture::parse("dense(2)").layers[0]);
  expect_mentions(error_message<UsageError>([&] { (void)NetworkSpec::build(built, Shape{2, 1, 1}, Loss::SquaredError); }),
                  {"1001 layers", "more than " + limit});
}

TEST(ArchitectureMessages, AVectorInputIsPrintedAsAFullShapeNextToAKernel) {
  // It read "the kernel 2 is larger than its input 100".
  const std::string msg = error_message<UsageError>(
      [] { (void)NetworkSpec::build(Architecture::parse("maxpool(2) dense(3)"), Shape{100, 1, 1}, Loss::SquaredError); });
  expect_mentions(msg, {"kernel 2 is larger than its input 100x1x1"});
  const std::string conv = error_message<UsageError>(
      [] { (void)NetworkSpec::build(Architecture::parse("dense(8) conv(2,3)"), Shape{4, 1, 1}, Loss::SquaredError); });
  expect_mentions(conv, {"layer 2 'conv(2,3)'", "kernel 3 is larger than its input 8x1x1"});
  EXPECT_EQ(Shape({100, 1, 1}).dims_string(), "100x1x1");
  EXPECT_EQ(Shape({100, 1, 1}).to_string(), "100");  // file metadata keeps its format
}

TEST(ArchitectureMessages, AHugeInputIsEchoedOnceAndBounded) {
  // A 200 KB --arch was echoed twice: a 400 KB message.
  const std::string huge = "dense(" + std::string(200000, '7') + ")";
  const std::string msg = error_message<UsageError>([&] { (void)Architecture::parse(huge); });
  EXPECT_LT(msg.size(), 600u) << msg.substr(0, 300);
  expect_mentions(msg, {"--arch", "word 1", "dense(777", "(200007 bytes in all)", "width N"});
  EXPECT_EQ(count(msg, "bytes in all"), 2u) << msg;  // the word once, its bad argument once
  EXPECT_EQ(count(msg, "dense(777"), 1u) << msg;
  // In a longer text: the text and the word, each bounded.
  const std::string two = "dense(10) " + std::string(200000, 'x');
  const std::string msg2 = error_message<UsageError>([&] { (void)Architecture::parse(two); });
  EXPECT_LT(msg2.size(), 800u) << msg2.substr(0, 300);
  expect_mentions(msg2, {"word 2", "unknown layer", "(200010 bytes in all)", "(200000 bytes in all)"});
  const std::string widths = error_message<UsageError>([&] { (void)parse_widths(std::string(200000, '5')); });
  EXPECT_LT(widths.size(), 600u);
  const std::string shape = error_message<UsageError>([&] { (void)Shape::parse(std::string(200000, '9')); });
  EXPECT_LT(shape.size(), 400u);
}

TEST(ArchitectureMessages, ControlBytesInTheInputAreEscapedNotCuttingTheMessage) {
  // A NUL ended what() there: "--arch 'dense(3)" and nothing after it.
  const std::string text = std::string("dense(3)\0zz", 11);
  const std::string msg = error_message<UsageError>([&] { (void)Architecture::parse(text); });
  expect_mentions(msg, {"dense(3)\\x00zz", "expected the word to end with ')'"});
  EXPECT_EQ(msg.find('\0'), std::string::npos);
  EXPECT_EQ(std::string(msg.c_str()), msg);
  const std::string esc = error_message<UsageError>([] { (void)Architecture::parse("dense(\x1b[2J)"); });
  expect_mentions(esc, {"dense(\\x1B[2J)"});
  const std::string shape = error_message<UsageError>([] { (void)Shape::parse(std::string("1x2\0x3", 6), "x"); });
  expect_mentions(shape, {"1x2\\x00x3"});
  const std::string widths = error_message<UsageError>([] { (void)parse_widths(std::string("4-\r3", 4)); });
  expect_mentions(widths, {"4-\\x0D3"});
}

}  // namespace
}  // namespace sibp
