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
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/json_read.hpp"
#include "core/rng.hpp"
#include "io/metrics_file.hpp"
#include "io/model_metadata.hpp"
#include "io/safetensors.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

std::string to_string(RunStatus s) {
  switch (s) {
    case RunStatus::Completed: return "completed";
    case RunStatus::Diverged: return "diverged";
    case RunStatus::Stopped: return "stopped";
  }
  return "?";
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

/// Options that may differ between an interrupted run and its resumption
/// without changing its results: where the data lives and how many threads.
bool ignored_for_resume(const std::string& key) { return key == "data_dir" || key == "threads"; }

void check_same_options(const json& stored, const json& wanted, const fs::path& dir) {
  for (const auto& [key, value] : wanted.items()) {
    if (ignored_for_resume(key)) continue;
    const auto it = stored.find(key);
    if (it == stored.end() || *it != value)
      throw UsageError(dir.string() + " holds a run with " + key + " = " +
                       (it == stored.end() ? std::string("(unset)") : it->dump()) + ", but " + value.dump() +
                       " was asked for; continue it without changing options, or use --overwrite");
  }
}

// ---------------------------------------------------------------- checkpoints

template <typename T>
std::string checkpoint_bytes(const FitState& s, const AlgorithmState<T>& a, std::size_t rows) {
  TensorSet<T> set;
  for (const auto& [name, M] : a.tensors) set.matrices["algo." + name] = M;
  set.integers["fit.order"].assign(s.order.begin(), s.order.end());
  char seconds[64];
  std::snprintf(seconds, sizeof seconds, "%a", s.seconds);  // exact, unlike a decimal rendering
  set.metadata = {{"sibp.checkpoint", "1"},
                  {"fit.epoch", std::to_string(s.epoch)},
                  {"fit.batch", std::to_string(s.batch)},
                  {"fit.iteration", std::to_string(s.iteration)},
                  {"fit.seconds", seconds},
                  {"fit.samples", std::to_string(s.samples)},
                  {"fit.rng", s.rng},
                  {"algo.step", std::to_string(a.step)},
                  {"metrics.rows", std::to_string(rows)}};
  return encode_tensor_set(set);
}

template <typename T>
struct Checkpoint {
  FitState fit;
  AlgorithmState<T> algo;
  std::size_t rows = 0;
};

template <typename T>
Checkpoint<T> read_checkpoint(const fs::path& path) {
  const TensorSet<T> set = read_tensor_set<T>(path);
  const auto meta = [&](const char* key) -> const std::string& {
    const auto it = set.metadata.find(key);
    if (it == set.metadata.end()) throw DataError(path.string() + ": checkpoint metadata '" + key + "' is missing");
    return it->second;
  };
  const auto integer = [&](const char* key) {
    const std::string& text = meta(key);
    long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < 0)
      throw DataError(path.string() + ": checkpoint metadata '" + key + "' = '" + text + "' is not a count");
    return v;
  };
  if (meta("sibp.checkpoint") != "1")
    throw DataError(path.string() + ": checkpoint format '" + meta("sibp.checkpoint") + "', expected 1");
  Checkpoint<T> c;
  c.fit.epoch = static_cast<int>(integer("fit.epoch"));
  c.fit.batch = integer("fit.batch");
  c.fit.iteration = integer("fit.iteration");
  c.fit.samples = integer("fit.samples");
  c.fit.seconds = std::strtod(meta("fit.seconds").c_str(), nullptr);
  c.fit.rng = meta("fit.rng");
  c.algo.step = integer("algo.step");
  c.rows = static_cast<std::size_t>(integer("metrics.rows"));
  for (const auto& [name, M] : set.matrices) {
    if (name.rfind("algo.", 0) != 0) throw DataError(path.string() + ": unexpected checkpoint tensor '" + name + "'");
    c.algo.tensors[name.substr(5)] = M;
  }
  const auto order = set.integers.find("fit.order");
  if (order == set.integers.end()) throw DataError(path.string() + ": checkpoint tensor 'fit.order' is missing");
  c.fit.order.assign(order->second.begin(), order->second.end());
  return c;
}

// ---------------------------------------------------------------- the run

