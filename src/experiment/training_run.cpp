#include "experiment/training_run.hpp"

#include <omp.h>
#include <unistd.h>
#include <sys/resource.h>

#include <Eigen/Core>
#include <charconv>
#include <cmath>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/enum_names.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/json_read.hpp"
#include "core/rng.hpp"
#include "experiment/run_digest.hpp"
#include "io/metrics_file.hpp"
#include "io/model_metadata.hpp"
#include "io/safetensors.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

std::string to_string(RunStatus s) {
  static constexpr EnumNames<RunStatus, 3> names{
      {{RunStatus::Completed, "completed"}, {RunStatus::Diverged, "diverged"}, {RunStatus::Stopped, "stopped"}}};
  return enum_name(names, s);
}

namespace {

constexpr const char* kCheckpoint = "checkpoint.safetensors";
/// Top-level names that follow the committed generation while the run lasts.
const std::vector<std::string> kLinked{"metrics.csv", "metrics.json", "model.safetensors"};

json optional_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json row_json(const MetricsRow& r) {
  json j = {{"epoch", r.epoch},
            {"iteration", r.iteration},
            {"seconds", r.seconds},
            {"train_loss", optional_json(r.train_loss)},
            {"train_acc", optional_json(r.train_acc)},
            {"val_loss", optional_json(r.val_loss)},
            {"val_acc", optional_json(r.val_acc)},
            {"test_loss", optional_json(r.test_loss)},
            {"test_acc", optional_json(r.test_acc)}};
  for (const auto& [k, v] : r.extra) j[k] = v;
  return j;
}

void check_same_options(const json& stored, const json& wanted, const fs::path& dir) {
  for (const auto& [key, value] : wanted.items()) {
    if (option_ignored_by_digest(key)) continue;  // run_digest.hpp: they change no result
    const auto it = stored.find(key);
    if (it == stored.end() || *it != value)
      throw UsageError(dir.string() + " holds a run with " + key + " = " +
                       (it == stored.end() ? std::string("(unset)") : it->dump()) + ", but " + value.dump() +
                       " was asked for; continue it without changing options, or use --overwrite");
  }
  // An option written only when it differs from its default (--schedule,
  // --warmup, --sampling) is absent from `wanted` when the default is asked for.
  for (const auto& [key, value] : stored.items()) {
    if (wanted.contains(key) || option_ignored_by_digest(key)) continue;
    const RunOptionInfo* info = find_run_option(key);
    if (!info) continue;  // not an option (e.g. the software that wrote the run)
    throw UsageError(dir.string() + " holds a run with " + key + " = " + value.dump() + ", but " +
                     (info->unwritten_default.is_null() ? std::string("its default") : info->unwritten_default.dump()) +
                     " was asked for; continue it without changing options, or use --overwrite");
  }
}

// ---------------------------------------------------------------- checkpoints

/// The checkpoint format: 2 records what the checkpoint belongs to (run,
/// data, files) and a digest of its own content.
constexpr const char* kCheckpointFormat = "2";
/// The files a checkpoint vouches for (their digests are in its metadata).
const std::vector<std::string> kVouchedFiles{"model.safetensors", "metrics.csv", "metrics.json"};

/// What a run is: its options and data (run_digest.hpp). A checkpoint records
/// it; a resumption, and every rank of a multi-process run, must match it.
struct RunProof {
  std::string options;  ///< run_identity_json(...).dump()
  DataFingerprint data;
};

RunProof run_proof(const RunOptions& o, const Dataset& train, const Dataset* val, const Dataset* test) {
  return {run_identity_json(o).dump(), {fingerprint(&train), fingerprint(val), fingerprint(test)}};
}

template <typename T>
std::string checkpoint_bytes(const FitState& s, const AlgorithmState<T>& a, std::size_t rows, const RunProof& proof,
                             const std::map<std::string, const std::string*>& files) {
  TensorSet<T> set;
  for (const auto& [name, M] : a.tensors) set.matrices["algo." + name] = M;
  set.integers["fit.order"].assign(s.order.begin(), s.order.end());
  char seconds[64];
  std::snprintf(seconds, sizeof seconds, "%a", s.seconds);  // exact, unlike a decimal rendering
  set.metadata = {{"sibp.checkpoint", kCheckpointFormat},
                  {"fit.epoch", std::to_string(s.epoch)},
                  {"fit.batch", std::to_string(s.batch)},
                  {"fit.iteration", std::to_string(s.iteration)},
                  {"fit.seconds", seconds},
                  {"fit.samples", std::to_string(s.samples)},
                  {"fit.rng", s.rng},
                  {"algo.step", std::to_string(a.step)},
                  {"metrics.rows", std::to_string(rows)},
                  {"run.options", proof.options},
                  {"run.digest", digest_hex(digest_bytes(proof.options))}};
  const auto split = splits(proof.data);
  for (std::size_t i = 0; i < split.size(); ++i)
    set.metadata[std::string("data.") + kSplitNames[i]] = fingerprint_text(*split[i]);
  for (const auto& [name, bytes] : files) set.metadata["file." + name] = digest_hex(digest_bytes(*bytes));
  set.metadata[kTensorSetDigestKey] = digest_hex(tensor_set_digest(set));
  return encode_tensor_set(set);
}

template <typename T>
struct Checkpoint {
  FitState fit;
  AlgorithmState<T> algo;
  std::vector<MetricsRow> rows;
};

/// What the loop of the run being resumed looks like, for the range checks.
struct LoopShape {
  long long samples = 0;            ///< training samples n
  long long batch = 0;              ///< batch size m
  long long batches_per_epoch = 0;  ///< ⌈n / m⌉
  int epochs = 0;
};

/// The option of `now` (a run_identity_json object) that differs from `then`
/// first: "lr = 0.2, but the checkpoint was written with 0.1".
std::string first_difference(const std::string& then_text, const std::string& now_text) {
  json then, now;
  try {
    then = json::parse(then_text);
    now = json::parse(now_text);
  } catch (const std::exception&) {
    return "its options are not readable";
  }
  if (!then.is_object()) return "its options are not readable";
  for (const auto& [key, value] : now.items()) {
    const auto it = then.find(key);
    if (it == then.end() || *it != value)
      return "option '" + key + "' is " + json_excerpt(value) + " now, but the checkpoint was written with " +
             (it == then.end() ? std::string("it unset") : json_excerpt(*it));
  }
  for (const auto& [key, value] : then.items())
    if (!now.contains(key))
      return "option '" + key + "' is unset now, but the checkpoint was written with " + json_excerpt(value);
  return "its options differ";
}

/// Reads the committed generation `gen` of the run `proof` describes and
/// checks everything in it before anything is restored: that it is this
/// run's (options, data), that the model and metrics files are those it was
/// written with, that it is unaltered, and that every counter is in range and
/// consistent with the others. Throws DataError naming the file and the field.
template <typename T>
Checkpoint<T> read_verified_checkpoint(const fs::path& gen, const RunProof& proof, const LoopShape& loop,
                                       const fs::path& config) {
  const fs::path path = gen / kCheckpoint;
  const auto fail = [](const fs::path& file, const std::string& why) {
    throw DataError(file.string() + ": " + why + "; the run cannot be resumed from it (use --overwrite to start over)");
  };
  // Read through no link: every file of the generation must be the run's own.
  for (const std::string& name : std::vector<std::string>{kCheckpoint, "model.safetensors", "metrics.csv",
                                                          "metrics.json"}) {
    std::error_code ec;
    if (!fs::is_regular_file(fs::symlink_status(gen / name, ec)))
      fail(gen / name, "missing, or not a regular file (a link or a folder)");
  }
  // Whose checkpoint, from its metadata alone (a run of another dtype could
  // not even be decoded): the run's options, its data.
  const std::map<std::string, std::string> header = read_safetensors_metadata(path);
  const auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = header.find(key);
    if (it == header.end()) fail(path, "field '" + key + "' is missing");
    return it->second;
  };
  if (meta("sibp.checkpoint") != kCheckpointFormat)
    fail(path, "field 'sibp.checkpoint' (the format) is '" + meta("sibp.checkpoint").substr(0, 20) + "', expected " +
                   kCheckpointFormat + " (written by another version of sibp)");
  if (meta("run.digest") != digest_hex(digest_bytes(meta("run.options"))))
    fail(path, "field 'run.digest' does not match field 'run.options'");
  if (meta("run.options") != proof.options)
    fail(config, "the run's options differ from those its checkpoint " + path.string() + " was written with (" +
                     first_difference(meta("run.options"), proof.options) +
                     "); restore the options it was started with");
  const auto split = splits(proof.data);
  for (std::size_t i = 0; i < split.size(); ++i) {
    const std::string key = std::string("data.") + kSplitNames[i];
    const SplitFingerprint then = parse_fingerprint(meta(key), path.string() + ": field '" + key + "'");
    if (then != *split[i])
      fail(path, "field '" + key + "': the " + kSplitNames[i] + " split the run was started on (" + to_string(then) +
                     ") is not the one loaded now (" + to_string(*split[i]) + ")");
  }
  // Unaltered, and the files it was written with.
  const TensorSet<T> set = read_tensor_set<T>(path);
  if (set.metadata != header || meta(kTensorSetDigestKey) != digest_hex(tensor_set_digest(set)))
    fail(path, "field 'sibp.digest' does not match the checkpoint's content (the file was altered or damaged)");
  std::map<std::string, std::string> bytes;
  for (const std::string& name : kVouchedFiles) {
    bytes[name] = read_file(gen / name);
    if (meta("file." + name) != digest_hex(digest_bytes(bytes[name])))
      fail(gen / name, "not the file its checkpoint was written with (field 'file." + name +
                           "' of " + path.string() + " does not match; the file was replaced or edited)");
  }
  // Every counter in range, and consistent with the loop and the others.
  const auto integer = [&](const std::string& key, long long lo, long long hi) {
    const std::string& text = meta(key);
    long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi)
      fail(path, "field '" + key + "' = '" + text.substr(0, 40) + "' is not an integer from " + std::to_string(lo) +
                     " to " + std::to_string(hi));
    return v;
  };
  Checkpoint<T> c;
  const long long bpe = loop.batches_per_epoch;
  c.fit.epoch = static_cast<int>(integer("fit.epoch", 0, loop.epochs));
  // After a step the batch counter is 1..bpe (fit's on_eval); 0 only before the first epoch.
  c.fit.batch = integer("fit.batch", c.fit.epoch == 0 ? 0 : 1, c.fit.epoch == 0 ? 0 : bpe);
  c.fit.iteration = integer("fit.iteration", 0, bpe * loop.epochs);
  c.fit.samples = integer("fit.samples", 0, loop.samples * loop.epochs);
  const long long done_epochs = c.fit.epoch > 0 ? c.fit.epoch - 1 : 0;
  if (c.fit.iteration != done_epochs * bpe + c.fit.batch)
    fail(path, "field 'fit.iteration' = " + std::to_string(c.fit.iteration) + " does not match epoch " +
                   std::to_string(c.fit.epoch) + ", batch " + std::to_string(c.fit.batch) + " (" +
                   std::to_string(bpe) + " batches per epoch)");
  if (c.fit.samples != done_epochs * loop.samples + std::min(c.fit.batch * loop.batch, loop.samples))
    fail(path, "field 'fit.samples' = " + std::to_string(c.fit.samples) + " does not match epoch " +
                   std::to_string(c.fit.epoch) + ", batch " + std::to_string(c.fit.batch));
  const std::string& seconds = meta("fit.seconds");
  char* end = nullptr;
  c.fit.seconds = std::strtod(seconds.c_str(), &end);
  if (seconds.empty() || end != seconds.c_str() + seconds.size() || !std::isfinite(c.fit.seconds) || c.fit.seconds < 0)
    fail(path, "field 'fit.seconds' = '" + seconds.substr(0, 40) + "' is not a finite number of seconds >= 0");
  c.fit.rng = meta("fit.rng");
  if (!Rng(0).set_state(c.fit.rng)) fail(path, "field 'fit.rng' is not a state of the shuffling generator");
  c.algo.step = integer("algo.step", 0, c.fit.iteration);
  const long long rows = integer("metrics.rows", 1, c.fit.iteration + 1);
  const auto order = set.integers.find("fit.order");
  if (order == set.integers.end()) fail(path, "tensor 'fit.order' is missing");
  if (static_cast<long long>(order->second.size()) != loop.samples)
    fail(path, "tensor 'fit.order' has " + std::to_string(order->second.size()) + " entries, but the training split has " +
                   std::to_string(loop.samples) + " samples");
  std::vector<char> seen(static_cast<std::size_t>(loop.samples), 0);
  for (const std::int64_t i : order->second) {
    if (i < 0 || i >= loop.samples || seen[static_cast<std::size_t>(i)])
      fail(path, "tensor 'fit.order' is not a permutation of the " + std::to_string(loop.samples) +
                     " training samples (entry " + std::to_string(i) + ")");
    seen[static_cast<std::size_t>(i)] = 1;
  }
  c.fit.order.assign(order->second.begin(), order->second.end());
  for (const auto& [name, M] : set.matrices) {
    if (name.rfind("algo.", 0) != 0) fail(path, "unexpected tensor '" + name + "'");
    c.algo.tensors[name.substr(5)] = M;
  }
  // The metrics rows end where the checkpoint is, one per evaluation point.
  c.rows = read_metrics_csv(gen / "metrics.csv");
  const fs::path metrics = gen / "metrics.csv";
  if (static_cast<long long>(c.rows.size()) != rows)
    fail(metrics, std::to_string(c.rows.size()) + " rows, but field 'metrics.rows' of " + path.string() + " says " +
                      std::to_string(rows));
  long long previous = -1;
  for (const MetricsRow& r : c.rows) {
    if (r.iteration <= previous || r.iteration > c.fit.iteration || !std::isfinite(r.seconds) || r.seconds < 0)
      fail(metrics, "the row of iteration " + std::to_string(r.iteration) +
                        " is out of order or beyond the checkpoint's iteration " + std::to_string(c.fit.iteration));
    previous = r.iteration;
  }
  if (c.rows.front().iteration != 0 || c.rows.back().iteration != c.fit.iteration)
    fail(metrics, "its rows run from iteration " + std::to_string(c.rows.front().iteration) + " to " +
                      std::to_string(c.rows.back().iteration) + ", but the checkpoint is at iteration " +
                      std::to_string(c.fit.iteration));
  return c;
}

