// --resume trusts nothing in the folder (issue 21): a checkpoint proves which
// run, data and files it belongs to, every field is range-checked before
// anything is restored, and any mismatch is refused with exit 1 naming the
// file and the field, leaving the folder as it was. Also the run folder's
// defences: a planted .lock link, a foreign --out, a .state link that is
// missing or points elsewhere, leftover temporaries.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "experiment/run_digest.hpp"
#include "experiment/training_run.hpp"
#include "io/safetensors.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

/// The options of every run here as command-line pairs (also read through the
/// option table for the library run, exactly as `sibp train` reads them).
std::vector<std::pair<std::string, std::string>> run_args(const std::string& data) {
  return {{"data", data},   {"layers", "4-16-3"}, {"epochs", "2"}, {"batch", "10"},   {"eval_every", "7"},
          {"seed", "5"},    {"threads", "1"},     {"algo", "adam"}, {"lr", "0.01"}};
}

class ResumeChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = write_blob_split(dir_, 300, 60);
  }
  std::string cli(const std::string& out, const std::string& extra = "") const {
    std::string s = "train";
    for (const auto& [k, v] : run_args(data_)) {
      std::string flag = k;
      for (char& c : flag)
        if (c == '_') c = '-';
      s += " --" + flag + " '" + v + "'";
    }
    return s + " --out '" + (dir_ / out).string() + "' " + extra;
  }
  /// A run of run_args stopped (as by a kill) after its `evals`-th evaluation point.
  fs::path interrupted(const std::string& out, int evals = 4, const std::string& seed = "5") const {
    RunOptions o;
    for (const auto& [k, v] : run_args(data_)) find_run_option(k)->from_text(o, k == "seed" ? seed : v);
    int seen = 0;
    RunHooks hooks;
    hooks.on_eval = [&](const MetricsRow&) { return ++seen < evals; };
    const RunOutcome r = run_training(RunSpec(o), dir_ / out, hooks);
    EXPECT_EQ(r.status, RunStatus::Stopped);
    return dir_ / out;
  }
  /// The uninterrupted run, once per test that needs it.
  fs::path reference() const {
    const auto r = run_sibp(cli("ref"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return dir_ / "ref";
  }
  static fs::path gen(const fs::path& run) { return run / fs::read_symlink(run / ".state"); }
  /// Rewrites the checkpoint of `run` through `edit`, with its own digest
  /// recomputed: what a forger who knows the format can do. The field checks
  /// must hold against it.
  static void forge(const fs::path& run, const std::function<void(TensorSet<float>&)>& edit) {
    const fs::path path = gen(run) / "checkpoint.safetensors";
    TensorSet<float> set = read_tensor_set<float>(path);
    edit(set);
    set.metadata[kTensorSetDigestKey] = digest_hex(tensor_set_digest(set));
    write_file_atomic(path, encode_tensor_set(set));
  }
  /// Every file under `run` (names and bytes), links as their targets.
  static std::map<std::string, std::string> snapshot(const fs::path& run) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(run)) {
      const std::string rel = fs::relative(e.path(), run).string();
      if (fs::is_symlink(e.symlink_status()))
        out[rel] = "-> " + fs::read_symlink(e.path()).string();
      else if (fs::is_regular_file(e.symlink_status()) && rel != ".lock")
        out[rel] = slurp(e.path());
    }
    return out;
  }
  /// `sibp train --resume` of `run` must exit 1 with a message holding every
  /// one of `words`, and leave the folder exactly as it was.
  void expect_refused(const fs::path& run, const std::vector<std::string>& words) const {
    const auto before = snapshot(run);
    const auto r = run_sibp("train --resume --out '" + run.string() + "'");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    for (const std::string& w : words) EXPECT_NE(r.err.find(w), std::string::npos) << "'" << w << "' in: " << r.err;
    EXPECT_EQ(snapshot(run), before) << "the refused --resume changed the folder";
  }
  void expect_resumes_identically(const fs::path& run, const fs::path& ref) const {
    const auto r = run_sibp("train --resume --threads 2 --out '" + run.string() + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(slurp(run / "model.safetensors"), slurp(ref / "model.safetensors"));
  }
  testing::TempDir dir_;
  std::string data_;
};

