#pragma once
/// Whole-file I/O: atomic writes (a reader never sees a half-written
/// checkpoint or metrics file, even if the process is killed mid-write) and
/// bounded reads of user-given paths (a FIFO, a directory or a device such
/// as /dev/zero is refused before it is opened, so a reader neither hangs
/// nor reads forever).
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace sibp {

/// The size read_file accepts unless told otherwise: far above any metrics,
/// configuration or result file, far below the memory of the machine.
inline constexpr std::uint64_t kDefaultReadLimit = std::uint64_t{256} << 20;

/// Writes `contents` to `path` by writing a temporary file in the same
/// folder (".NAME.tmp.PID.XXXXXX", created exclusively: never through a
/// planted link), flushing it to disk and renaming it over `path` (which
/// replaces a link at `path` instead of writing through it).
/// Throws DataError naming the path if any step fails; `path` is then
/// untouched.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

/// A regular file opened for reading (read-only, close-on-exec).
///
/// Requires nothing of `path`; ensures, once constructed, that the open
/// descriptor is a regular file (checked with stat before opening and with
/// fstat after, so a path swapped for a FIFO in between is caught too: it is
/// opened non-blocking) of at most `max_bytes` bytes.
/// Throws DataError "cannot read 'PATH': WHY" where WHY is "no such file",
/// "is a directory", "is not a regular file (FIFO)" (or character device,
/// block device, socket), "is N bytes, more than the M bytes this reader
/// accepts", or the system's reason.
class InputFile {
 public:
  InputFile(const std::filesystem::path& path, std::uint64_t max_bytes);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// The size fstat reported when the file was opened.
  std::uint64_t size() const { return size_; }
  /// Reads up to n bytes; returns how many were read (fewer only at the end
  /// of the file). Throws DataError naming the path on a read error.
  std::size_t read(void* dst, std::size_t n);
  /// The rest of the file. Throws DataError naming the path if it has grown
  /// beyond `max_bytes` since it was opened.
  std::string read_rest();

 private:
  std::filesystem::path path_;
  std::uint64_t max_bytes_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t read_ = 0;
  int fd_ = -1;
};

/// Reads a whole regular file of at most `max_bytes` bytes.
/// Throws DataError naming the path as InputFile does.
std::string read_file(const std::filesystem::path& path, std::uint64_t max_bytes = kDefaultReadLimit);

/// Removes the temporary files in `dir` (not below) that sibp writers whose
/// process no longer exists left behind: write_file_atomic's
/// ".NAME.tmp.PID.XXXXXX" and the plots' ".sibp-tmp-PID-NAME". Temporaries of
/// live processes (a concurrent writer) stay. Returns how many were removed.
int remove_dead_temporaries(const std::filesystem::path& dir);

/// Creates `dir` (and parents) and checks that a file can be written in it.
/// Throws DataError naming the folder otherwise.
void ensure_writable_dir(const std::filesystem::path& dir);

}  // namespace sibp
