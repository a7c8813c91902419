#include "core/json_read.hpp"

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace sibp {

nlohmann::json parse_json_text(std::string_view text, const std::string& source, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    throw DataError(source + ": " + std::to_string(text.size()) + " bytes of JSON, more than the " +
                    std::to_string(limits.max_bytes) + " accepted");
  // nlohmann's parser recurses per level: a deep enough text would overflow the
  // stack, so the depth is measured first, outside strings.
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > limits.max_depth)
        throw DataError(source + ": JSON nested deeper than " + std::to_string(limits.max_depth) +
                        " levels (at byte " + std::to_string(i) + ")");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    const std::size_t colon = what.find("]: ");  // drop "[json.exception.parse_error.101] "
    if (colon != std::string::npos) what = what.substr(colon + 3);
    throw DataError(source + ": not valid JSON: " + what);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    const std::size_t colon = what.find("] ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    throw DataError(source + ": not valid JSON: " + what);
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path, const JsonLimits& limits) {
  return parse_json_text(read_file(path), path.string(), limits);
}

}  // namespace sibp
