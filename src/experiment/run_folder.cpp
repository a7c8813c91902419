#include "experiment/run_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"

namespace sibp {
namespace fs = std::filesystem;

namespace {

constexpr const char* kLock = ".lock";
constexpr const char* kState = ".state";
constexpr const char* kGenPrefix = ".gen-";
/// The files a run writes besides generations (removed by clear()).
const char* const kRunFiles[] = {"config.json", "result.json", "metrics.csv", "metrics.json", "model.safetensors",
                                 "diagnostics.json", kState};

std::string errno_text() { return std::strerror(errno); }

bool is_generation(const fs::path& p) { return p.filename().string().rfind(kGenPrefix, 0) == 0; }

/// The generation number of ".gen-N", or -1.
long long generation_number(const fs::path& p) {
  const std::string name = p.filename().string();
  if (name.rfind(kGenPrefix, 0) != 0) return -1;
  try {
    return std::stoll(name.substr(std::strlen(kGenPrefix)));
  } catch (const std::exception&) {
    return -1;
  }
}

void fsync_path(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

RunFolder::Content run_folder_content(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "result.json", ec)) return RunFolder::Content::Complete;
  if (fs::is_directory(dir / kState, ec)) return RunFolder::Content::Interrupted;
  for (const char* name : kRunFiles)
    if (fs::exists(fs::symlink_status(dir / name, ec))) return RunFolder::Content::Unusable;
  return RunFolder::Content::Empty;
}

RunFolder::RunFolder(const fs::path& dir) : dir_(dir) {
  ensure_writable_dir(dir_);
  const fs::path lock = dir_ / kLock;
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw DataError("cannot create the lock file '" + lock.string() + "': " + errno_text());
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(lock_fd_, buf, sizeof buf - 1, 0);
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      const std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("?");
      throw FolderLockedError("output folder '" + dir_.string() + "' is being written by another sibp process (PID " +
                              pid.substr(0, pid.find_first_of("\n ")) + "); wait for it or use another --out");
    }
    throw DataError("cannot lock the output folder '" + dir_.string() + "': " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    // The lock holds without the PID; only the message of a second writer suffers.
  }
  // A killed writer leaves temporary files and generations nobody links to.
  std::error_code ec;
  const fs::path current = fs::read_symlink(dir_ / kState, ec);
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const fs::path p = entry.path();
    const std::string name = p.filename().string();
    const bool temporary = name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos;
    if (temporary || (is_generation(p) && p.filename() != current)) fs::remove_all(p, ec);
    generation_ = std::max(generation_, generation_number(p));
  }
}

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

RunFolder::Content RunFolder::content() const { return run_folder_content(dir_); }

fs::path RunFolder::committed() const {
  std::error_code ec;
  const fs::path target = fs::read_symlink(dir_ / kState, ec);
  if (ec) throw DataError("'" + dir_.string() + "' holds no committed checkpoint (" + kState + ")");
  return dir_ / target;
}

void RunFolder::clear() {
  std::error_code ec;
  for (const char* name : kRunFiles) fs::remove(dir_ / name, ec);
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (is_generation(entry.path())) fs::remove_all(entry.path(), ec);
}

void RunFolder::commit(const std::vector<std::pair<std::string, std::string>>& files,
                       const std::vector<std::string>& linked) {
  const std::string name = kGenPrefix + std::to_string(++generation_);
  const fs::path gen = dir_ / name;
  std::error_code ec;
  fs::remove_all(gen, ec);
  if (!fs::create_directory(gen, ec) || ec)
    throw DataError("cannot create '" + gen.string() + "': " + (ec ? ec.message() : std::string("exists")));
  try {
    for (const auto& [file, bytes] : files) write_file_atomic(gen / file, bytes);
  } catch (...) {
    fs::remove_all(gen, ec);
    throw;
  }
  fsync_path(gen, O_RDONLY | O_DIRECTORY);
  // The new link under a temporary name, then one rename over the old link.
  const fs::path tmp = dir_ / (std::string(".state.tmp.") + std::to_string(::getpid()));
  fs::remove(tmp, ec);
  fs::create_directory_symlink(name, tmp, ec);
  if (ec || ::rename(tmp.c_str(), (dir_ / kState).c_str()) != 0) {
    const std::string why = ec ? ec.message() : errno_text();
    fs::remove(tmp, ec);
    fs::remove_all(gen, ec);
    throw DataError("cannot commit a checkpoint in '" + dir_.string() + "': " + why);
  }
  for (const std::string& file : linked) {
    const fs::path top = dir_ / file;
    if (fs::is_symlink(fs::symlink_status(top, ec))) continue;
    fs::remove(top, ec);  // a plain file of an earlier, finished layout
    fs::create_symlink(fs::path(kState) / file, top, ec);
    if (ec) throw DataError("cannot create the link '" + top.string() + "': " + ec.message());
  }
  fsync_path(dir_, O_RDONLY | O_DIRECTORY);
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (is_generation(entry.path()) && entry.path().filename() != name) fs::remove_all(entry.path(), ec);
}

void RunFolder::finish() {
  std::error_code ec;
  const fs::path target = fs::read_symlink(dir_ / kState, ec);
  if (ec) return;  // nothing was committed
  const fs::path gen = dir_ / target;
  // Each link is replaced by the file it points to, one rename each: at every
  // instant every name still shows the same, last generation.
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const fs::path top = entry.path();
    if (!fs::is_symlink(fs::symlink_status(top, ec)) || top.filename() == kState) continue;
    const fs::path file = gen / top.filename();
    if (fs::exists(file) && ::rename(file.c_str(), top.c_str()) != 0)
      throw DataError("cannot finish '" + top.string() + "': " + errno_text());
  }
  fs::remove(dir_ / kState, ec);
  fs::remove_all(gen, ec);
  fsync_path(dir_, O_RDONLY | O_DIRECTORY);
}

nlohmann::json read_run_config(const fs::path& dir) {
  const fs::path file = dir / "config.json";
  nlohmann::json j = read_json_file(file);
  if (!j.is_object()) throw DataError(file.string() + ": expected a JSON object of run options");
  for (const char* drop : {"software", "data_shape"}) j.erase(drop);
  return j;
}

}  // namespace sibp