struct RunData {
  LoadedData data;
  std::optional<Dataset> val;
  Normalization norm;
  NetworkSpec net;
};

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
    const fs::path gen = folder->committed();
    load_parameters_into(net, gen / "model.safetensors");
    Checkpoint<T> c = read_checkpoint<T>(gen / kCheckpoint);
    algo->restore(c.algo, net);
    rows = read_metrics_csv(gen / "metrics.csv");
    if (rows.size() != c.rows)
      throw DataError((gen / "metrics.csv").string() + ": " + std::to_string(rows.size()) + " rows, but its checkpoint says " +
                      std::to_string(c.rows));
    from = std::move(c.fit);
    outcome.resumed = true;
  }

  const auto meta = model_metadata(o, d.norm);
  bool stopped = false;
  FitCallbacks<T> callbacks;
  callbacks.on_eval = [&](const MetricsRow& row, const Network<T>& current, const FitState& state) {
    rows.push_back(row);
    if (folder) {
      const MetricsText text = metrics_text(rows);
      folder->commit({{"metrics.csv", text.csv},
                      {"metrics.json", text.json},
                      {"model.safetensors", encode_network(current, meta)},
                      {kCheckpoint, checkpoint_bytes<T>(state, algo->state(), rows.size())}},
                     kLinked);
      if (hooks.on_eval && !hooks.on_eval(row)) stopped = true;
    }
    if (comm.size() > 1) {
      // Rank 0's hooks may stop the run: every rank must stop at the same point.
      char stop = stopped ? 1 : 0;
      comm.broadcast(&stop, 1, 0, "the decision to stop");
      stopped = stop != 0;
    }
    return !stopped;
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
  outcome.message = fr.diverged ? fr.message
                    : stopped   ? "stopped at iteration " + std::to_string(rows.empty() ? 0 : rows.back().iteration)
                                : "completed " + std::to_string(o.epochs) + " epochs";
  outcome.train_seconds = rows.empty() ? 0 : rows.back().seconds;
  const double epochs_done = rows.empty() ? 0 : rows.back().epoch;
  outcome.seconds_per_epoch = epochs_done > 0 ? outcome.train_seconds / epochs_done : 0;
  return outcome;
}

RunData load_run_data(const RunSpec& spec) {
  const RunOptions& o = spec.options();
  DataOptions data_options;
  data_options.data_dir = spec.data().dir;
  RunData d;
  d.data = load_data(spec.data().spec, data_options);
  if (o.val_split > 0) d.val = split_validation(d.data.train, o.val_split);
  if (o.train_subset > 0) {
    if (o.train_subset > d.data.train.size())
      throw OptionError("train_subset", "the training split of '" + o.data + "' has " +
                                            std::to_string(d.data.train.size()) + " samples (after --val-split), fewer than " +
                                            std::to_string(o.train_subset));
    d.data.train = d.data.train.slice(0, o.train_subset, d.data.train.name());
  }
  if (o.test_subset > 0) {
    const Index have = d.data.test ? d.data.test->size() : 0;
    if (o.test_subset > have)
      throw OptionError("test_subset", "the test split of '" + o.data + "' has " + std::to_string(have) +
                                           " samples, fewer than " + std::to_string(o.test_subset));
    d.data.test = d.data.test->slice(0, o.test_subset, d.data.test->name());
  }
  const Dataset& train = d.data.train;
  if (train.size() == 0) throw DataError(o.data + ": the training split has no samples");
  d.net = spec.model().network(train.sample_shape(), train.num_classes(), o.data);
  d.norm = o.standardize ? train.fit_standardization() : Normalization{};
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
  const fs::path file = out_dir / "config.json";
  json j = read_json_file(file);
  if (!j.is_object()) throw DataError(file.string() + ": expected a JSON object of run options");
  for (const char* drop : {"software", "data_shape"}) j.erase(drop);
  RunOptions o;
  read_run_options(j, file.string(), o);
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
  if (!message.empty()) {
    const std::string text = message + " (ranks that failed to load the data: " + ranks + ")";
    if (usage) throw UsageError(text);
    throw DataError(text);
  }
  throw DataError("rank(s) " + ranks + " of " +
                  std::to_string(comm.size()) + " could not load the data (their messages say why); every rank stops");
}

}  // namespace

