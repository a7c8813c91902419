#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace sibp {
namespace fs = std::filesystem;

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

void write_file_atomic(const fs::path& path, std::string_view contents) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
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

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot read '" + path.string() + "': " + errno_text());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw DataError("cannot read '" + path.string() + "': read error");
  return ss.str();
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
