#pragma once
/// Reader for labelled CSV data: one sample per line, the first field an
/// integer class label >= 0, the other fields numeric features.
///
/// A header line is optional: the first line is taken as a header when its
/// first field is not a number. A UTF-8 byte order mark at the start of the
/// file is skipped. Fields may be surrounded by spaces; blank lines are
/// skipped; CRLF line ends are accepted. Features are kept as float.
#include <cstdint>
#include <filesystem>
#include <string>

#include "data/dataset.hpp"

namespace sibp {

/// Largest class label a CSV may hold (labels are stored as uint8).
inline constexpr int kCsvMaxLabel = 255;

/// Largest CSV file read_csv accepts (the whole file is read into memory).
inline constexpr std::uint64_t kCsvMaxBytes = std::uint64_t{2} << 30;

/// Reads a CSV file as a float data set with C = max label + 1 classes.
/// Throws DataError naming the file if it is not a regular file (a folder,
/// FIFO or device) or is larger than kCsvMaxBytes; naming file:line (and :column, counted from 1, when one
/// field is at fault) for: a row whose field count differs from the first
/// row's, a field that is not a number, a NaN or infinite feature (or one
/// beyond float range), a label that is negative, not an integer or > 255,
/// a row with no feature column, and a file with no data rows.
Dataset read_csv(const std::filesystem::path& path, std::string name);

}  // namespace sibp