TEST_F(ResumeChecks, AnUntouchedCheckpointResumesBitIdentical) {
  const fs::path ref = reference();
  expect_resumes_identically(interrupted("cut"), ref);
}

TEST_F(ResumeChecks, BatchOrderOutOfRangeOrNotAPermutationIsRefused) {
  // Before: an index past the training set made the batch read out of bounds (SIGSEGV).
  const fs::path run = interrupted("cut");
  forge(run, [](TensorSet<float>& s) { s.integers["fit.order"][3] = 1000000; });
  expect_refused(run, {"checkpoint.safetensors", "fit.order", "not a permutation"});
  forge(run, [](TensorSet<float>& s) {
    auto& o = s.integers["fit.order"];
    o[3] = o[4];  // in range, but one sample twice
  });
  expect_refused(run, {"checkpoint.safetensors", "fit.order", "not a permutation"});
  forge(run, [](TensorSet<float>& s) { s.integers["fit.order"].pop_back(); });
  expect_refused(run, {"checkpoint.safetensors", "fit.order", "entries"});
}

TEST_F(ResumeChecks, CountersOutOfRangeAreRefused) {
  const fs::path run = interrupted("cut");
  const std::string checkpoint = slurp(gen(run) / "checkpoint.safetensors");
  const auto with = [&](const std::string& key, const std::string& value, const std::vector<std::string>& words) {
    SCOPED_TRACE(key + " = " + value);
    write_file_atomic(gen(run) / "checkpoint.safetensors", checkpoint);
    forge(run, [&](TensorSet<float>& s) { s.metadata[key] = value; });
    expect_refused(run, words);
  };
  with("fit.epoch", "4294967297", {"fit.epoch", "from 0 to 2"});  // 2^32 + 1: was read as epoch 1
  with("fit.epoch", "-1", {"fit.epoch"});
  with("fit.iteration", "9223372036854775807", {"fit.iteration"});
  with("fit.iteration", "13", {"fit.iteration", "does not match"});
  with("fit.batch", "31", {"fit.batch"});
  with("fit.samples", "71", {"fit.samples"});
  with("fit.seconds", "nan", {"fit.seconds", "finite"});
  with("fit.seconds", "-0x1p+0", {"fit.seconds"});
  with("fit.seconds", "inf", {"fit.seconds"});
  with("fit.rng", "not a state", {"fit.rng"});
  with("algo.step", "100000", {"algo.step"});
  with("metrics.rows", "0", {"metrics.rows"});
  with("sibp.checkpoint", "1", {"sibp.checkpoint"});
}

TEST_F(ResumeChecks, AlteredCheckpointBytesAreRefused) {
  const fs::path run = interrupted("cut");
  std::string bytes = slurp(gen(run) / "checkpoint.safetensors");
  bytes[bytes.size() - 5] ^= 0x10;  // a bit of the last tensor (Adam's moments or the order)
  write_file_atomic(gen(run) / "checkpoint.safetensors", bytes);
  expect_refused(run, {"checkpoint.safetensors", "sibp.digest"});
}

TEST_F(ResumeChecks, ConfigJsonEditsAreRefusedLikeTheCommandLine) {
  const fs::path run = interrupted("cut");
  const std::string config = slurp(run / "config.json");
  const auto edited = [&](const std::string& key, const nlohmann::json& value) {
    SCOPED_TRACE(key);
    nlohmann::json j = nlohmann::json::parse(config);
    j[key] = value;
    write_file_atomic(run / "config.json", j.dump(2) + "\n");
    expect_refused(run, {"config.json", "option '" + key + "'"});
  };
  edited("lr", 0.02);
  edited("algo", "sgd");
  edited("seed", 6);
  edited("batch", 20);
  edited("epochs", 3);
  edited("dtype", "f64");
  edited("eval_every", 5);
  edited("beta1", 0.8);
  // What does not change a result may change: threads.
  write_file_atomic(run / "config.json", config);
  nlohmann::json j = nlohmann::json::parse(config);
  j["threads"] = 2;
  write_file_atomic(run / "config.json", j.dump(2) + "\n");
  expect_resumes_identically(run, reference());
}

