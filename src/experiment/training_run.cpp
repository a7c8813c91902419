#include "experiment/training_run.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/rng.hpp"
#include "data/data_source.hpp"
#include "experiment/make_algorithm.hpp"
#include "io/metrics_file.hpp"
#include "io/safetensors.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

std::string to_string(RunStatus s) { return s == RunStatus::Completed ? "completed" : "diverged"; }

namespace {

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

std::map<std::string, std::string> model_metadata(const RunConfig& c, const Normalization& norm) {
  std::map<std::string, std::string> meta{{"sibp.algo", c.algo}, {"sibp.data", c.data},
                                          {"sibp.seed", std::to_string(c.seed)}};
  if (norm.standardize()) {
    meta["sibp.norm.mean"] = json(norm.mean).dump();
    meta["sibp.norm.inv_std"] = json(norm.inv_std).dump();
  }
  return meta;
}

template <typename T>
RunOutcome run_typed(const RunConfig& c, const NetworkSpec& spec, const Dataset& train,
                     const Dataset* val, const Dataset* test, const Normalization& norm,
                     const fs::path& out, const RunHooks& hooks) {
  Rng rng(c.seed);
  Network<T> net(spec, Initializer::parse(c.init), rng);
  if (!c.init_from.empty()) load_parameters_into(net, c.init_from);
  std::unique_ptr<TrainingAlgorithm<T>> algo = make_algorithm<T>(c, spec);
  algo->set_diagnostics(c.diagnostics);

  FitOptions fo;
  fo.epochs = c.epochs;
  fo.batch_size = c.batch;
  fo.seed = c.seed;
  fo.eval_every = c.eval_every;
  fo.gradient_norm = c.grad_norm || c.diagnostics;

  const auto meta = model_metadata(c, norm);
  std::vector<MetricsRow> rows;
  // --diagnostics: the last step's per-layer report at each evaluation point,
  // as metrics columns and, with the line-search exponents, diagnostics.json.
  StepReport last_step;
  json diagnostics = json::array();
  FitCallbacks<T> callbacks;
  callbacks.on_eval = [&](const MetricsRow& evaluated, const Network<T>& current) {
    MetricsRow row = evaluated;
    if (c.diagnostics && row.iteration > 0) {
      json point = {{"epoch", row.epoch}, {"iteration", row.iteration}, {"layers", json::array()}};
      for (const LayerDiagnostics& d : last_step.layers) {
        const std::string p = "layer" + std::to_string(d.layer + 1) + "_";
        row.extra.emplace_back(p + "obj_before", d.objective_before);
        row.extra.emplace_back(p + "obj_after", d.objective_after);
        row.extra.emplace_back(p + "solver_iters", d.solver_iterations);
        point["layers"].push_back({{"layer", d.layer + 1},
                                   {"objective_before", d.objective_before},
                                   {"objective_after", d.objective_after},
                                   {"solver_iterations", d.solver_iterations},
                                   {"line_search_exponents", d.line_search_exponents}});
      }
      diagnostics.push_back(point);
      write_file_atomic(out / "diagnostics.json", diagnostics.dump(1) + "\n");
    }
    rows.push_back(row);
    write_metrics(out, rows);
    if (current.all_finite()) save_safetensors(current, out / "model.safetensors", meta);
    return true;
  };
  callbacks.on_step = [&](const StepInfo& info, const StepReport& report) {
    if (c.diagnostics) last_step = report;
    if (hooks.on_step) hooks.on_step(info);
  };

  const FitResult fr = fit(net, *algo, train, val, test, norm, fo, callbacks);
  RunOutcome outcome;
  outcome.out_dir = out;
  outcome.rows = rows;
  outcome.status = fr.diverged ? RunStatus::Diverged : RunStatus::Completed;
  outcome.message = fr.diverged ? fr.message : "completed " + std::to_string(c.epochs) + " epochs";
  outcome.train_seconds = rows.empty() ? 0 : rows.back().seconds;
  const double epochs_done = rows.empty() ? 0 : rows.back().epoch;
  outcome.seconds_per_epoch = epochs_done > 0 ? outcome.train_seconds / epochs_done : 0;
  return outcome;
}

}  // namespace