// ---------------------------------------------------------------- the run

struct RunData {
  LoadedData data;
  std::optional<Dataset> val;
  Normalization norm;
  NetworkSpec net;
  RunProof proof;  ///< what the run is (options, data), for checkpoints and the ranks' agreement
};

/// --stop-at-accuracy: whether every held-out accuracy of `row` (validation,
/// test; at least one) is at least `target` (> 0).
bool held_out_reached(const MetricsRow& row, double target) {
  if (!(target > 0) || (!row.val_acc && !row.test_acc)) return false;
  return (!row.val_acc || *row.val_acc >= target) && (!row.test_acc || *row.test_acc >= target);
}

template <typename T>
RunOutcome train_typed(const RunSpec& spec, const RunData& d, RunFolder* folder, const fs::path& out, bool resume,
                       const RunHooks& hooks, Communicator& comm) {
  // `folder` is null on every rank but 0 of a multi-process run: they write nothing.
  const RunOptions& o = spec.options();
  Network<T> net = initial_network<T>(d.net, spec.model(), o.seed);
  std::unique_ptr<TrainingAlgorithm<T>> algo = run_algorithm<T>(spec, d.net, comm);
  const FitOptions fo = run_fit_options(spec);

  RunOutcome outcome;
  outcome.out_dir = out;
  std::vector<MetricsRow>& rows = outcome.rows;
  std::optional<FitState> from;
  if (resume) {
    // Everything is checked before anything is restored (or written).
    const fs::path gen = folder->committed();
    const Index n = d.data.train.size();
    const LoopShape loop{n, fo.batch_size, (n + fo.batch_size - 1) / fo.batch_size, fo.epochs};
    Checkpoint<T> c = read_verified_checkpoint<T>(gen, d.proof, loop, out / "config.json");
    load_parameters_into(net, gen / "model.safetensors");
    algo->restore(c.algo, net);
    rows = std::move(c.rows);
    from = std::move(c.fit);
    outcome.resumed = true;
  }

  const auto meta = model_metadata(o, d.norm);
  bool stopped = false;
  bool reached = false;  // --stop-at-accuracy: a completed run, not an interrupted one
  FitCallbacks<T> callbacks;
  callbacks.on_eval = [&](const MetricsRow& row, const Network<T>& current, const FitState& state) {
    rows.push_back(row);
    if (folder) {
      const MetricsText text = metrics_text(rows);
      const std::string model = encode_network(current, meta);
      const std::string checkpoint = checkpoint_bytes<T>(
          state, algo->state(), rows.size(), d.proof,
          {{"model.safetensors", &model}, {"metrics.csv", &text.csv}, {"metrics.json", &text.json}});
      folder->commit({{"metrics.csv", text.csv},
                      {"metrics.json", text.json},
                      {"model.safetensors", model},
                      {kCheckpoint, checkpoint}},
                     kLinked);
      if (hooks.on_eval && !hooks.on_eval(row)) stopped = true;
    }
    // Every rank has the same row, so every rank decides the same.
    reached = reached || held_out_reached(row, o.stop_at_accuracy);
    if (comm.size() > 1) {
      // Rank 0's hooks may stop the run: every rank must stop at the same point.
      char stop = stopped ? 1 : 0;
      comm.broadcast(&stop, 1, 0, "the decision to stop");
      stopped = stop != 0;
    }
    return !stopped && !reached;
  };
  callbacks.on_step = [&](const StepInfo& info, const StepReport&) {
    if (hooks.on_step && comm.is_root()) hooks.on_step(info);
  };

  const Dataset* val = d.val ? &*d.val : nullptr;
  const Dataset* test = d.data.test ? &*d.data.test : nullptr;
  const FitResult fr =
      fit(net, *algo, d.data.train, val, test, d.norm, fo, callbacks, from ? &*from : nullptr, comm);
  outcome.ranks = comm.size();
  outcome.step_volume = fr.step_volume;
  outcome.steps = fr.steps;
  outcome.status = fr.diverged ? RunStatus::Diverged : stopped ? RunStatus::Stopped : RunStatus::Completed;
  const std::string at_iteration = "at iteration " + std::to_string(rows.empty() ? 0 : rows.back().iteration);
  outcome.message = fr.diverged ? fr.message
                    : stopped   ? "stopped " + at_iteration
                    : reached   ? "completed: held-out accuracy reached " + format_number(o.stop_at_accuracy) + " " +
                                    at_iteration
                                : "completed " + std::to_string(o.epochs) + " epochs";
  outcome.train_seconds = rows.empty() ? 0 : rows.back().seconds;
  const double epochs_done = rows.empty() ? 0 : rows.back().epoch;
  outcome.seconds_per_epoch = epochs_done > 0 ? outcome.train_seconds / epochs_done : 0;
  return outcome;
}

