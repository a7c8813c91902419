// The shape of one sample (src/core/shape.hpp): parsing and text.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/shape.hpp"

namespace sibp {
namespace {

TEST(Shape, SizesAndText) {
  const Shape img{3, 32, 32};
  EXPECT_EQ(img.size(), 3072);
  EXPECT_EQ(img.pixels(), 1024);
  EXPECT_FALSE(img.is_vector());
  EXPECT_EQ(img.to_string(), "3x32x32");
  const Shape vec{784, 1, 1};
  EXPECT_TRUE(vec.is_vector());
  EXPECT_EQ(vec.to_string(), "784");
  EXPECT_EQ(Shape{}.size(), 1);
  // A one-pixel-high image is not a vector.
  EXPECT_FALSE((Shape{1, 1, 5}).is_vector());
  EXPECT_EQ((Shape{1, 1, 5}).to_string(), "1x1x5");
}

TEST(Shape, ParsesWhatToStringWrites) {
  EXPECT_EQ(Shape::parse("1x28x28"), (Shape{1, 28, 28}));
  EXPECT_EQ(Shape::parse("3,32,32"), (Shape{3, 32, 32}));
  EXPECT_EQ(Shape::parse("784"), (Shape{784, 1, 1}));
  EXPECT_EQ(Shape::parse(" 2 x 5 x 7 "), (Shape{2, 5, 7}));
  for (const Shape s : {Shape{1, 28, 28}, Shape{784, 1, 1}, Shape{2, 1, 9}, Shape{5, 3, 1}})
    EXPECT_EQ(Shape::parse(s.to_string()), s) << s.to_string();
}

TEST(Shape, RejectsMalformedTextNamingWhat) {
  for (const std::string bad : {"", "x", "0x28x28", "1x28", "1x28x28x1", "axb", "1x-2x3", "1x2.5x3", "1xx2",
                                "3x32x32,", "99999999999999", "2147483648x1x1", "65536x65536x1"}) {
    try {
      (void)Shape::parse(bad, "--input-shape");
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const UsageError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("--input-shape"), std::string::npos) << msg;
      EXPECT_NE(msg.find("'" + bad + "'"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace sibp
