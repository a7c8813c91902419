#pragma once
/// Numbers in messages and files: the shortest text that reads back to the
/// same double ("0.1", "1e-05"), where std::to_string would print "0.000000".
/// And user input echoed in messages, bounded and printable.
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>

namespace sibp {

inline std::string format_number(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

/// `text` as a message may echo it: control bytes (NUL, CR, escape...) but
/// tab and newline written as \xHH, so a NUL cannot cut the message short
/// (what() is a C string) nor a terminal sequence rewrite it; at most `max_bytes` bytes of
/// the input shown, the rest replaced by "... (N bytes in all)", so a 200 KB
/// argument does not become a 200 KB message. Never cuts inside a UTF-8 sequence.
inline std::string input_excerpt(std::string_view text, std::size_t max_bytes = 120) {
  std::size_t shown = text.size();
  if (shown > max_bytes) {
    shown = max_bytes;
    while (shown > 0 && (static_cast<unsigned char>(text[shown]) & 0xC0) == 0x80) --shown;
  }
  std::string out;
  out.reserve(shown + 32);
  for (std::size_t i = 0; i < shown; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < text.size()) out += "... (" + std::to_string(text.size()) + " bytes in all)";
  return out;
}

}  // namespace sibp
