// Run folders that were tampered with between a kill and `sibp train
// --resume` (issue 21): the input is a list of edits to an interrupted tiny
// run's folder (its checkpoint, model, metrics, config.json, the .state link
// and the top-level links); the folder is then resumed as the CLI does
// (stored_run_options, RunSpec, run_training with OutputMode::Resume).
// Passes when the resumption is refused with a sibp error, or ends
// bit-identical to the uninterrupted run (model bytes, metrics but for the
// seconds column). Also a finding: a file outside the folder (a planted
// link's target) changed, or a refusal that removed the run's generation.
//
// Input: a sequence of edits, each [target][kind][n][n bytes of payload]
// (n < 256). target (mod 9): the generation's checkpoint.safetensors,
// model.safetensors, metrics.csv, metrics.json; config.json; .state; the
// top-level metrics.csv and model.safetensors links; the generation folder.
// kind (mod 7): 0 xor bytes (payload: pairs offset, value; offsets mod the
// size), 1 replace the contents by the payload, 2 insert the payload at
// offset payload[0] * size / 256, 3 truncate to payload[0] * size / 256
// bytes, 4 remove, 5 replace by a link to a victim file outside the folder
// (payload[0] odd) or to the same file of the reference run, 6 replace by
// the same file of another interrupted run (another seed).
// fuzz-link: sibp_experiment
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/atomic_file.hpp"
#include "experiment/run_digest.hpp"
#include "experiment/training_run.hpp"
#include "fuzz_common.hpp"
#include "io/metrics_file.hpp"

namespace {

using namespace sibp;
namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_run_folder: %s\n", what.c_str());
  std::abort();
}

std::string slurp(const fs::path& p) { return read_file(p); }

void spit(const fs::path& p, const std::string& bytes) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) fail("cannot write " + p.string());
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

/// A tiny run (adam, so the checkpoint carries optimizer tensors): 2 epochs
/// of 8 batches, an evaluation point every 3 steps.
RunOptions tiny_options(const fs::path& dir, const std::string& seed) {
  RunOptions o;
  const std::vector<std::pair<std::string, std::string>> args = {
      {"data", "csv:" + (dir / "train.csv").string() + "," + (dir / "test.csv").string()},
      {"layers", "4-6-3"}, {"epochs", "2"}, {"batch", "8"}, {"eval_every", "3"}, {"seed", seed},
      {"threads", "1"}, {"algo", "adam"}, {"lr", "0.01"}};
  for (const auto& [k, v] : args) find_run_option(k)->from_text(o, v);
  return o;
}

void write_blobs(const fs::path& path, int n, unsigned seed) {
  std::string text = "label,a,b,c,d\n";
  unsigned s = seed;
  for (int i = 0; i < n; ++i) {
    text += std::to_string(i % 3);
    for (int k = 0; k < 4; ++k) {
      s = s * 1103515245u + 12345u;
      text += "," + std::to_string((k % 3 == i % 3 ? 1.0 : 0.0) + ((s >> 8) % 1000) / 1500.0);
    }
    text += "\n";
  }
  spit(path, text);
}