RunData load_run_data(const RunSpec& spec) {
  const DataSpecOptions& ds = spec.data();
  const std::string& name = spec.options().data;
  DataOptions data_options;
  data_options.data_dir = ds.dir;
  RunData d;
  d.data = load_data(ds.spec, data_options);
  if (ds.val_split > 0) d.val = split_validation(d.data.train, ds.val_split);
  if (ds.train_subset > 0) {
    if (ds.train_subset > d.data.train.size())
      throw OptionError("train_subset", "the training split of '" + name + "' has " +
                                            std::to_string(d.data.train.size()) + " samples (after --val-split), fewer than " +
                                            std::to_string(ds.train_subset));
    d.data.train = d.data.train.slice(0, ds.train_subset, d.data.train.name());
  }
  if (ds.test_subset > 0) {
    const Index have = d.data.test ? d.data.test->size() : 0;
    if (ds.test_subset > have)
      throw OptionError("test_subset", "the test split of '" + name + "' has " + std::to_string(have) +
                                           " samples, fewer than " + std::to_string(ds.test_subset));
    d.data.test = d.data.test->slice(0, ds.test_subset, d.data.test->name());
  }
  const Dataset& train = d.data.train;
  if (train.size() == 0) throw DataError(name + ": the training split has no samples");
  d.net = spec.model().network(train.sample_shape(), train.num_classes(), name);
  d.norm = ds.standardize ? train.fit_standardization() : Normalization{};
  d.proof = run_proof(spec.options(), train, d.val ? &*d.val : nullptr, d.data.test ? &*d.data.test : nullptr);
  return d;
}

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  return buf;
}

}  // namespace