TEST_F(ResumeChecks, AnotherRunsModelOrGenerationIsRefused) {
  const fs::path run = interrupted("cut"), other = interrupted("other", 4, "6"), later = interrupted("later", 6);
  // Another run's model file (same shape, other seed) in this run's generation.
  const std::string model = slurp(gen(run) / "model.safetensors");
  write_file_atomic(gen(run) / "model.safetensors", slurp(gen(other) / "model.safetensors"));
  expect_refused(run, {"model.safetensors", "not the file its checkpoint was written with"});
  // The same run's model of a later evaluation point.
  write_file_atomic(gen(run) / "model.safetensors", slurp(gen(later) / "model.safetensors"));
  expect_refused(run, {"model.safetensors", "file.model.safetensors"});
  write_file_atomic(gen(run) / "model.safetensors", model);
  // A whole generation of another run, linked as this run's.
  fs::copy(gen(other), run / ".gen-99");
  fs::create_directory_symlink(".gen-99", run / ".state.new");
  fs::rename(run / ".state.new", run / ".state");
  expect_refused(run, {"config.json", "option 'seed'"});
}

TEST_F(ResumeChecks, AChangedTrainingSetIsRefused) {
  const fs::path run = interrupted("cut");
  testing::write_blobs(dir_ / "train.csv", 300, 77);  // same size and shape, other samples
  expect_refused(run, {"checkpoint.safetensors", "data.train", "not the one loaded now"});
  testing::write_blobs(dir_ / "train.csv", 290, 1);
  expect_refused(run, {"checkpoint.safetensors"});
}

TEST_F(ResumeChecks, AnEditedMetricsRowIsRefused) {
  const fs::path run = interrupted("cut");
  const fs::path csv = gen(run) / "metrics.csv";
  std::string text = slurp(csv);
  const std::size_t at = text.rfind(",0.");
  ASSERT_NE(at, std::string::npos);
  text[at + 3] = text[at + 3] == '9' ? '1' : '9';
  write_file_atomic(csv, text);
  expect_refused(run, {"metrics.csv", "file.metrics.csv"});
  // A consistent forgery of the row count is caught by the rows themselves.
  const fs::path run2 = interrupted("cut2");
  forge(run2, [](TensorSet<float>& s) { s.metadata["metrics.rows"] = "3"; });
  expect_refused(run2, {"metrics.csv", "metrics.rows"});
}

TEST_F(ResumeChecks, AMissingStateLinkKeepsTheOnlyGeneration) {
  // Before: --resume deleted the only generation, then said the run had stopped
  // before its first checkpoint.
  const fs::path run = interrupted("cut");
  const fs::path only = fs::read_symlink(run / ".state");
  fs::remove(run / ".state");
  const auto before = snapshot(run);
  const auto resumed = run_sibp("train --resume --out '" + run.string() + "'");
  EXPECT_EQ(resumed.exit_code, 1) << resumed.err;
  EXPECT_NE(resumed.err.find(".state link is missing"), std::string::npos) << resumed.err;
  EXPECT_EQ(resumed.err.find("before its first"), std::string::npos) << resumed.err;
  const auto fresh = run_sibp(cli("cut"));  // a new run in the folder is refused too
  EXPECT_EQ(fresh.exit_code, 1) << fresh.err;
  EXPECT_TRUE(fs::is_directory(run / only));
  EXPECT_EQ(snapshot(run), before);
  // Restoring the link makes it resumable again, as if nothing had happened.
  fs::create_directory_symlink(only, run / ".state");
  expect_resumes_identically(run, reference());
}

