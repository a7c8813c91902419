#include "io/metrics_file.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace sibp {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kBaseColumns = 9;

/// Shortest text that std::from_chars reads back to exactly `x`.
void append_number(std::string& out, double x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, r.ptr);
}

void append_number(std::string& out, long long x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, r.ptr);
}

/// The optional base columns of a row, in column order (after the first three).
std::array<const std::optional<double>*, 6> optionals(const MetricsRow& r) {
  return {&r.train_loss, &r.train_acc, &r.val_loss, &r.val_acc, &r.test_loss, &r.test_acc};
}
std::array<std::optional<double>*, 6> optionals(MetricsRow& r) {
  return {&r.train_loss, &r.train_acc, &r.val_loss, &r.val_acc, &r.test_loss, &r.test_acc};
}

bool is_base_column(const std::string& name) {
  const auto& base = metrics_base_columns();
  return std::find(base.begin(), base.end(), name) != base.end();
}

/// Extra column names over all rows, in order of first appearance.
std::vector<std::string> extra_columns(const std::vector<MetricsRow>& rows) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::vector<std::string> seen;
    for (const auto& [name, value] : rows[i].extra) {
      const std::string who = "write_metrics: row " + std::to_string(i) + " extra column '" + name + "'";
      if (name.empty() || name.find_first_of(",\"\r\n") != std::string::npos)
        throw std::invalid_argument(who + ": names must be non-empty without ',', '\"' or line breaks");
      if (is_base_column(name)) throw std::invalid_argument(who + ": clashes with a base column");
      if (std::find(seen.begin(), seen.end(), name) != seen.end())
        throw std::invalid_argument(who + ": appears twice in the row");
      seen.push_back(name);
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  return names;
}

const double* find_extra(const MetricsRow& r, const std::string& name) {
  for (const auto& [n, v] : r.extra)
    if (n == name) return &v;
  return nullptr;
}

std::string csv_text(const std::vector<MetricsRow>& rows, const std::vector<std::string>& extras) {
  std::string out;
  const auto& base = metrics_base_columns();
  for (std::size_t i = 0; i < base.size(); ++i) out += (i ? "," : "") + base[i];
  for (const auto& name : extras) out += "," + name;
  out += '\n';
  for (const MetricsRow& r : rows) {
    append_number(out, r.epoch);
    out += ',';
    append_number(out, r.iteration);
    out += ',';
    append_number(out, r.seconds);
    for (const auto* v : optionals(r)) {
      out += ',';
      if (*v) append_number(out, **v);
    }
    for (const auto& name : extras) {
      out += ',';
      if (const double* v = find_extra(r, name)) append_number(out, *v);
    }
    out += '\n';
  }
  return out;
}

nlohmann::ordered_json json_number(double x) {
  // JSON cannot spell NaN or infinity; see the header comment.
  return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr);
}

std::string json_text(const std::vector<MetricsRow>& rows, const std::vector<std::string>& extras) {
  const auto& base = metrics_base_columns();
  // One object per line: diffable and still a single JSON array.
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const MetricsRow& r = rows[i];
    nlohmann::ordered_json o;
    o[base[0]] = json_number(r.epoch);
    o[base[1]] = r.iteration;
    o[base[2]] = json_number(r.seconds);
    const auto opts = optionals(r);
    for (std::size_t k = 0; k < opts.size(); ++k)
      o[base[3 + k]] = *opts[k] ? json_number(**opts[k]) : nlohmann::ordered_json(nullptr);
    for (const auto& name : extras) {
      const double* v = find_extra(r, name);
      o[name] = v ? json_number(*v) : nlohmann::ordered_json(nullptr);
    }
    out += (i ? ",\n " : "\n ") + o.dump();
  }
  out += rows.empty() ? "]\n" : "\n]\n";
  return out;
}

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    cells.push_back(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return cells;
}

template <typename N>
std::optional<N> parse_cell(const std::string& cell) {
  N value{};
  const char* first = cell.data();
  const char* last = cell.data() + cell.size();
  const auto r = std::from_chars(first, last, value);
  if (r.ec != std::errc() || r.ptr != last || cell.empty()) return std::nullopt;
  return value;
}

}  // namespace