void use_threads(int threads) {
  if (threads <= 0) threads = omp_get_num_procs();
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
}

template <typename T>
Network<T> initial_network(const NetworkSpec& net, const ModelSpec& model, std::uint64_t seed) {
  Rng rng(seed);
  Network<T> out(net, model.init, rng);
  if (!model.init_from.empty()) {
    check_recorded_architecture(model.init_from, net, "--init-from");
    load_parameters_into(out, model.init_from);
  }
  // RunSpec allows bf16 for float runs only.
  if constexpr (std::is_same_v<T, float>) out.set_precision(model.precision);
  return out;
}

template <typename T>
std::unique_ptr<TrainingAlgorithm<T>> run_algorithm(const RunSpec& spec, const NetworkSpec& net, Communicator& comm) {
  std::unique_ptr<TrainingAlgorithm<T>> algo = make_algorithm<T>(spec.algorithm(), net, comm);
  algo->set_diagnostics(spec.diagnostics());
  return algo;
}

std::map<std::string, std::string> model_metadata(const RunOptions& o, const Normalization& norm) {
  std::map<std::string, std::string> meta{
      {"sibp.algo", to_string(o.algo)}, {"sibp.data", o.data}, {"sibp.seed", std::to_string(o.seed)}};
  meta.merge(normalization_metadata(norm));
  return meta;
}

