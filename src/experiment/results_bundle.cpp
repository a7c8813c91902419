#include "experiment/results_bundle.hpp"

#include <zlib.h>

#include <new>
#include <set>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"
#include "experiment/tuning.hpp"
#include "io/metrics_file.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// Largest bundle once decompressed: far above any experiment's metrics
/// (a few MB), low enough that a corrupt length cannot exhaust memory.
constexpr std::uint64_t kMaxBundleBytes = std::uint64_t{256} << 20;

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

/// `text` as one gzip member (RFC 1952) at the best compression. zlib's gzip
/// header has no time stamp and no name here, so equal text gives equal bytes.
std::string gzip(const std::string& text) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::bad_alloc();
  std::string out(deflateBound(&zs, static_cast<uLong>(text.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int r = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (r != Z_STREAM_END) throw std::bad_alloc();  // deflateBound leaves room: only memory can fail
  return out;
}

/// The text of one gzip member that must span all of `bytes`. Throws
/// DataError naming `path` for corrupt or cut-short data and for bytes after it.
std::string gunzip(const std::string& bytes, const fs::path& path) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::bad_alloc();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  std::string out;
  int r = Z_OK;
  while (r != Z_STREAM_END) {
    if (out.size() >= kMaxBundleBytes) {
      inflateEnd(&zs);
      throw DataError(path.string() + ": larger than " + std::to_string(kMaxBundleBytes >> 20) +
                      " MiB once decompressed: expected a results bundle (a few MB at most)");
    }
    const std::size_t used = out.size();
    out.resize(used + (std::size_t{1} << 20));
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs.avail_out = static_cast<uInt>(out.size() - used);
    r = inflate(&zs, Z_NO_FLUSH);
    out.resize(out.size() - zs.avail_out);
    if (r == Z_BUF_ERROR && zs.avail_in == 0) r = Z_DATA_ERROR;  // the input ended inside the stream
    if (r != Z_OK && r != Z_STREAM_END) {
      const std::string why = r == Z_MEM_ERROR ? "out of memory"
                              : zs.avail_in == 0 ? "the file ends inside the gzip stream (truncated)"
                              : zs.msg           ? zs.msg
                                                 : "inflate error " + std::to_string(r);
      inflateEnd(&zs);
      throw DataError(path.string() + ": corrupt gzip data: " + why + " (at compressed byte " +
                      std::to_string(bytes.size() - zs.avail_in) + ")");
    }
  }
  const uInt left = zs.avail_in;
  inflateEnd(&zs);
  if (left != 0)
    throw DataError(path.string() + ": expected the file to end after its gzip stream, found " +
                    std::to_string(left) + " more bytes");
  return out;
}

/// obj[key], which must be present and satisfy `ok`; `what` says what it should be.
const json& field(const json& obj, const char* key, bool (json::*ok)() const noexcept, const std::string& where,
                  const char* what) {
  if (!obj.contains(key)) throw DataError(where + ": missing field \"" + key + "\" (" + what + ")");
  const json& v = obj[key];
  if (!(v.*ok)())
    throw DataError(where + ": field \"" + key + "\": expected " + what + ", found " + json_excerpt(v));
  return v;
}

/// A result.json as read_results needs it: an object with a string "status".
void check_result(const json& result, const std::string& where) {
  if (!result.is_object()) throw DataError(where + ": expected an object, found " + json_excerpt(result));
  field(result, "status", &json::is_string, where, "a string");
}

/// The planned run folders of an experiment, as bundles name them.
std::set<std::string> planned_dirs(const ExperimentFile& e) {
  std::set<std::string> dirs;
  for (const PlannedRun& p : plan_runs(e)) dirs.insert(p.subdir.generic_string());
  return dirs;
}

}  // namespace

std::string default_experiment_source(const fs::path& dir) {
  const fs::path stored = dir / "experiment.json";
  const json j = read_json_file(stored);
  if (j.is_object() && j.contains("name") && j["name"].is_string()) {
    const fs::path candidate = fs::path("experiments") / (j["name"].get<std::string>() + ".json");
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) {
      try {
        if (read_json_file(candidate) == j) return candidate.generic_string();
      } catch (const DataError&) {
        // Not readable as JSON: not the file the experiment came from.
      }
    }
  }
  return stored.string();
}

ResultsBundle pack_results(const fs::path& dir, const std::string& source) {
  const fs::path experiment_file = dir / "experiment.json";
  if (!fs::exists(experiment_file))
    throw DataError(dir.string() + " holds no experiment.json: expected the --out folder of `sibp compare` or "
                                   "`sibp sweep`");
  ResultsBundle b;
  b.source = source.empty() ? default_experiment_source(dir) : source;
  b.experiment = read_json_file(experiment_file);
  const ExperimentFile e = load_experiment(experiment_file);
  // A tuning's runs depend on the results before them: the ones its replay reaches.
  const std::vector<PlannedRun> plan =
      e.kind == ExperimentKind::Tune ? finished_tuning_runs(dir, e) : plan_runs(e);
  b.planned = static_cast<int>(plan.size());
  for (const PlannedRun& p : plan) {
    const fs::path run = dir / p.subdir;
    if (!fs::exists(run / "result.json")) continue;  // not finished: reported as not run
    BundledRun r;
    r.dir = p.subdir.generic_string();
    r.config = read_json_file(run / "config.json");
    if (!r.config.is_object())
      throw DataError((run / "config.json").string() + ": expected an object, found " + json_excerpt(r.config));
    r.result = read_json_file(run / "result.json");
    check_result(r.result, (run / "result.json").string());
    r.metrics_csv = read_file(run / "metrics.csv");
    parse_metrics_csv(r.metrics_csv, (run / "metrics.csv").string());
    b.runs.push_back(std::move(r));
  }
  if (b.runs.empty())
    throw DataError(dir.string() + (e.kind == ExperimentKind::Tune
                                        ? ": the tuning's first run has not finished (no result.json): nothing to pack"
                                        : ": none of the experiment's " + std::to_string(plan.size()) +
                                              " runs has finished (no result.json): nothing to pack"));
  return b;
}