MetricsText metrics_text(const std::vector<MetricsRow>& rows) {
  const std::vector<std::string> extras = extra_columns(rows);
  return {csv_text(rows, extras), json_text(rows, extras)};
}

void write_metrics(const fs::path& dir, const std::vector<MetricsRow>& rows) {
  const MetricsText text = metrics_text(rows);
  write_file_atomic(dir / "metrics.csv", text.csv);
  write_file_atomic(dir / "metrics.json", text.json);
}

std::vector<MetricsRow> read_metrics_csv(const fs::path& path) { return parse_metrics_csv(read_file(path), path.string()); }

std::vector<MetricsRow> parse_metrics_csv(const std::string& text, const std::string& source) {
  const auto where = [&](std::size_t line) { return "metrics file '" + source + "' line " + std::to_string(line); };

  std::vector<std::string> lines;
  {
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      std::string line = text.substr(start, nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();  // files edited on Windows
      lines.push_back(std::move(line));
      start = nl + 1;
    }
  }
  if (lines.empty() || lines[0].empty())
    throw DataError("metrics file '" + source + "' is empty: expected a header line starting with epoch,iteration,...");

  const std::vector<std::string> header = split_commas(lines[0]);
  const auto& base = metrics_base_columns();
  std::string expected;
  for (std::size_t i = 0; i < base.size(); ++i) expected += (i ? "," : "") + base[i];
  if (header.size() < kBaseColumns || !std::equal(base.begin(), base.end(), header.begin()))
    throw DataError(where(1) + ": unknown header: expected it to start with '" + expected + "', found '" + lines[0] + "'");
  for (std::size_t c = kBaseColumns; c < header.size(); ++c) {
    if (header[c].empty() || is_base_column(header[c]) ||
        std::find(header.begin() + kBaseColumns, header.begin() + static_cast<std::ptrdiff_t>(c), header[c]) !=
            header.begin() + static_cast<std::ptrdiff_t>(c))
      throw DataError(where(1) + ": column " + std::to_string(c + 1) + " name '" + header[c] +
                      "' is empty or repeated");
  }

  std::vector<MetricsRow> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      // Only the end of the file may be blank (the final newline).
      bool rest_blank = true;
      for (std::size_t k = i; k < lines.size() && rest_blank; ++k) rest_blank = lines[k].empty();
      if (rest_blank) break;
      throw DataError(where(i + 1) + ": blank line inside the table");
    }
    const std::vector<std::string> cells = split_commas(lines[i]);
    if (cells.size() != header.size())
      throw DataError(where(i + 1) + ": expected " + std::to_string(header.size()) + " cells as in the header, found " +
                      std::to_string(cells.size()));
    const auto bad = [&](std::size_t c, const char* what) {
      return DataError(where(i + 1) + ": column '" + header[c] + "': expected " + what + ", found '" + cells[c] + "'");
    };
    MetricsRow r;
    const auto epoch = parse_cell<double>(cells[0]);
    if (!epoch) throw bad(0, "a number");
    r.epoch = *epoch;
    const auto iteration = parse_cell<long long>(cells[1]);
    if (!iteration) throw bad(1, "an integer");
    r.iteration = *iteration;
    const auto seconds = parse_cell<double>(cells[2]);
    if (!seconds) throw bad(2, "a number");
    r.seconds = *seconds;
    const auto opts = optionals(r);
    for (std::size_t k = 0; k < opts.size(); ++k) {
      const std::size_t c = 3 + k;
      if (cells[c].empty()) continue;
      *opts[k] = parse_cell<double>(cells[c]);
      if (!*opts[k]) throw bad(c, "a number or an empty cell");
    }
    for (std::size_t c = kBaseColumns; c < cells.size(); ++c) {
      if (cells[c].empty()) continue;
      const auto v = parse_cell<double>(cells[c]);
      if (!v) throw bad(c, "a number or an empty cell");
      r.extra.emplace_back(header[c], *v);
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace sibp