FitOptions run_fit_options(const RunSpec& spec) {
  FitOptions fo = spec.fit();
  fo.diagnostics = spec.diagnostics();
  return fo;
}

template Network<float> initial_network<float>(const NetworkSpec&, const ModelSpec&, std::uint64_t);
template Network<double> initial_network<double>(const NetworkSpec&, const ModelSpec&, std::uint64_t);
template std::unique_ptr<TrainingAlgorithm<float>> run_algorithm<float>(const RunSpec&, const NetworkSpec&,
                                                                        Communicator&);
template std::unique_ptr<TrainingAlgorithm<double>> run_algorithm<double>(const RunSpec&, const NetworkSpec&,
                                                                          Communicator&);

double estimated_training_bytes(const NetworkSpec& spec, Index batch, DType dtype) {
  const double value = dtype == DType::F64 ? 8.0 : 4.0;
  // Parameters, gradients or directions, two optimizer buffers, and the solvers'
  // workspaces (a few matrices the size of a layer's weights): eight copies.
  const double params = 8.0 * static_cast<double>(spec.num_parameters());
  const double per_sample = static_cast<double>(spec.activation_floats_per_sample());
  const double tape = per_sample * static_cast<double>(batch);
  const double eval = per_sample * static_cast<double>(evaluation_chunk(spec, 2000));
  return (params + tape + eval) * value;
}

