#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.hpp"

namespace sibp {
namespace fs = std::filesystem;

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

void write_file_atomic(const fs::path& path, std::string_view contents) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  // The writer's PID in the name lets a later writer tell a temporary left
  // by a killed process from one being written (remove_dead_temporaries).
  std::string tmpl =
      (dir / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0)
    throw DataError("cannot write '" + path.string() + "': cannot create a temporary file in '" +
                    dir.string() + "': " + errno_text());
  const char* p = contents.data();
  std::size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = errno_text();
      ::close(fd);
      ::unlink(tmpl.c_str());
      throw DataError("cannot write '" + path.string() + "': " + why);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  // Readable by others like a file made with the default umask.
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(tmpl.c_str());
    throw DataError("cannot write '" + path.string() + "': " + why);
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmpl.c_str());
    throw DataError("cannot write '" + path.string() + "': rename failed: " + why);
  }
}

namespace {

/// Why a file of this mode cannot be read as data, or "" for a regular file.
std::string not_regular_reason(mode_t mode) {
  if (S_ISREG(mode)) return "";
  if (S_ISDIR(mode)) return "is a directory";
  const char* kind = S_ISFIFO(mode)   ? "FIFO"
                     : S_ISCHR(mode)  ? "character device"
                     : S_ISBLK(mode)  ? "block device"
                     : S_ISSOCK(mode) ? "socket"
                                      : "special file";
  return std::string("is not a regular file (") + kind + ")";
}

}  // namespace

InputFile::InputFile(const fs::path& path, std::uint64_t max_bytes) : path_(path), max_bytes_(max_bytes) {
  const auto fail = [&](const std::string& why) { throw DataError("cannot read '" + path.string() + "': " + why); };
  const auto too_large = [&](std::uint64_t size) {
    fail("is " + std::to_string(size) + " bytes, more than the " + std::to_string(max_bytes) +
         " bytes this reader accepts");
  };
  // stat before open: opening a FIFO blocks until a writer appears, and a
  // device such as /dev/zero never ends.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(errno == ENOENT ? "no such file" : errno_text());
  if (const std::string why = not_regular_reason(st.st_mode); !why.empty()) fail(why);
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) too_large(static_cast<std::uint64_t>(st.st_size));
  // O_NONBLOCK: should the path have become a FIFO since the stat, open
  // returns at once and the fstat below refuses it.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) fail(errno == ENOENT ? "no such file" : errno_text());
  if (::fstat(fd_, &st) != 0) {
    const std::string why = errno_text();
    ::close(fd_);
    fail(why);
  }
  const std::string why = not_regular_reason(st.st_mode);
  size_ = static_cast<std::uint64_t>(st.st_size);
  if (!why.empty() || size_ > max_bytes) {
    ::close(fd_);
    if (!why.empty()) fail(why);
    too_large(size_);
  }
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t InputFile::read(void* dst, std::size_t n) {
  auto* p = static_cast<char*>(dst);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd_, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw DataError("cannot read '" + path_.string() + "': " + errno_text());
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  read_ += got;
  return got;
}

std::string InputFile::read_rest() {
  std::string out;
  // The size from fstat, plus one byte to notice a file that has grown (at
  // least 4 KiB: files under /proc report a size of 0).
  const std::uint64_t expected = size_ > read_ ? size_ - read_ : 0;
  out.resize(static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::uint64_t>(expected + 1, 4096),
                                                              max_bytes_ + 1)));
  std::size_t have = read(out.data(), out.size());
  while (have == out.size()) {
    if (read_ > max_bytes_)
      throw DataError("cannot read '" + path_.string() + "': grew beyond the " + std::to_string(max_bytes_) +
                      " bytes this reader accepts while it was read");
    out.resize(std::min<std::uint64_t>(2 * out.size(), max_bytes_ + 1));
    have += read(out.data() + have, out.size() - have);
  }
  out.resize(have);
  return out;
}

std::string read_file(const fs::path& path, std::uint64_t max_bytes) {
  InputFile in(path, max_bytes);
  return in.read_rest();
}

namespace {

/// The PID in a temporary name of a sibp writer (".NAME.tmp.PID.XXXXXX" or
/// ".sibp-tmp-PID-NAME"), or 0 if `name` is not one.
long temporary_owner(const std::string& name) {
  std::size_t at = std::string::npos;
  if (name.rfind(".sibp-tmp-", 0) == 0)
    at = std::strlen(".sibp-tmp-");
  else if (name.size() > 1 && name[0] == '.' && name.rfind(".tmp.") != std::string::npos)
    at = name.rfind(".tmp.") + 5;
  if (at == std::string::npos) return 0;
  // The PID is followed by '.' or '-' (what mkstemp or the plot name adds).
  const std::size_t end = name.find_first_not_of("0123456789", at);
  if (end == at || end == std::string::npos || end - at > 9) return 0;
  return std::stol(name.substr(at, end - at));
}

}  // namespace

int remove_dead_temporaries(const fs::path& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const long pid = temporary_owner(entry.path().filename().string());
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to ask)
    std::error_code rm;
    if (fs::remove(entry.path(), rm)) ++removed;  // a link itself, never what it points to
  }
  return removed;
}

void ensure_writable_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw DataError("cannot create output folder '" + dir.string() + "': " + ec.message());
  if (!fs::is_directory(dir))
    throw DataError("output path '" + dir.string() + "' exists and is not a folder");
  if (::access(dir.c_str(), W_OK) != 0)
    throw DataError("output folder '" + dir.string() + "' is not writable: " + errno_text());
}

}  // namespace sibp
