#pragma once
/// Reading JSON that a user or another program wrote: bounded before parsing
/// (nesting depth, size), and every parser complaint turned into a DataError
/// that names the source.
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sibp {

struct JsonLimits {
  std::size_t max_depth = 64;             ///< nesting of arrays and objects
  std::size_t max_bytes = 64u << 20;      ///< size of the text
};

/// Parses `text`. Throws DataError naming `source` for text that nests deeper or is
/// larger than `limits`, or is not valid JSON (with the byte offset).
nlohmann::json parse_json_text(std::string_view text, const std::string& source, const JsonLimits& limits = {});

/// Reads and parses a file (read_file, then parse_json_text). Throws DataError naming the path.
nlohmann::json read_json_file(const std::filesystem::path& path, const JsonLimits& limits = {});

}  // namespace sibp
