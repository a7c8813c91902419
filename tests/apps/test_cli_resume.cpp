// The run lifecycle seen from outside: one writer per output folder, refusing
// to overwrite a run silently, --overwrite, and --resume after `kill -9` at
// random points ending bit-identical to an uninterrupted run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

extern char** environ;

namespace sibp {
namespace {
using namespace testing::names;

/// `sibp ARGS...` as a child process (output discarded).
pid_t spawn_sibp(const std::vector<std::string>& args) {
  std::vector<std::string> argv{testing::sibp_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c;
  for (std::string& a : argv) c.push_back(a.data());
  c.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, testing::sibp_binary(), &actions, nullptr, c.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

/// Waits for `pid`; its exit code, or -signal.
int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

/// metrics.csv without the wall-clock `seconds` column, which no two runs share.
std::string metrics_without_seconds(const fs::path& dir) {
  std::istringstream in(slurp(dir / "metrics.csv"));
  std::string line, out;
  while (std::getline(in, line)) {
    const std::size_t a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    out += line.substr(0, b) + line.substr(c) + "\n";
  }
  return out;
}

class CliResume : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = write_blob_split(dir_, 1500, 200);
  }
  std::vector<std::string> args(const std::string& out, const std::string& algo) const {
    std::vector<std::string> a{"train", "--data", data_, "--layers", "4-32-32-3", "--epochs", "3",
                               "--batch", "10", "--eval-every", "7", "--seed", "5", "--threads", "1",
                               "--out", (dir_ / out).string()};
    std::istringstream words(algo);
    for (std::string w; words >> w;) a.push_back(w);
    return a;
  }
  std::string command(const std::vector<std::string>& a) const {
    std::string s;
    for (std::size_t i = 1; i < a.size(); ++i) s += (i > 1 ? " '" : "'") + a[i] + "'";
    return a[0] + " " + s;
  }
  testing::TempDir dir_;
  std::string data_;
};

TEST_F(CliResume, KilledRunsResumeBitIdentical) {
  const std::vector<std::string> algos = {"--algo sgd --lr 0.2 --momentum 0.9", "--algo adam --lr 0.01",
                                          "--algo sibp --eta 0.5", "--algo proxprop --lr 1 --momentum 0.9"};
  std::mt19937 gen(20261201);
  int kills = 0;
  for (std::size_t a = 0; a < algos.size(); ++a) {
    SCOPED_TRACE(algos[a]);
    const std::string ref = "ref" + std::to_string(a), cut = "cut" + std::to_string(a);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(wait_for(spawn_sibp(args(ref, algos[a]))), 0);
    const double run_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::uniform_real_distribution<double> when(0.05 * run_ms, 0.95 * run_ms);
    for (int k = 0; k < 5; ++k) {
      const pid_t pid = spawn_sibp(args(cut, algos[a] + " --overwrite"));
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(when(gen)));
      if (kill(pid, SIGKILL) == 0) ++kills;
      wait_for(pid);
      // Killed before its first checkpoint there is nothing to resume (exit 2); else it continues.
      const int rc = wait_for(spawn_sibp({"train", "--resume", "--out", (dir_ / cut).string()}));
      if (rc == 2) {
        ASSERT_EQ(wait_for(spawn_sibp(args(cut, algos[a] + " --overwrite"))), 0);
      } else {
        ASSERT_EQ(rc, 0);
      }
      EXPECT_EQ(slurp(dir_ / ref / "model.safetensors"), slurp(dir_ / cut / "model.safetensors")) << "kill " << k;
      EXPECT_EQ(metrics_without_seconds(dir_ / ref), metrics_without_seconds(dir_ / cut)) << "kill " << k;
      EXPECT_EQ(slurp(dir_ / ref / "metrics.json").size() > 0, true);
      // Finished folders hold plain files only: no links, generations or temporaries.
      for (const auto& e : fs::directory_iterator(dir_ / cut)) {
        const std::string name = e.path().filename().string();
        EXPECT_FALSE(fs::is_symlink(e.symlink_status())) << name;
        EXPECT_TRUE(name == ".lock" || name[0] != '.') << name;
      }
    }
  }
  EXPECT_GE(kills, 20);
}

TEST_F(CliResume, OneWriterPerFolderAndNoSilentOverwrite) {
  const std::vector<std::string> slow = args("run", "--algo sibp --eta 0.5 --epochs 20");
  const pid_t pid = spawn_sibp(slow);
  // Wait until the first writer has its config and lock (up to 60 s: under a
  // heavily loaded CI machine the process can take seconds to start).
  for (int i = 0; i < 6000 && !fs::exists(dir_ / "run" / "config.json"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(dir_ / "run" / "config.json")) << "the first writer did not start within 60 s";
  const auto second = run_sibp(command(args("run", "--algo sgd")));
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("being written by another sibp process (PID " + std::to_string(pid)), std::string::npos)
      << second.err;
  kill(pid, SIGKILL);
  wait_for(pid);
  // The interrupted run is neither restarted nor overwritten without asking.
  const auto again = run_sibp(command(args("run", "--algo sgd")));
  EXPECT_EQ(again.exit_code, 2) << again.err;
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--overwrite"), std::string::npos) << again.err;
  // Resuming with other options is refused, naming the option.
  const auto changed = run_sibp("train --resume --eta 0.7 --out '" + (dir_ / "run").string() + "'");
  EXPECT_EQ(changed.exit_code, 2) << changed.err;
  EXPECT_NE(changed.err.find("eta"), std::string::npos) << changed.err;
  // --overwrite starts over; a finished run is then refused too.
  ASSERT_EQ(run_sibp(command(args("run", "--algo sgd --overwrite"))).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "run" / "config.json"))["algo"], "sgd");
  const auto finished = run_sibp(command(args("run", "--algo sgd")));
  EXPECT_EQ(finished.exit_code, 2);
  EXPECT_NE(finished.err.find("already holds a finished run"), std::string::npos) << finished.err;
  // --resume of a finished run changes nothing.
  const std::string model = slurp(dir_ / "run" / "model.safetensors");
  const auto resumed = run_sibp("train --resume --out '" + (dir_ / "run").string() + "'");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(slurp(dir_ / "run" / "model.safetensors"), model);
  // Nothing to resume in an empty folder; --resume and --overwrite exclude each other.
  EXPECT_EQ(run_sibp("train --resume --out '" + (dir_ / "empty").string() + "'").exit_code, 2);
  EXPECT_EQ(run_sibp("train --resume --overwrite --out '" + (dir_ / "run").string() + "'").exit_code, 2);
}

TEST_F(CliResume, TemporariesOfAKilledWriterAreRemoved) {
  fs::create_directories(dir_ / "run");
  testing::write_bytes(dir_ / "run" / ".metrics.csv.tmp.AbC123", "half");
  fs::create_directories(dir_ / "run" / ".gen-7");
  testing::write_bytes(dir_ / "run" / "notes.txt", "mine");
  ASSERT_EQ(run_sibp(command(args("run", "--algo sgd --overwrite"))).exit_code, 0);
  EXPECT_FALSE(fs::exists(dir_ / "run" / ".metrics.csv.tmp.AbC123"));
  EXPECT_FALSE(fs::exists(dir_ / "run" / ".gen-7"));
  EXPECT_EQ(slurp(dir_ / "run" / "notes.txt"), "mine");  // not a run file: left alone
}

}  // namespace
}  // namespace sibp
