#pragma once
/// Reading and writing SIBP golden-vector cases (one step of the authors'
/// code): the folder format of tests/fixtures/sibp-reference/case_*/.
///
/// A case folder holds manifest.json (keys "layers" [d0..dL], "eta",
/// "lambda" (number, or one per layer), "files": [{name, shape [rows, cols],
/// dtype "<f8", order "F"}]) and raw little-endian float64 column-major
/// files: X.bin (d0, m), Y.bin (dL, m), W{l}_before.bin (d_l, d_{l-1}),
/// b{l}_before.bin (d_l, 1) for l = 1..L, optionally W{l}_after / b{l}_after
/// and intermediate/ files.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.hpp"

namespace sibp {

/// One array listed in a manifest.
struct ReferenceFileEntry {
  std::string name;  ///< path relative to the case folder, e.g. "intermediate/F2_target.bin"
  Index rows = 0, cols = 0;
};

/// A case folder, with its inputs read and validated.
struct ReferenceCase {
  std::filesystem::path dir;
  nlohmann::json manifest;
  std::vector<Index> layers;   ///< d_0 .. d_L
  double eta = 0;
  std::vector<double> lambda;  ///< one value, or one per layer
  Mat<double> X;               ///< (d0, m)
  Mat<double> Y;               ///< (dL, m)
  std::vector<Mat<double>> W_before;  ///< W_before[l-1] = W_l, (d_l, d_{l-1})
  std::vector<Vec<double>> b_before;  ///< (d_l)
  std::map<std::string, ReferenceFileEntry> files;  ///< every manifest entry, by name

  std::size_t num_layers() const { return layers.size() - 1; }
  bool has_file(const std::string& name) const { return files.count(name) > 0; }
  /// True if W{l}_after.bin and b{l}_after.bin are listed for every l.
  bool has_after() const;
  /// Reads a listed array. Throws DataError naming the file if it is not
  /// listed, missing, or its size is not rows*cols*8 bytes.
  Mat<double> load(const std::string& name) const;
};

/// Validates a parsed manifest of the case folder `dir` and fills layers,
/// eta, lambda and files (no array is read: X, Y, W_before, b_before stay
/// empty). Throws DataError naming `dir`/manifest.json and the field as
/// read_reference_case does.
ReferenceCase parse_reference_manifest(const std::filesystem::path& dir, nlohmann::json manifest);

/// Reads `dir`/manifest.json and the inputs (X, Y, W*_before, b*_before).
/// Throws DataError naming the file and the field for: a missing or
/// malformed manifest, a missing key, dtype other than "<f8", order other
/// than "F", a missing file, a size ≠ rows*cols*8, shapes inconsistent with
/// "layers".
ReferenceCase read_reference_case(const std::filesystem::path& dir);

/// Largest raw array read_raw_f64 accepts (1 GiB: 134 million float64).
inline constexpr std::uint64_t kMaxRawBytes = std::uint64_t{1} << 30;

/// Reads one raw column-major float64 file of `rows`×`cols`. Throws DataError
/// naming the path, the expected and the found size (or that it is a folder,
/// FIFO or device, or that rows*cols*8 exceeds kMaxRawBytes).
Mat<double> read_raw_f64(const std::filesystem::path& path, Index rows, Index cols);

/// Writes a case's results to `out_dir` (created if needed), each file
/// atomically: W{l}_after.bin, b{l}_after.bin, intermediate/F{l+1}_target.bin
/// for every given target (targets[i] = T_{i+1}, i = 0..L-1; may be empty), and a
/// manifest.json of the same format with `input`'s layers, eta, lambda and
/// `extra` keys merged in. Throws DataError naming the path on failure.
void write_reference_result(const std::filesystem::path& out_dir, const ReferenceCase& input,
                            const std::vector<Mat<double>>& W_after, const std::vector<Vec<double>>& b_after,
                            const std::vector<Mat<double>>& targets, const nlohmann::json& extra);

}  // namespace sibp
