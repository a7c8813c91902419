#include "experiment/generated_blocks.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "core/error.hpp"

namespace sibp {

namespace {

const std::string kOpen = "<!-- generated:";
const std::string kClose = "-->";
const std::string kEnd = "<!-- end generated -->";

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

/// `text` split after each '\n' (the last line may lack one).
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    nl = nl == std::string::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(start, nl - start));
    start = nl;
  }
  return lines;
}

/// The cells of a Markdown table row "| a | b \| c |" (escaped '|' kept in its cell).
std::vector<std::string> row_cells(const std::string& row) {
  std::string s = trim(row.back() == '\n' ? row.substr(0, row.size() - 1) : row);
  if (!s.empty() && s.front() == '|') s.erase(0, 1);
  if (!s.empty() && s.back() == '|' && !(s.size() > 1 && s[s.size() - 2] == '\\')) s.pop_back();
  std::vector<std::string> cells;
  std::string cell;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '|') {
      cell += "\\|";
      ++i;
    } else if (s[i] == '|') {
      cells.push_back(trim(cell));
      cell.clear();
    } else {
      cell += s[i];
    }
  }
  cells.push_back(trim(cell));
  return cells;
}

std::string join_row(const std::vector<std::string>& cells) {
  std::string out = "|";
  for (const std::string& c : cells) out += " " + c + " |";
  return out + "\n";
}

}  // namespace

std::string heading_slug(const std::string& heading) {
  std::string slug;
  for (char c : heading) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      slug += static_cast<char>(std::tolower(u));
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "table" : slug;
}

std::vector<NamedTable> markdown_tables(const std::string& markdown) {
  std::vector<NamedTable> tables;
  std::map<std::string, int> per_heading;
  std::string heading = "table";
  bool in_table = false;
  for (const std::string& line : lines_of(markdown)) {
    const bool row = !line.empty() && line.front() == '|';
    if (!row) {
      in_table = false;
      const std::size_t text = line.find_first_not_of('#');
      if (line.front() == '#' && text != std::string::npos) heading = heading_slug(line.substr(text));
      continue;
    }
    if (!in_table) {
      const int n = ++per_heading[heading];
      tables.push_back({n == 1 ? heading : heading + "-" + std::to_string(n), ""});
      in_table = true;
    }
    tables.back().text += line.back() == '\n' ? line : line + "\n";
  }
  return tables;
}

std::string select_columns(const std::string& table, const std::vector<std::string>& columns,
                           const std::string& where) {
  const std::vector<std::string> rows = lines_of(table);
  if (rows.empty()) return table;
  const std::vector<std::string> header = row_cells(rows[0]);
  std::vector<std::size_t> picked;
  for (const std::string& name : columns) {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      std::string known;
      for (const std::string& h : header) known += (known.empty() ? "'" : ", '") + h + "'";
      throw DataError(where + ": no column '" + name + "' in the table (its columns: " + known + ")");
    }
    picked.push_back(static_cast<std::size_t>(it - header.begin()));
  }
  std::string out;
  for (const std::string& row : rows) {
    const std::vector<std::string> cells = row_cells(row);
    std::vector<std::string> kept;
    for (std::size_t c : picked) kept.push_back(c < cells.size() ? cells[c] : "");
    out += join_row(kept);
  }
  return out;
}

std::vector<GeneratedBlock> find_generated_blocks(const std::string& doc, const std::string& doc_name) {
  std::vector<GeneratedBlock> blocks;
  std::optional<GeneratedBlock> open;
  std::size_t offset = 0;
  int number = 0;
  bool fenced = false;  // inside a ``` code block: markers there are examples, not blocks
  for (const std::string& raw : lines_of(doc)) {
    ++number;
    const std::size_t line_start = offset;
    offset += raw.size();
    // Not trimmed on the left: an indented marker is a code example too.
    std::string line = raw.back() == '\n' ? raw.substr(0, raw.size() - 1) : raw;
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.rfind("```", 0) == 0) fenced = !fenced;
    if (fenced) continue;
    const std::string at = doc_name + ":" + std::to_string(number);
    if (line == kEnd) {
      if (!open) throw DataError(at + ": " + kEnd + " without a <!-- generated: BUNDLE/TABLE --> line before it");
      open->end = line_start;
      blocks.push_back(*open);
      open.reset();
      continue;
    }
    if (line.rfind(kOpen, 0) != 0) continue;
    if (open)
      throw DataError(at + ": a generated block opens inside the one opened on line " + std::to_string(open->line) +
                      " (expected " + kEnd + " first)");
    if (line.size() < kOpen.size() + kClose.size() || line.compare(line.size() - kClose.size(), kClose.size(), kClose))
      throw DataError(at + ": expected the marker to end with --> on the same line, found '" + line + "'");
    const std::string inner = line.substr(kOpen.size(), line.size() - kOpen.size() - kClose.size());
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t bar; (bar = inner.find('|', start)) != std::string::npos; start = bar + 1)
      parts.push_back(trim(inner.substr(start, bar - start)));
    parts.push_back(trim(inner.substr(start)));
    GeneratedBlock b;
    const std::size_t slash = parts[0].find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == parts[0].size() ||
        parts[0].find_first_of(" \t/", slash + 1) != std::string::npos)
      throw DataError(at + ": expected <!-- generated: BUNDLE/TABLE --> (optionally followed by | COLUMN ...), "
                           "found '" + line + "'");
    b.bundle = parts[0].substr(0, slash);
    b.table = parts[0].substr(slash + 1);
    for (std::size_t i = 1; i < parts.size(); ++i) {
      if (parts[i].empty()) throw DataError(at + ": empty column name in '" + line + "'");
      b.columns.push_back(parts[i]);
    }
    b.line = number;
    b.begin = offset;
    open = b;
  }
  if (open)
    throw DataError(doc_name + ":" + std::to_string(open->line) + ": generated block " + open->name() +
                    " is not closed (expected a line " + kEnd + ")");
  return blocks;
}

std::optional<LineDifference> first_difference(const std::string& committed, const std::string& generated) {
  if (committed == generated) return std::nullopt;
  const std::vector<std::string> a = lines_of(committed), b = lines_of(generated);
  auto strip = [](std::string s) {
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  };
  for (std::size_t i = 0;; ++i) {
    const bool has_a = i < a.size(), has_b = i < b.size();
    if (has_a && has_b && a[i] == b[i]) continue;
    return LineDifference{static_cast<int>(i + 1), has_a ? strip(a[i]) : "(nothing)",
                          has_b ? strip(b[i]) : "(nothing)"};
  }
}

}  // namespace sibp
