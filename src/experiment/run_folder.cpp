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
  if (name.size() <= std::strlen(kGenPrefix) || name.find_first_not_of("0123456789", std::strlen(kGenPrefix)) != std::string::npos)
    return -1;
  if (name.rfind(kGenPrefix, 0) != 0) return -1;
  try {
    return std::stoll(name.substr(std::strlen(kGenPrefix)));
  } catch (const std::exception&) {
    return -1;
  }
}

/// A temporary file of any sibp writer: an atomic file's `.NAME.tmp.*`, the
/// `.state.tmp.PID` link of a commit, or a plot's `.sibp-tmp-PID-*`.
bool is_temporary(const std::string& name) {
  return name.size() > 1 && name[0] == '.' &&
         (name.find(".tmp.") != std::string::npos || name.rfind(".sibp-tmp-", 0) == 0);
}

/// The generation folders of `dir` (".gen-N"), whatever `.state` says.
std::vector<fs::path> generations(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (generation_number(entry.path()) >= 0) out.push_back(entry.path().filename());
  return out;
}

/// Whether `name` is a file or folder a sibp run or experiment writes at the
/// top of its folder.
bool is_sibp_entry(const std::string& name) {
  if (name == kLock || name == "experiment.json" || is_temporary(name) || generation_number(name) >= 0) return true;
  for (const char* run_file : kRunFiles)
    if (name == run_file) return true;
  return false;
}

/// Throws UsageError if `dir` exists, is not empty and holds nothing a sibp
/// run writes: `--out /` or `--out ~` must not scatter run files (and a
/// `.lock`) among a user's own.
void refuse_foreign_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  std::vector<std::string> foreign;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (is_sibp_entry(name)) return;
    if (foreign.size() < 3) foreign.push_back("'" + name + "'");
  }
  if (foreign.empty()) return;
  std::string listed;
  for (const std::string& f : foreign) listed += (listed.empty() ? "" : ", ") + f;
  throw UsageError("output folder '" + dir.string() + "' is not empty and holds no sibp run (it holds " + listed +
                   (foreign.size() == 3 ? ", ..." : "") + "); use a new or empty folder for --out");
}

void fsync_path(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

fs::path committed_generation(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(dir / kState, ec))) return {};
  const fs::path target = fs::read_symlink(dir / kState, ec);
  // Only a link the run made: ".gen-N" in the folder itself, never a path
  // elsewhere (finish() removes what it points to).
  if (ec || target.has_parent_path() || generation_number(target) < 0) return {};
  const auto st = fs::symlink_status(dir / target, ec);
  return !ec && fs::is_directory(st) ? target : fs::path();
}

RunFolder::Content run_folder_content(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "result.json", ec)) return RunFolder::Content::Complete;
  if (!committed_generation(dir).empty()) return RunFolder::Content::Interrupted;
  for (const char* name : kRunFiles)
    if (fs::exists(fs::symlink_status(dir / name, ec))) return RunFolder::Content::Unusable;
  return RunFolder::Content::Empty;
}

RunFolder::RunFolder(const fs::path& dir) : dir_(dir) {
  refuse_foreign_folder(dir_);
  ensure_writable_dir(dir_);
  const fs::path lock = dir_ / kLock;
  // O_NOFOLLOW: a `.lock` link planted in the folder must not make the run
  // truncate and write the file it points to.
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (lock_fd_ < 0)
    throw DataError("cannot create the lock file '" + lock.string() + "': " +
                    (errno == ELOOP ? std::string("it is a symbolic link (sibp does not follow it; remove it)")
                                    : errno_text()));
  struct stat st {};
  if (::fstat(lock_fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw DataError("the lock file '" + lock.string() + "' is not a regular file; remove it");
  }
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
  // A killed writer leaves temporary files (of any writer: atomic files,
  // plots, links). Generations nobody links to are left to the next commit
  // or finish(), which replace them: removing them now, before the run is
  // checked, could destroy the only copy of a run whose .state link was lost.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const fs::path p = entry.path();
    if (is_temporary(p.filename().string())) fs::remove_all(p, ec);
    generation_ = std::max(generation_, generation_number(p));
  }
}

RunFolder::~RunFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

RunFolder::Content RunFolder::content() const { return run_folder_content(dir_); }

fs::path RunFolder::committed() const {
  const fs::path target = committed_generation(dir_);
  if (target.empty())
    throw DataError("'" + dir_.string() + "' holds no committed checkpoint (" + kState + " is missing or is not a link to a " +
                    kGenPrefix + "N folder)");
  return dir_ / target;
}

bool RunFolder::has_committed_generations() const {
  if (generations(dir_).empty()) return false;
  std::error_code ec;
  for (const char* name : kRunFiles) {
    const fs::path top = dir_ / name;
    if (fs::is_symlink(fs::symlink_status(top, ec)) && *fs::read_symlink(top, ec).begin() == kState) return true;
  }
  return false;
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
    const fs::path link = fs::path(kState) / file;
    if (fs::is_symlink(fs::symlink_status(top, ec)) && fs::read_symlink(top, ec) == link && !ec) continue;
    fs::remove(top, ec);  // a plain file of an earlier, finished layout, or a link planted elsewhere
    fs::create_symlink(link, top, ec);
    if (ec) throw DataError("cannot create the link '" + top.string() + "': " + ec.message());
  }
  fsync_path(dir_, O_RDONLY | O_DIRECTORY);
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (is_generation(entry.path()) && entry.path().filename() != name) fs::remove_all(entry.path(), ec);
}

void RunFolder::finish() {
  std::error_code ec;
  const fs::path target = committed_generation(dir_);
  if (target.empty()) return;  // nothing was committed
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
  // The committed generation, and any a killed commit left beside it.
  for (const auto& entry : fs::directory_iterator(dir_, ec))
    if (is_generation(entry.path())) fs::remove_all(entry.path(), ec);
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
