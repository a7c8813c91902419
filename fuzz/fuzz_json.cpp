// The bounded JSON reader (core/json_read.hpp): any bytes either parse, or
// give a DataError naming the source; nesting and size limits hold.
// fuzz-link: sibp_core
#include <string_view>

#include "core/json_read.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const nlohmann::json j = sibp::parse_json_text(text, "fuzz.json");
    // What callers do with a parsed value: print an excerpt of it in a message.
    (void)sibp::json_excerpt(j);
  });
  // A small limit, so the size and depth checks are hit at every length.
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    sibp::JsonLimits tight;
    tight.max_depth = 3;
    tight.max_bytes = 64;
    (void)sibp::parse_json_text(text, "fuzz.json", tight);
  });
  return 0;
}