/// The fixtures, made once per process: data, the uninterrupted run, and two
/// runs stopped after their 3rd evaluation point (this seed and another).
struct Fixture {
  fs::path root, ref, cut, other, other_ref, victim;
  std::string victim_bytes;
  Fixture() {
    char tmpl[] = "/tmp/sibp-fuzz-run-folder-XXXXXX";
    if (!::mkdtemp(tmpl)) fail("mkdtemp");
    root = tmpl;
    ::setenv("SIBP_DATA_DIR", (root / "no-data").c_str(), 1);
    write_blobs(root / "train.csv", 60, 1);
    write_blobs(root / "test.csv", 20, 2);
    ref = root / "ref";
    cut = root / "cut";
    other = root / "other";
    other_ref = root / "other-ref";
    victim = root / "victim.txt";
    victim_bytes = "not the run's\n";
    spit(victim, victim_bytes);
    run_training(RunSpec(tiny_options(root, "5")), ref);
    // Edits can turn the folder into the other run's as a whole (its config.json
    // and its generation): a consistent run, whose resumption must end as that
    // run would have.
    run_training(RunSpec(tiny_options(root, "6")), other_ref);
    stopped(cut, "5");
    stopped(other, "6");
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  void stopped(const fs::path& dir, const std::string& seed) const {
    int evals = 0;
    RunHooks hooks;
    hooks.on_eval = [&](const MetricsRow&) { return ++evals < 3; };
    if (run_training(RunSpec(tiny_options(root, seed)), dir, hooks).status != RunStatus::Stopped)
      fail("the fixture run did not stop");
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

/// The path of `target` in the run folder `run` (generation files through the .state link).
fs::path target_path(const fs::path& run, int target) {
  const fs::path gen = run / fs::read_symlink(fixture().cut / ".state");
  switch (target) {
    case 0: return gen / "checkpoint.safetensors";
    case 1: return gen / "model.safetensors";
    case 2: return gen / "metrics.csv";
    case 3: return gen / "metrics.json";
    case 4: return run / "config.json";
    case 5: return run / ".state";
    case 6: return run / "metrics.csv";
    case 7: return run / "model.safetensors";
    default: return gen;
  }
}

void edit(const fs::path& run, int target, int kind, const std::string& payload) {
  const fs::path p = target_path(run, target);
  std::error_code ec;
  const bool file = fs::is_regular_file(fs::symlink_status(p, ec));
  std::string bytes = file ? slurp(p) : std::string();
  const std::size_t at = payload.empty() ? 0 : static_cast<unsigned char>(payload[0]) * bytes.size() / 256;
  switch (kind) {
    case 0:
      if (!file || bytes.empty()) return;
      for (std::size_t i = 0; i + 1 < payload.size(); i += 2)
        bytes[static_cast<unsigned char>(payload[i]) * 131u % bytes.size()] ^= payload[i + 1];
      spit(p, bytes);
      return;
    case 1:
      if (file) spit(p, payload);
      return;
    case 2:
      if (file) spit(p, bytes.insert(at, payload.size() > 1 ? payload.substr(1) : payload));
      return;
    case 3:
      if (file) spit(p, bytes.substr(0, at));
      return;
    case 4:
      fs::remove_all(p, ec);
      return;
    case 5: {
      fs::remove_all(p, ec);
      const bool to_victim = !payload.empty() && (payload[0] & 1);
      fs::create_symlink(to_victim ? fixture().victim : fixture().ref / p.filename(), p, ec);
      return;
    }
    default: {
      const fs::path from = fixture().other / fs::relative(p, run);
      fs::remove_all(p, ec);
      fs::copy(from, p, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
      return;
    }
  }
}

/// The rows of metrics.csv without their `seconds`, which no two runs share.
std::vector<MetricsRow> rows_without_seconds(const fs::path& csv) {
  std::vector<MetricsRow> rows = read_metrics_csv(csv);
  for (MetricsRow& r : rows) r.seconds = 0;
  return rows;
}

bool same_rows(const std::vector<MetricsRow>& a, const std::vector<MetricsRow>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].iteration != b[i].iteration || a[i].epoch != b[i].epoch || a[i].train_loss != b[i].train_loss ||
        a[i].train_acc != b[i].train_acc || a[i].test_loss != b[i].test_loss || a[i].test_acc != b[i].test_acc ||
        a[i].extra != b[i].extra)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Fixture& f = fixture();
  const fs::path run = f.root / "work";
  std::error_code ec;
  fs::remove_all(run, ec);
  fs::copy(f.cut, run, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) fail("cannot copy the fixture run: " + ec.message());
  const fs::path gen = run / fs::read_symlink(run / ".state");
  bool gen_removed = false;
  for (std::size_t i = 0; i + 3 <= size;) {
    const int target = data[i] % 9, kind = data[i + 1] % 7;
    const std::size_t n = std::min<std::size_t>(data[i + 2], size - i - 3);
    edit(run, target, kind, std::string(reinterpret_cast<const char*>(data + i + 3), n));
    gen_removed = gen_removed || (target == 8 && (kind == 4 || kind == 5 || kind == 6));
    i += 3 + n;
  }
  bool resumed = false;
  nlohmann::json resumed_options;
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const RunOptions stored = stored_run_options(run);
    const RunSpec spec(stored);
    run_training(spec, run, {}, OutputMode::Resume);
    resumed = true;
    resumed_options = run_identity_json(stored);  // the options that change results
  });
  // The harness itself: an untouched folder must resume (else every check
  // below would pass vacuously by refusing everything).
  if (size == 0 && !resumed) fail("the untouched interrupted folder was refused");
  if (slurp(f.victim) != f.victim_bytes) fail("a file outside the run folder was written through a link");
  if (resumed) {
    // The uninterrupted run of the options it resumed under: this run's, or the
    // other run's when the edits swapped that run in whole.
    const fs::path* reference = nullptr;
    if (resumed_options == run_identity_json(tiny_options(f.root, "5")))
      reference = &f.ref;
    else if (resumed_options == run_identity_json(tiny_options(f.root, "6")))
      reference = &f.other_ref;
    else
      fail("resumed under options that are neither run's: " + resumed_options.dump());
    if (slurp(run / "model.safetensors") != slurp(*reference / "model.safetensors"))
      fail("resumed, but model.safetensors differs from the uninterrupted run's");
    if (!same_rows(rows_without_seconds(run / "metrics.csv"), rows_without_seconds(*reference / "metrics.csv")))
      fail("resumed, but metrics.csv differs from the uninterrupted run's");
  } else if (!gen_removed && !fs::is_directory(fs::symlink_status(gen, ec))) {
    fail("a refused resumption removed the run's checkpoint generation " + gen.string());
  }
  return 0;
}
