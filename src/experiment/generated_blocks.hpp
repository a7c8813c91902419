#pragma once
/// Tables of generated reports spliced into hand-written documents.
///
/// A generated report's tables are named by the heading above them: the
/// heading's text in lower case, every run of other characters than letters
/// and digits turned into one '-' ("## Data: `mnist`" gives `data-mnist`,
/// "### sgd lr (lr)" gives `sgd-lr-lr`); a second or later table under the
/// same heading gets "-2", "-3", ... appended.
///
/// A document shows one of them between two marker lines:
///
///     <!-- generated: BUNDLE/TABLE -->
///     | ... the table, rewritten by `sibp results regenerate` ... |
///     <!-- end generated -->
///
/// (each marker a line of its own, starting in the first column: indented
/// or fenced markers are examples in code blocks and left alone), where
/// BUNDLE is the bundle's file name without .json.gz
/// (docs/data/results/BUNDLE.json.gz). To show only some columns, list
/// their header texts after the name, each after a '|':
///
///     <!-- generated: quick-mnist/data-mnist | run | final test acc (%) | s/epoch -->
#include <optional>
#include <string>
#include <vector>

namespace sibp {

/// A table of a generated Markdown report.
struct NamedTable {
  std::string id;    ///< heading slug, "-N" for the N-th table under one heading
  std::string text;  ///< the table's lines, each ending in '\n'
};

/// The slug of a heading's text (see above).
std::string heading_slug(const std::string& heading);

/// The tables of `markdown` (runs of lines starting with '|'), in order.
std::vector<NamedTable> markdown_tables(const std::string& markdown);

/// `table` (Markdown, as NamedTable::text) with only `columns`, in that order,
/// matched against the header cells. Throws DataError "WHERE: no column
/// 'X' in table T (its columns: ...)" for a name the header does not have.
std::string select_columns(const std::string& table, const std::vector<std::string>& columns,
                           const std::string& where);

/// A marked block of a document.
struct GeneratedBlock {
  std::string bundle, table;          ///< what the marker names
  std::vector<std::string> columns;   ///< empty: every column
  int line = 0;                       ///< 1-based line of the opening marker
  std::size_t begin = 0, end = 0;     ///< byte range of the content (between the marker lines)
  std::string name() const { return bundle + "/" + table; }
};

/// The blocks of `doc`. Throws DataError naming `doc_name`:LINE for a
/// malformed marker, an opening marker inside a block, an end marker
/// without an opening one, or a block that is not closed.
std::vector<GeneratedBlock> find_generated_blocks(const std::string& doc, const std::string& doc_name);

/// The first line where `committed` and `generated` differ:
/// (1-based line, committed line, generated line), a missing line shown as
/// "(nothing)"; nullopt when they are equal.
struct LineDifference {
  int line = 0;
  std::string committed, generated;
};
std::optional<LineDifference> first_difference(const std::string& committed, const std::string& generated);

}  // namespace sibp
