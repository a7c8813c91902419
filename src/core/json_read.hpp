#pragma once
/// Bounded JSON reading for every file sibp reads (configurations,
/// experiment files, manifests, result files, safetensors headers).
///
/// nlohmann's parser accepts any nesting depth, and copying, comparing or
/// printing a value recurses once per level: 100 000 nested `[` overflow the
/// stack. Its exceptions read "[json.exception.out_of_range.406] number
/// overflow parsing '1e400'" and name no file. Here the nesting and the size
/// are checked before parsing, and every library exception becomes a
/// DataError that names the source, the byte offset, and what was found.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sibp {

/// What parse_json_text accepts.
struct JsonLimits {
  /// Deepest nesting of arrays and objects (a top-level object is depth 1).
  std::size_t max_depth = 64;
  /// Largest text, in bytes.
  std::uint64_t max_bytes = std::uint64_t{16} << 20;
};

/// Parses `text` as one JSON value (RFC 8259, no comments).
/// `source` names where the text comes from (a path, or "safetensors file
/// 'm.safetensors' header") and begins every message.
/// Throws DataError "SOURCE: ..." when the text is larger than
/// limits.max_bytes, nests deeper than limits.max_depth (giving the byte
/// offset of the first opening bracket too many), or is not valid JSON
/// (giving the byte offset, line and column, what was found and, where the
/// parser knows, what was expected; numbers beyond the range of a double
/// included). Never lets a library exception through.
nlohmann::json parse_json_text(std::string_view text, const std::string& source, const JsonLimits& limits = {});

/// read_file(path, limits.max_bytes) then parse_json_text with the path as
/// source. Throws DataError naming the path as those do (a FIFO, a folder or
/// a device is refused before it is opened).
nlohmann::json read_json_file(const std::filesystem::path& path, const JsonLimits& limits = {});

/// A JSON value as compact text for an error message: at most `max_chars`
/// characters (cut with "..."), invalid UTF-8 replaced, never throwing.
std::string json_excerpt(const nlohmann::json& value, std::size_t max_chars = 80);

}  // namespace sibp