double address_space_limit_bytes() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0.0;
  return static_cast<double>(limit.rlim_cur);
}

void check_training_memory(const NetworkSpec& spec, Index batch, DType dtype) {
  const double need = estimated_training_bytes(spec, batch, dtype);
  const std::string what = "the run needs about " + gigabytes(need) + " of memory (" +
                           std::to_string(spec.num_parameters()) + " parameters, batches of " + std::to_string(batch) +
                           "), more than ";
  const std::string hint = "; use a smaller network (--layers/--arch) or --batch";
  const double physical = physical_memory_bytes();
  if (physical > 0 && need > physical) throw UsageError(what + "this machine's " + gigabytes(physical) + hint);
  // The address-space limit (ulimit -v) would otherwise surface as std::bad_alloc
  // ("out of memory") in the middle of the first allocations.
  const double limit = address_space_limit_bytes();
  if (limit > 0 && need > limit)
    throw UsageError(what + "the process's address-space limit of " + gigabytes(limit) +
                     " (RLIMIT_AS, ulimit -v)" + hint + ", or raise the limit");
}

bool run_is_complete(const fs::path& out_dir) {
  const fs::path p = out_dir / "result.json";
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return false;
  try {
    const json j = read_json_file(p);
    return j.is_object() && j.contains("status") && j["status"].is_string();
  } catch (const std::exception&) {
    return false;
  }
}

RunOptions stored_run_options(const fs::path& out_dir) {
  RunOptions o;
  read_run_options(read_run_config(out_dir), (out_dir / "config.json").string(), o);
  return o;
}

namespace {

/// What rank 0 found in the output folder, for every rank (§6).
enum class FolderPlan : char { Fresh = 0, Resume = 1, Finished = 2, Refused = 3 };

/// Loads the run's data on every rank and agrees on the outcome: a rank that
/// cannot load (a file missing on one machine) fails the run on all of them,
/// each naming the ranks that failed, instead of leaving the others waiting in
/// their first collective until the time-out.
RunData load_on_every_rank(const RunSpec& spec, Communicator& comm) {
  if (comm.size() == 1) return load_run_data(spec);
  std::vector<double> failed(static_cast<std::size_t>(comm.size()), 0.0);
  std::string message;
  bool usage = false;
  RunData d;
  try {
    d = load_run_data(spec);
  } catch (const UsageError& e) {
    message = e.what();
    usage = true;
    failed[static_cast<std::size_t>(comm.rank())] = 1.0;
  } catch (const std::exception& e) {
    message = e.what();
    failed[static_cast<std::size_t>(comm.rank())] = 1.0;
  }
  comm.allreduce_sum(failed.data(), failed.size(), "the data-loading outcome");
  std::string ranks;
  for (std::size_t r = 0; r < failed.size(); ++r)
    if (failed[r] != 0) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  if (ranks.empty()) return d;
  comm.mark_failed_on_every_rank();  // every rank saw the same sum and throws below
  if (!message.empty()) {
    const std::string text = message + " (ranks that failed to load the data: " + ranks + ")";
    if (usage) throw UsageError(text);
    throw DataError(text);
  }
  throw DataError("rank(s) " + ranks + " of " +
                  std::to_string(comm.size()) + " could not load the data (their messages say why); every rank stops");
}

}  // namespace

