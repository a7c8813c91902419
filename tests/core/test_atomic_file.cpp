// Atomic writes: a reader sees the old file or the new one, never a partial
// one, and no temporary file is left behind (DESIGN.md "Habits").
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "expect_error.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
namespace fs = std::filesystem;
using sibp::testing::TempDir;

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AtomicFile, WritesContentsAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string contents("line 1\nline 2\n\0binary", 21);
  write_file_atomic(dir / "metrics.csv", contents);
  EXPECT_EQ(read_file(dir / "metrics.csv"), contents);
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"metrics.csv"});
  write_file_atomic(dir / "empty", "");
  EXPECT_EQ(read_file(dir / "empty"), "");
  EXPECT_EQ(entries(dir.path()), (std::vector<std::string>{"empty", "metrics.csv"}));
}

TEST(AtomicFile, ReplacesByRenameNotInPlace) {
  // A reader that opened the old file keeps reading the old contents: the
  // new file is a different inode renamed over the name, so no reader ever
  // sees a truncated or half-written file.
  TempDir dir;
  const fs::path p = dir / "checkpoint.json";
  write_file_atomic(p, "old contents");
  const int fd = ::open(p.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  write_file_atomic(p, "new");
  char buf[64] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  ::close(fd);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "old contents");
  EXPECT_EQ(read_file(p), "new");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"checkpoint.json"});
}

TEST(AtomicFile, WritesAPathWithoutFolder) {
  TempDir dir;
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  write_file_atomic("plain.txt", "x");
  fs::current_path(cwd);
  EXPECT_EQ(read_file(dir / "plain.txt"), "x");
}

TEST(AtomicFile, UnwritableLocationThrowsDataErrorNamingThePath) {
  // Tests run as root, which may write anywhere; a path *under a regular
  // file* is unwritable for everyone.
  TempDir dir;
  sibp::testing::write_bytes(dir / "FILE", "keep me");
  const fs::path bad = dir / "FILE" / "child.csv";
  try {
    write_file_atomic(bad, "data");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(dir / "FILE"), "keep me");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"FILE"});
}

TEST(AtomicFile, ReadMissingFileThrowsDataErrorNamingThePath) {
  TempDir dir;
  try {
    read_file(dir / "nope.bin");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.bin"), std::string::npos) << e.what();
  }
}

// Reading a user-given path: only a regular file is read, and only up to a
// limit. A FIFO would block until a writer appears; /dev/zero never ends.

TEST(ReadFile, RefusesADirectoryNamingIt) {
  TempDir dir;
  testing::expect_mentions(testing::error_message<DataError>([&] { read_file(dir.path()); }),
                           {"'" + dir.path().string() + "'", "is a directory"});
}

TEST(ReadFile, RefusesAFifoWithoutBlocking) {
  TempDir dir;
  testing::expect_fifo_refused(dir / "metrics.csv", [&] { read_file(dir / "metrics.csv"); });
}

TEST(ReadFile, RefusesADeviceInsteadOfReadingForever) {
  testing::expect_mentions(testing::error_message<DataError>([] { read_file("/dev/zero"); }),
                           {"/dev/zero", "is not a regular file (character device)"});
  // Through a symbolic link too: the file's own type counts, not the link's.
  TempDir dir;
  fs::create_symlink("/dev/zero", dir / "data.csv");
  testing::expect_mentions(testing::error_message<DataError>([&] { read_file(dir / "data.csv"); }),
                           {(dir / "data.csv").string(), "character device"});
}

TEST(ReadFile, RefusesAFileLargerThanTheLimitBeforeReadingIt) {
  TempDir dir;
  sibp::testing::write_bytes(dir / "big", std::string(1000, 'x'));
  testing::expect_mentions(testing::error_message<DataError>([&] { read_file(dir / "big", 999); }),
                           {(dir / "big").string(), "is 1000 bytes, more than the 999 bytes"});
  EXPECT_EQ(read_file(dir / "big", 1000).size(), 1000u);
}

TEST(InputFile, ReadsInPiecesAndReportsTheSize) {
  TempDir dir;
  sibp::testing::write_bytes(dir / "f", "abcdefgh");
  InputFile in(dir / "f", 100);
  EXPECT_EQ(in.size(), 8u);
  char buf[3];
  ASSERT_EQ(in.read(buf, 3), 3u);
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_EQ(in.read_rest(), "defgh");
  EXPECT_EQ(in.read(buf, 3), 0u);
}

TEST(AtomicFile, EnsureWritableDirCreatesParentsAndRejectsFiles) {
  TempDir dir;
  ensure_writable_dir(dir / "a" / "b" / "c");
  EXPECT_TRUE(fs::is_directory(dir / "a" / "b" / "c"));
  ensure_writable_dir(dir / "a");  // existing folder is fine
  sibp::testing::write_bytes(dir / "file", "x");
  EXPECT_THROW(ensure_writable_dir(dir / "file"), DataError);
  EXPECT_THROW(ensure_writable_dir(dir / "file" / "sub"), DataError);
}

TEST(DeadTemporaries, OnlyThoseOfDeadWritersAreRemoved) {
  testing::TempDir dir;
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // a PID that no process has now (reused only after a wrap-around)
  const std::string dead = std::to_string(child), alive = std::to_string(getppid());
  for (const std::string& name : {".sibp-tmp-" + dead + "-loss.svg", ".a.csv.tmp." + dead + ".Ab12Cd",
                                  ".sibp-tmp-" + alive + "-loss.png", ".b.csv.tmp." + alive + ".Ab12Cd",
                                  "keep.tmp." + dead + ".x"})
    testing::write_bytes(dir / name, "x");
  EXPECT_EQ(remove_dead_temporaries(dir.path()), 2);
  EXPECT_FALSE(std::filesystem::exists(dir / (".sibp-tmp-" + dead + "-loss.svg")));
  EXPECT_FALSE(std::filesystem::exists(dir / (".a.csv.tmp." + dead + ".Ab12Cd")));
  EXPECT_TRUE(std::filesystem::exists(dir / (".sibp-tmp-" + alive + "-loss.png")));
  EXPECT_TRUE(std::filesystem::exists(dir / (".b.csv.tmp." + alive + ".Ab12Cd")));
  EXPECT_TRUE(std::filesystem::exists(dir / ("keep.tmp." + dead + ".x")));
}

}  // namespace
}  // namespace sibp