bool run_is_complete(const fs::path& out_dir) {
  const fs::path p = out_dir / "result.json";
  if (!fs::exists(p)) return false;
  try {
    const json j = json::parse(read_file(p));
    return j.contains("status") && j["status"].is_string();
  } catch (const std::exception&) {
    return false;
  }
}

RunOutcome run_training(const RunConfig& c, const fs::path& out, const RunHooks& hooks) {
  c.validate();
  {
    const int threads = c.threads > 0 ? c.threads : omp_get_num_procs();
    omp_set_num_threads(threads);
    Eigen::setNbThreads(threads);
  }
  const Loss loss = parse_loss(c.loss);
  const Activation hidden = parse_activation(c.act);
  std::optional<Architecture> arch;
  std::vector<Index> widths;
  if (!c.arch.empty())
    arch = Architecture::parse(c.arch);
  else
    widths = parse_widths(c.layers);
  Initializer::parse(c.init);  // fail on a bad initialiser before loading data

  DataOptions data_options;
  data_options.data_dir = c.data_dir.empty() ? default_data_dir() : fs::path(c.data_dir);
  LoadedData data = load_data(parse_data_spec(c.data), data_options);
  std::optional<Dataset> val;
  if (c.val_split > 0) val = split_validation(data.train, static_cast<Index>(c.val_split));
  const Dataset& train = data.train;
  if (!arch) {
    if (widths.front() != train.num_features())
      throw UsageError("--layers " + c.layers + ": the first width must equal the number of features of '" +
                       c.data + "', which is " + std::to_string(train.num_features()) + ", got " +
                       std::to_string(widths.front()));
    if (widths.back() != train.num_classes())
      throw UsageError("--layers " + c.layers + ": the last width must equal the number of classes of '" +
                       c.data + "', which is " + std::to_string(train.num_classes()) + ", got " +
                       std::to_string(widths.back()));
    arch = Architecture::from_widths(widths, hidden);
  }
  const NetworkSpec spec = NetworkSpec::build(*arch, train.sample_shape(), loss, train.num_classes());
  const Normalization norm = c.standardize ? train.fit_standardization() : Normalization{};
  make_algorithm<float>(c, spec);  // validate algorithm options before writing anything

  ensure_writable_dir(out);
  std::error_code ec;
  fs::remove(out / "result.json", ec);  // a rerun into the same folder is not complete until it ends
  json config = c.to_json();
  config["software"] = {{"name", "sibp"}, {"version", SIBP_VERSION}};
  config["data_shape"] = {{"train", train.size()},
                          {"val", val ? val->size() : 0},
                          {"test", data.test ? data.test->size() : 0},
                          {"features", train.num_features()},
                          {"classes", train.num_classes()}};
  write_file_atomic(out / "config.json", config.dump(2) + "\n");

  const Dataset* val_ptr = val ? &*val : nullptr;
  const Dataset* test_ptr = data.test ? &*data.test : nullptr;
  RunOutcome outcome = c.dtype == "f64"
                           ? run_typed<double>(c, spec, train, val_ptr, test_ptr, norm, out, hooks)
                           : run_typed<float>(c, spec, train, val_ptr, test_ptr, norm, out, hooks);
  json result = {{"status", to_string(outcome.status)},
                 {"message", outcome.message},
                 {"train_seconds", outcome.train_seconds},
                 {"seconds_per_epoch", outcome.seconds_per_epoch},
                 {"evaluations", outcome.rows.size()}};
  if (!outcome.rows.empty()) result["final"] = row_json(outcome.rows.back());
  write_file_atomic(out / "result.json", result.dump(2) + "\n");
  return outcome;
}

}  // namespace sibp