namespace {

/// True for the modes that continue a run found in the folder.
bool continues(OutputMode mode) { return mode == OutputMode::Resume || mode == OutputMode::Continue; }

RunOutcome train_any(const RunSpec& spec, RunData& d, RunFolder* folder, const fs::path& out, bool resume,
                     const RunHooks& hooks, Communicator& comm) {
  return spec.options().dtype == DType::F64 ? train_typed<double>(spec, d, folder, out, resume, hooks, comm)
                                            : train_typed<float>(spec, d, folder, out, resume, hooks, comm);
}

/// The outcome of a run that finished before (rank 0 reads it from the folder).
RunOutcome already_finished(const fs::path& out, bool read_folder) {
  RunOutcome done;
  done.out_dir = out;
  done.message = "already finished";
  done.resumed = true;
  if (!read_folder) return done;
  done.rows = read_metrics_csv(out / "metrics.csv");
  const json result = read_json_file(out / "result.json");
  if (result.value("status", "") == "diverged") done.status = RunStatus::Diverged;
  return done;
}

/// Ranks other than 0: learn what rank 0 decided about the folder, then train
/// writing nothing (or stop with it).
RunOutcome follow_root(const RunSpec& spec, RunData& d, const fs::path& out, const RunHooks& hooks,
                       Communicator& comm) {
  char plan = 0;
  comm.broadcast(&plan, 1, 0, "the output folder's plan");
  switch (static_cast<FolderPlan>(plan)) {
    case FolderPlan::Fresh: break;
    case FolderPlan::Finished: return already_finished(out, false);
    case FolderPlan::Resume:
    case FolderPlan::Refused:
      throw UsageError("rank 0 refused the output folder " + out.string() + " (its message says why)");
  }
  return train_any(spec, d, nullptr, out, false, hooks, comm);
}

/// What to do with what the folder holds in `mode`: Fresh, Resume or Finished.
/// Throws UsageError when the mode does not allow it (or the stored run's
/// options differ from `options`).
FolderPlan plan_for(RunFolder::Content content, bool has_committed_generations, OutputMode mode, const fs::path& out,
                    const json& options, int processes) {
  const std::string hint = "; use --resume to continue it, --overwrite to start over, or another --out";
  const auto check_stored = [&] { check_same_options(run_options_json(stored_run_options(out)), options, out); };
  switch (content) {
    case RunFolder::Content::Empty:
      if (mode == OutputMode::Resume) throw UsageError("--resume: " + out.string() + " holds no run to resume");
      return FolderPlan::Fresh;
    case RunFolder::Content::Complete:
      if (mode == OutputMode::New) throw UsageError(out.string() + " already holds a finished run" + hint);
      if (!continues(mode)) return FolderPlan::Fresh;
      check_stored();
      return FolderPlan::Finished;
    case RunFolder::Content::Interrupted:
      if (mode == OutputMode::New) throw UsageError(out.string() + " holds an interrupted run" + hint);
      if (!continues(mode)) return FolderPlan::Fresh;
      check_stored();
      if (processes > 1)
        // The checkpoint is on rank 0's disk only; resuming would need it on every rank.
        throw UsageError(out.string() + " holds an interrupted run; resuming with " + std::to_string(processes) +
                         " processes is not supported: resume it with one process, or use --overwrite");
      return FolderPlan::Resume;
    case RunFolder::Content::Unusable:
      if (has_committed_generations && mode != OutputMode::Overwrite)
        // Generations without a valid .state link after a commit: the folder was
        // altered after the run (a deleted or changed link). They are kept.
        throw DataError(out.string() + " holds checkpoint generations (.gen-N folders) but its .state link is "
                        "missing or does not name one of them, so which one is the run's last cannot be told; "
                        "restore the link (ln -sfn .gen-N .state) to resume, or use --overwrite to start over");
      if (mode == OutputMode::New)
        throw UsageError(out.string() + " holds files of a run that stopped before its first checkpoint; use "
                                        "--overwrite to start over, or another --out");
      if (mode == OutputMode::Resume)
        throw UsageError("--resume: " + out.string() +
                         " holds no checkpoint (the run stopped before its first evaluation); use --overwrite");
      return FolderPlan::Fresh;
  }
  return FolderPlan::Fresh;
}

/// config.json of a new run: its options, the software and the data's shape.
void write_config(const fs::path& out, const json& options, const RunData& d) {
  json config = options;
  config["software"] = {{"name", "sibp"}, {"version", SIBP_VERSION}};
  config["data_shape"] = {{"train", d.data.train.size()},
                          {"val", d.val ? d.val->size() : 0},
                          {"test", d.data.test ? d.data.test->size() : 0},
                          {"features", d.data.train.num_features()},
                          {"input", d.net.input.to_string()},
                          {"classes", d.data.train.num_classes()}};
  write_file_atomic(out / "config.json", config.dump(2) + "\n");
}

/// result.json of a finished run.
json result_json(const RunOutcome& outcome, const Communicator& comm) {
  json result = {{"status", to_string(outcome.status)},
                 {"message", outcome.message},
                 {"train_seconds", outcome.train_seconds},
                 {"seconds_per_epoch", outcome.seconds_per_epoch},
                 {"evaluations", outcome.rows.size()}};
  if (comm.size() > 1) {
    // §6: what the run cost in communication (README, "Across processes").
    const CommVolume& v = outcome.step_volume;
    const double steps = std::max<double>(1.0, static_cast<double>(outcome.steps));
    result["processes"] = comm.size();
    result["communication_per_step"] = {{"allreduce_calls", static_cast<double>(v.allreduce_calls) / steps},
                                        {"allreduce_bytes", static_cast<double>(v.allreduce_bytes) / steps},
                                        {"gather_calls", static_cast<double>(v.gather_calls) / steps},
                                        {"gather_bytes", static_cast<double>(v.gather_bytes) / steps},
                                        {"broadcast_calls", static_cast<double>(v.broadcast_calls) / steps}};
  }
  if (!outcome.rows.empty()) result["final"] = row_json(outcome.rows.back());
  return result;
}

}  // namespace

