#include "core/json_read.hpp"

#include <algorithm>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Where the parser stopped, from a second, DOM-less pass over the text.
/// (The exception of a number overflow, out_of_range 406, carries no
/// position; the SAX error callback has it for every kind of error.)
class ErrorLocator : public nlohmann::json_sax<json> {
 public:
  std::size_t position = 0;  ///< bytes read when the error was found
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) override {
    position = pos;
    return false;
  }
};

/// The library's message without its "[json.exception.KIND.ID] " and
/// "parse error at line L, column C: " prefixes, reworded where terse.
std::string describe(const json::exception& e) {
  std::string what = e.what();
  if (what.starts_with("[json.exception.")) {
    const auto close = what.find("] ");
    if (close != std::string::npos) what.erase(0, close + 2);
  }
  if (what.starts_with("parse error")) {
    const auto colon = what.find(": ");
    if (colon != std::string::npos) what.erase(0, colon + 2);
  }
  static const std::string overflow = "number overflow parsing ";
  if (what.starts_with(overflow))
    what = "expected a number within the range of a double (about 1.8e308), found " + what.substr(overflow.size());
  // Raw input the parser quotes may be anything.
  return printable_excerpt(what, 300);
}

/// Refuses nesting deeper than max_depth before the parser sees it. Counts
/// brackets outside strings (honouring backslash escapes): for any text the
/// parser accepts up to a point, this is exactly its nesting there.
void check_depth(std::string_view text, const std::string& source, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        throw DataError(source + ": JSON nested too deeply: expected at most " + std::to_string(max_depth) +
                        " levels of arrays and objects, found level " + std::to_string(depth) + " at byte offset " +
                        std::to_string(i));
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

}  // namespace

json parse_json_text(std::string_view text, const std::string& source, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    throw DataError(source + ": JSON text is " + std::to_string(text.size()) + " bytes, more than the " +
                    std::to_string(limits.max_bytes) + " bytes accepted");
  check_depth(text, source, limits.max_depth);
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    ErrorLocator locator;
    json::sax_parse(text.begin(), text.end(), &locator);
    const std::size_t offset = std::min(locator.position > 0 ? locator.position - 1 : 0, text.size());
    const auto line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
    const std::size_t column =
        line_start == std::string_view::npos || offset == 0 ? offset + 1 : offset - line_start;
    throw DataError(source + ": not valid JSON at byte offset " + std::to_string(offset) + " (line " +
                    std::to_string(line) + ", column " + std::to_string(column) + "): " + describe(e));
  }
}

json read_json_file(const fs::path& path, const JsonLimits& limits) {
  return parse_json_text(read_file(path, limits.max_bytes), path.string(), limits);
}

std::string json_excerpt(const json& value, std::size_t max_chars) {
  std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_chars) {
    std::size_t cut = max_chars;
    // Not inside a UTF-8 sequence: the message stays valid UTF-8.
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s = s.substr(0, cut) + "...";
  }
  return s;
}

}  // namespace sibp
