#pragma once
/// A fresh private folder under the system temp dir for intermediate files
/// (a download being checked, a results bundle being unpacked), removed
/// with its contents when the object goes out of scope.
#include <filesystem>
#include <string>

namespace sibp {

class ScratchDir {
 public:
  /// Creates TMPDIR/`prefix`XXXXXX (mkdtemp). Throws DataError naming the
  /// template if it cannot be created.
  explicit ScratchDir(const std::string& prefix = "sibp-");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sibp