RunOutcome run_training(const RunSpec& spec, const fs::path& out, const RunHooks& hooks, OutputMode mode,
                        Communicator& comm) {
  use_threads(spec.threads());
  // Everything that can be refused is checked before the folder is touched.
  RunData d = load_on_every_rank(spec, comm);
  // §6: ranks started with different options or data would train apart (or
  // meet in collectives of different sizes): they agree first, or all stop.
  agree_across_ranks(spec.options(), d.proof.data, comm);
  check_training_memory(d.net, spec.options().batch, spec.options().dtype);
  // Rank 0 owns the folder; the others learn what it decided and write nothing.
  if (!comm.is_root()) return follow_root(spec, d, out, hooks, comm);
  const auto tell_others = [&](FolderPlan plan) {
    if (comm.size() == 1) return;
    char c = static_cast<char>(plan);
    comm.broadcast(&c, 1, 0, "the output folder's plan");
  };
  std::optional<RunFolder> folder;
  const json options = run_options_json(spec.options());
  FolderPlan plan = FolderPlan::Fresh;
  std::optional<RunOutcome> finished;
  try {
    folder.emplace(out);
    plan = plan_for(folder->content(), folder->has_committed_generations(), mode, out, options, comm.size());
    if (plan == FolderPlan::Finished) {
      folder->finish();  // a run killed after result.json may still have its links
      finished = already_finished(out, true);
    }
  } catch (...) {
    tell_others(FolderPlan::Refused);
    throw;
  }
  tell_others(plan);
  if (finished) return *finished;
  const bool resume = plan == FolderPlan::Resume;
  if (!resume) {
    folder->clear();
    write_config(out, options, d);
  }
  RunOutcome outcome = train_any(spec, d, &*folder, out, resume, hooks, comm);
  if (outcome.status == RunStatus::Stopped) return outcome;  // resumable: the links stay
  write_file_atomic(out / "result.json", result_json(outcome, comm).dump(2) + "\n");
  folder->finish();
  return outcome;
}

}  // namespace sibp