TEST_F(ResumeChecks, AFirstCommitKilledBeforeItsLinkLeavesNoCheckpoint) {
  // A kill inside the first commit, after its generation was written and before
  // the .state link (and the run files' links into it) existed. Found by
  // CliResume.KilledRunsResumeBitIdentical: such a folder was taken for an
  // altered one and refused even with --resume.
  const fs::path run = interrupted("cut", 2);
  ASSERT_TRUE(fs::is_directory(gen(run)));  // the generation stays, unlinked
  for (const char* name : {".state", "metrics.csv", "metrics.json", "model.safetensors"}) fs::remove(run / name);
  const auto resumed = run_sibp("train --resume --out '" + run.string() + "'");
  EXPECT_EQ(resumed.exit_code, 2) << resumed.err;
  EXPECT_NE(resumed.err.find("holds no checkpoint"), std::string::npos) << resumed.err;
  const auto fresh = run_sibp(cli("cut"));
  EXPECT_EQ(fresh.exit_code, 2) << fresh.err;
  EXPECT_NE(fresh.err.find("stopped before its first checkpoint"), std::string::npos) << fresh.err;
  ASSERT_EQ(run_sibp(cli("cut", "--overwrite")).exit_code, 0);
  EXPECT_EQ(slurp(run / "model.safetensors"), slurp(reference() / "model.safetensors"));
}

TEST_F(ResumeChecks, AStateLinkPointingElsewhereIsNeverFollowed) {
  const fs::path run = interrupted("cut");
  const fs::path outside = dir_ / "precious";
  fs::copy(gen(run), outside);
  const auto kept = snapshot(outside);
  fs::remove(run / ".state");
  fs::create_directory_symlink(outside, run / ".state");  // absolute, out of the folder
  expect_refused(run, {".state"});
  ASSERT_EQ(run_sibp(cli("cut", "--overwrite")).exit_code, 0);
  EXPECT_EQ(snapshot(outside), kept) << "a run wrote or removed files through a planted .state link";
}

// ------------------------------------------------------------ the run folder

TEST_F(ResumeChecks, APlantedLockLinkIsNotWrittenThrough) {
  const fs::path victim = dir_ / "victim.txt";
  testing::write_bytes(victim, "precious\n");
  fs::create_directories(dir_ / "run");
  fs::create_symlink(victim, dir_ / "run" / ".lock");
  const auto r = run_sibp(cli("run"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("symbolic link"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(victim), "precious\n");
  EXPECT_FALSE(fs::exists(dir_ / "run" / "config.json"));
}

TEST_F(ResumeChecks, PlantedTopLevelLinksAreReplacedNotWrittenThrough) {
  const fs::path victim = dir_ / "victim.txt";
  testing::write_bytes(victim, "precious\n");
  fs::create_directories(dir_ / "run");
  for (const char* name : {"metrics.csv", "model.safetensors", "config.json", "result.json"})
    fs::create_symlink(victim, dir_ / "run" / name);
  const auto r = run_sibp(cli("run", "--overwrite"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(victim), "precious\n");
  for (const char* name : {"metrics.csv", "model.safetensors", "config.json", "result.json"})
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dir_ / "run" / name))) << name;
}

TEST_F(ResumeChecks, AForeignNonEmptyFolderIsRefusedAsOut) {
  fs::create_directories(dir_ / "home" / "docs");
  testing::write_bytes(dir_ / "home" / "notes.txt", "mine\n");
  const auto before = snapshot(dir_ / "home");
  const auto r = run_sibp(cli("home"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("holds no sibp run"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "home" / ".lock"));
  EXPECT_EQ(snapshot(dir_ / "home"), before);
  // --overwrite does not make it a run folder either; an empty folder is fine.
  EXPECT_EQ(run_sibp(cli("home", "--overwrite")).exit_code, 2);
  fs::create_directories(dir_ / "empty");
  EXPECT_EQ(run_sibp(cli("empty")).exit_code, 0);
}

TEST_F(ResumeChecks, LeftoverTemporariesOfAnyKindAreRemoved) {
  fs::create_directories(dir_ / "run");
  for (const char* name : {".sibp-tmp-4194000-loss.svg", ".metrics.csv.tmp.4194000.Ab12Cd", ".state.tmp.4194000",
                           ".model.safetensors.tmp.Xy12Zw"})
    testing::write_bytes(dir_ / "run" / name, "half");
  ASSERT_EQ(run_sibp(cli("run")).exit_code, 0);
  for (const auto& e : fs::directory_iterator(dir_ / "run")) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == ".lock" || name[0] != '.') << name;
  }
}

}  // namespace
}  // namespace sibp