RunOutcome run_training(const RunSpec& spec, const fs::path& out, const RunHooks& hooks, OutputMode mode,
                        Communicator& comm) {
  const RunOptions& o = spec.options();
  use_threads(spec.threads());
  // Everything that can be refused is checked before the folder is touched.
  RunData d = load_on_every_rank(spec, comm);
  check_training_memory(d.net, o.batch, o.dtype);
  if (!comm.is_root()) {
    // Rank 0 owns the folder; the others learn what it decided and write nothing.
    char plan = 0;
    comm.broadcast(&plan, 1, 0, "the output folder's plan");
    switch (static_cast<FolderPlan>(plan)) {
      case FolderPlan::Fresh: break;
      case FolderPlan::Finished: {
        RunOutcome done;
        done.out_dir = out;
        done.message = "already finished";
        done.resumed = true;
        return done;
      }
      case FolderPlan::Resume:
      case FolderPlan::Refused:
        throw UsageError("rank 0 refused the output folder " + out.string() +
                         " (its message says why)");
    }
    return o.dtype == DType::F64 ? train_typed<double>(spec, d, nullptr, out, false, hooks, comm)
                                 : train_typed<float>(spec, d, nullptr, out, false, hooks, comm);
  }
  const auto tell_others = [&](FolderPlan plan) {
    if (comm.size() == 1) return;
    char c = static_cast<char>(plan);
    comm.broadcast(&c, 1, 0, "the output folder's plan");
  };
  std::optional<RunFolder> folder_holder;
  RunFolder::Content content{};
  const json options = run_options_json(o);
  try {
    folder_holder.emplace(out);
    content = folder_holder->content();
  } catch (...) {
    tell_others(FolderPlan::Refused);
    throw;
  }
  RunFolder& folder = *folder_holder;
  const std::string hint = "; use --resume to continue it, --overwrite to start over, or another --out";
  try {
    switch (content) {
      case RunFolder::Content::Empty:
        if (mode == OutputMode::Resume) throw UsageError("--resume: " + out.string() + " holds no run to resume");
        break;
      case RunFolder::Content::Complete:
        if (mode == OutputMode::New)
          throw UsageError(out.string() + " already holds a finished run" + hint);
        if (mode == OutputMode::Resume || mode == OutputMode::Continue) {
          check_same_options(run_options_json(stored_run_options(out)), options, out);
          folder.finish();  // a run killed after result.json may still have its links
          RunOutcome done;
          done.out_dir = out;
          done.rows = read_metrics_csv(out / "metrics.csv");
          done.message = "already finished";
          done.resumed = true;
          const json result = read_json_file(out / "result.json");
          if (result.value("status", "") == "diverged") done.status = RunStatus::Diverged;
          tell_others(FolderPlan::Finished);
          return done;
        }
        break;
      case RunFolder::Content::Interrupted:
        if (mode == OutputMode::New) throw UsageError(out.string() + " holds an interrupted run" + hint);
        if (mode == OutputMode::Resume || mode == OutputMode::Continue)
          check_same_options(run_options_json(stored_run_options(out)), options, out);
        if ((mode == OutputMode::Resume || mode == OutputMode::Continue) && comm.size() > 1)
          // The checkpoint is on rank 0's disk only; resuming would need it on every rank.
          throw UsageError(out.string() + " holds an interrupted run; resuming with " + std::to_string(comm.size()) +
                           " processes is not supported: resume it with one process, or use --overwrite");
        break;
      case RunFolder::Content::Unusable:
        if (mode == OutputMode::New)
          throw UsageError(out.string() + " holds files of a run that stopped before its first checkpoint; use "
                                          "--overwrite to start over, or another --out");
        if (mode == OutputMode::Resume)
          throw UsageError("--resume: " + out.string() +
                           " holds no checkpoint (the run stopped before its first evaluation); use --overwrite");
        break;
    }
  } catch (...) {
    tell_others(FolderPlan::Refused);
    throw;
  }
  const bool resume =
      (mode == OutputMode::Resume || mode == OutputMode::Continue) && content == RunFolder::Content::Interrupted;
  tell_others(resume ? FolderPlan::Resume : FolderPlan::Fresh);
  if (!resume) {
    folder.clear();
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
  RunOutcome outcome = o.dtype == DType::F64 ? train_typed<double>(spec, d, &folder, out, resume, hooks, comm)
                                             : train_typed<float>(spec, d, &folder, out, resume, hooks, comm);
  if (outcome.status == RunStatus::Stopped) return outcome;  // resumable: the links stay
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
  write_file_atomic(out / "result.json", result.dump(2) + "\n");
  folder.finish();
  return outcome;
}

}  // namespace sibp
