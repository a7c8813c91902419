#include "data/csv.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace sibp {

namespace fs = std::filesystem;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// Parses the whole of s as a double (from_chars: no locale, no leading '+').
bool parse_number(std::string_view s, double& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  // ERANGE: a value beyond double range; report it as non-finite below.
  if (ec == std::errc::result_out_of_range) {
    out = std::numeric_limits<double>::infinity();
    return ptr == s.data() + s.size();
  }
  return ec == std::errc() && ptr == s.data() + s.size();
}

void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      fields.push_back(trim(line.substr(start)));
      return;
    }
    fields.push_back(trim(line.substr(start, comma - start)));
    start = comma + 1;
  }
}

}  // namespace

Dataset read_csv(const fs::path& path, std::string name) {
  const std::string text = read_file(path, kCsvMaxBytes);
  std::string_view rest(text);
  // Spreadsheet programs save "UTF-8 CSV" with a byte order mark; left in,
  // it would make the first field of a data row look like a header.
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);

  const std::string file = path.string();
  std::vector<float> values;
  std::vector<std::uint8_t> labels;
  std::vector<std::string_view> fields;
  std::size_t width = 0;     // fields per row, fixed by the first row (header or data)
  long width_line = 0;       // the line that fixed it, for the ragged-row message
  int max_label = -1;
  long lineno = 0;
  bool seen_any_line = false;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++lineno;
    if (trim(line).empty()) continue;
    split_fields(line, fields);
    const std::string where = file + ":" + std::to_string(lineno);
    double label = 0;
    const bool label_is_number = parse_number(fields[0], label);
    if (!seen_any_line) {
      seen_any_line = true;
      width = fields.size();
      width_line = lineno;
      if (!label_is_number) continue;  // header line
    }
    if (fields.size() != width)
      throw DataError(where + ": expected " + std::to_string(width) + " fields (as on line " +
                      std::to_string(width_line) + "), found " + std::to_string(fields.size()));
    if (fields.size() < 2)
      throw DataError(where + ": expected a label and at least one feature, found 1 field");
    const std::string label_text = printable_excerpt(fields[0]);
    if (!label_is_number || !std::isfinite(label))
      throw DataError(where + ":1: expected an integer class label, found '" + label_text + "'");
    if (!(label >= 0))
      throw DataError(where + ":1: expected a class label >= 0, found '" + label_text + "'");
    if (label != std::floor(label))
      throw DataError(where + ":1: expected an integer class label, found '" + label_text + "'");
    if (label > kCsvMaxLabel)
      throw DataError(where + ":1: expected a class label 0.." + std::to_string(kCsvMaxLabel) +
                      ", found '" + label_text + "'");
    labels.push_back(static_cast<std::uint8_t>(label));
    max_label = std::max(max_label, static_cast<int>(label));
    for (std::size_t k = 1; k < fields.size(); ++k) {
      double x = 0;
      if (!parse_number(fields[k], x))
        throw DataError(where + ":" + std::to_string(k + 1) + ": expected a number, found '" +
                        printable_excerpt(fields[k]) + "'");
      if (!std::isfinite(x) || std::abs(x) > std::numeric_limits<float>::max())
        throw DataError(where + ":" + std::to_string(k + 1) + ": expected a finite number within float " +
                        "range, found '" + printable_excerpt(fields[k]) + "'");
      values.push_back(static_cast<float>(x));
    }
  }
  if (labels.empty())
    throw DataError(file + ": expected at least one data row (label,feature,...), found " +
                    (seen_any_line ? "only a header line" : "an empty file"));
  return Dataset::from_floats(std::move(values), std::move(labels), static_cast<Index>(width - 1),
                              max_label + 1, std::move(name));
}

}  // namespace sibp