void write_bundle(const fs::path& path, const ResultsBundle& b) {
  json runs = json::array();
  for (const BundledRun& r : b.runs)
    runs.push_back({{"dir", r.dir}, {"config", r.config}, {"result", r.result}, {"metrics_csv", r.metrics_csv}});
  const json j = {{"format", kBundleFormat},       {"format_version", kBundleFormatVersion},
                  {"source", b.source},            {"experiment", b.experiment},
                  {"runs", std::move(runs)}};
  // One run per line: a bundle decompressed with zcat reads (and diffs) run by run.
  std::string text = j.dump(1);
  write_file_atomic(path, gzip(text + "\n"));
}

ExperimentFile bundle_experiment(const ResultsBundle& b, const std::string& where) {
  try {
    ExperimentFile e = parse_experiment(b.experiment, where + ": experiment");
    e.source = b.source;
    return e;
  } catch (const UsageError& e) {
    throw DataError(e.what());  // a bad bundle is bad data, whoever wrote it
  }
}

ResultsBundle read_bundle(const fs::path& path) {
  const std::string bytes = read_file(path, kMaxBundleBytes);
  const std::string where = path.string();
  const std::string text = is_gzip(bytes) ? gunzip(bytes, path) : bytes;
  JsonLimits limits;
  limits.max_bytes = kMaxBundleBytes;
  const json j = parse_json_text(text, where, limits);
  if (!j.is_object()) throw DataError(where + ": expected a results bundle (a JSON object), found " + json_excerpt(j));
  const std::string format = field(j, "format", &json::is_string, where, "a string").get<std::string>();
  if (format != kBundleFormat)
    throw DataError(where + ": field \"format\": expected \"" + kBundleFormat + "\", found \"" + format + "\"");
  const json& version = field(j, "format_version", &json::is_number_integer, where, "an integer");
  if (version != kBundleFormatVersion)
    throw DataError(where + ": field \"format_version\": expected " + std::to_string(kBundleFormatVersion) + ", found " +
                    version.dump() + " (a bundle of another sibp version: repack it from its results folder)");

  ResultsBundle b;
  b.source = field(j, "source", &json::is_string, where, "a string").get<std::string>();
  b.experiment = field(j, "experiment", &json::is_object, where, "an object");
  const ExperimentFile e = bundle_experiment(b, where);
  const bool tuning = e.kind == ExperimentKind::Tune;
  const std::set<std::string> planned = tuning ? std::set<std::string>{} : planned_dirs(e);
  std::set<std::string> seen;
  const json& runs = field(j, "runs", &json::is_array, where, "an array");
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string at = where + ": runs[" + std::to_string(i) + "]";
    const json& run = runs[i];
    if (!run.is_object()) throw DataError(at + ": expected an object, found " + json_excerpt(run));
    BundledRun r;
    r.dir = field(run, "dir", &json::is_string, at, "a string").get<std::string>();
    if (tuning ? !is_tuning_run_folder(e, r.dir) : !planned.count(r.dir))
      throw DataError(at + ": field \"dir\": \"" + r.dir + "\" is not a run folder the bundle's experiment plans");
    if (!seen.insert(r.dir).second) throw DataError(at + ": field \"dir\": \"" + r.dir + "\" appears twice");
    r.config = field(run, "config", &json::is_object, at, "an object");
    r.result = field(run, "result", &json::is_object, at, "an object");
    check_result(r.result, at + ".result");
    r.metrics_csv = field(run, "metrics_csv", &json::is_string, at, "a string").get<std::string>();
    parse_metrics_csv(r.metrics_csv, at + ".metrics_csv");
    b.runs.push_back(std::move(r));
  }
  // A tuning plans the runs its replay reached when it was packed.
  b.planned = static_cast<int>(tuning ? b.runs.size() : planned.size());
  return b;
}

void unpack_bundle(const ResultsBundle& b, const fs::path& dir) {
  ensure_writable_dir(dir);
  write_file_atomic(dir / "experiment.json", b.experiment.dump(2) + "\n");
  for (const BundledRun& r : b.runs) {
    const fs::path run = dir / r.dir;
    fs::create_directories(run);
    write_file_atomic(run / "config.json", r.config.dump(2) + "\n");
    write_file_atomic(run / "metrics.csv", r.metrics_csv);
    write_file_atomic(run / "result.json", r.result.dump(2) + "\n");  // last: its presence means finished
  }
}

}  // namespace sibp
