// Training from Python: fit() on arrays, train() as `sibp train`, experiment
// files as `sibp compare` / `sibp sweep`, and the option table itself.
#include <pybind11/stl.h>

#include <omp.h>

#include <Eigen/Core>
#include <iostream>

#include "bindings.hpp"
#include "core/error.hpp"
#include "experiment/compare.hpp"
#include "experiment/training_run.hpp"
#include "io/metrics_file.hpp"
#include "io/model_metadata.hpp"
#include "train/registry.hpp"

namespace sibp::python {

using nlohmann::json;

namespace {

/// Sets the run's thread count for its scope and restores the previous one:
/// the setting is process-wide, and the interpreter outlives the call.
class ThreadScope {
 public:
  explicit ThreadScope(int threads) : omp_(omp_get_max_threads()), eigen_(Eigen::nbThreads()) { use_threads(threads); }
  ~ThreadScope() {
    omp_set_num_threads(omp_);
    Eigen::setNbThreads(eigen_);
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int omp_, eigen_;
};

/// What every training call returns to Python (the fields of sibp.History).
py::dict history(const std::vector<MetricsRow>& rows, const std::string& status, const std::string& message,
                 long long iterations, const std::vector<std::string>& copies = {}) {
  py::list list;
  for (const MetricsRow& r : rows) list.append(row_dict(r));
  py::dict h;
  h["rows"] = list;
  h["csv"] = rows.empty() ? std::string() : metrics_text(rows).csv;
  h["status"] = status;
  h["message"] = message;
  h["iterations"] = iterations;
  h["copies"] = copies;
  return h;
}

/// Attaches `history` to the Python exception in flight as `.history`.
void attach_history(py::error_already_set& e, const py::dict& h) {
  py::object value = e.value();
  if (value) {
    try {
      value.attr("history") = h;
    } catch (py::error_already_set&) {
      // An exception type without attributes keeps going without it.
    }
  }
}

/// Calls every Python callback with a fresh dict of `row`; true if any returned
/// a true value. Requires the GIL.
bool call_callbacks(const py::list& callbacks, const MetricsRow& row) {
  bool stop = false;
  for (py::handle cb : callbacks)
    if (py::bool_(cb(row_dict(row)))) stop = true;
  return stop;
}

/// Resets the network's use marker however fit() ends.
struct TrainingScope {
  PyNetwork& net;
  explicit TrainingScope(PyNetwork& n) : net(n) {
    if (net.training != PyNetwork::Training::No)
      throw std::runtime_error("fit: the network is already being trained by fit()");
    net.check_writable("fit");
    net.training = PyNetwork::Training::Running;
  }
  ~TrainingScope() { net.training = PyNetwork::Training::No; }
};

template <typename T>
py::dict fit_typed(PyNetwork& self, Network<T>& net, const RunSpec& spec, ArrayData& train,
                   std::optional<ArrayData>& val, std::optional<ArrayData>& test, const py::list& py_callbacks,
                   std::vector<std::string> copies) {
  const RunOptions& o = spec.options();
  std::optional<Dataset> held_out;
  if (spec.data().val_split > 0) {
    if (val) throw UsageError("fit: give val_data or val_split, not both");
    try {
      held_out = split_validation(train.data, spec.data().val_split);  // views stay views
    } catch (const UsageError& e) {
      std::string detail = e.what();
      const std::string prefix = "--val-split: ";
      if (detail.rfind(prefix, 0) == 0) detail.erase(0, prefix.size());
      throw OptionError("val_split", detail);
    }
  }
  const Normalization norm = spec.data().standardize ? train.data.fit_standardization() : Normalization{};
  std::unique_ptr<TrainingAlgorithm<T>> algo = run_algorithm<T>(spec, net.spec());
  const FitOptions fo = run_fit_options(spec);

  // What the model file will say: the run's metadata as `sibp train` writes it,
  // but no data set name (the arrays have none).
  std::map<std::string, std::string> meta = self.metadata();
  for (const char* k : {"sibp.data", kMetaNormMean, kMetaNormInvStd}) meta.erase(k);
  for (auto& [k, v] : model_metadata(o, norm))
    if (k != "sibp.data") meta[k] = v;
  self.set_metadata(std::move(meta));

  std::vector<MetricsRow> rows;
  long long iterations = 0;
  Network<T> last_evaluated = net;  // what a divergence falls back to, as the CLI's model file
  FitCallbacks<T> callbacks;
  callbacks.on_eval = [&](const MetricsRow& row, const Network<T>& current, const FitState& state) {
    rows.push_back(row);
    iterations = state.iteration;
    for (std::size_t i = 0; i < current.num_param_layers(); ++i) {
      last_evaluated.params(i).W = current.params(i).W;
      last_evaluated.params(i).b = current.params(i).b;
    }
    py::gil_scoped_acquire gil;
    self.training = PyNetwork::Training::InCallback;
    const bool stop = call_callbacks(py_callbacks, row);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    self.training = PyNetwork::Training::Running;
    return !stop;
  };
  callbacks.on_step = [&](const StepInfo& info, const StepReport&) {
    iterations = info.iteration;
    check_signals_without_gil();
  };

  const Dataset* val_set = held_out ? &*held_out : val ? &val->data : nullptr;
  const Dataset* test_set = test ? &test->data : nullptr;
  FitResult result;
  try {
    ThreadScope threads(spec.threads());
    py::gil_scoped_release nogil;
    result = fit(net, *algo, train.data, val_set, test_set, norm, fo, callbacks);
  } catch (py::error_already_set& e) {
    attach_history(e, history(rows, "interrupted", "interrupted at iteration " + std::to_string(iterations), iterations,
                              copies));
    throw;
  }
  if (result.diverged) {
    net = std::move(last_evaluated);
    py::dict attrs;
    attrs["history"] = history(rows, "diverged", result.message, result.diverged_iteration, copies);
    attrs["epoch"] = result.diverged_epoch;
    attrs["iteration"] = result.diverged_iteration;
    raise("Diverged", result.message, attrs);
  }
  const bool stopped = result.stopped_by_callback;
  return history(rows, stopped ? "stopped" : "completed",
                 stopped ? "stopped by a callback at iteration " + std::to_string(iterations)
                         : "completed " + std::to_string(o.epochs) + " epochs",
                 iterations, copies);
}

py::dict fit_py(PyNetwork& self, const py::dict& options, py::handle X, py::handle y, py::object test,
                py::object val, const py::list& callbacks) {
  std::vector<std::string> keys;
  const RunSpec spec(run_options_from(options, &keys));
  check_applicable(spec.options(), keys);
  check_training_memory(self.spec(), spec.options().batch, self.dtype());
  const Shape& input = self.spec().input;
  const int classes = static_cast<int>(self.spec().output_size());
  const auto pair = [&](py::object data, const char* what) -> std::optional<ArrayData> {
    if (data.is_none()) return std::nullopt;
    py::sequence s = data.cast<py::sequence>();
    if (s.size() != 2) throw py::value_error(std::string(what) + ": expected a pair (X, y)");
    return array_data(s[0], s[1], input, classes, what);
  };
  ArrayData train = array_data(X, y, input, classes, "X");
  std::optional<ArrayData> test_data = pair(test, "test_data");
  std::optional<ArrayData> val_data = pair(val, "val_data");
  std::vector<std::string> copies = train.copies;
  for (const auto* d : {&test_data, &val_data})
    if (*d) copies.insert(copies.end(), (*d)->copies.begin(), (*d)->copies.end());

  TrainingScope scope(self);
  return std::visit(
      [&](auto& net) { return fit_typed(self, net, spec, train, val_data, test_data, callbacks, copies); },
      self.net());
}

py::dict train_py(const py::dict& options, const std::string& out, bool resume, bool overwrite,
                  const py::list& py_callbacks) {
  if (resume && overwrite) throw UsageError("train: resume and overwrite exclude each other");
  // As `sibp train`: with resume the stored options, and the given ones on top
  // (which must not change them).
  RunOptions o;
  if (resume) {
    if (!std::filesystem::exists(std::filesystem::path(out) / "config.json"))
      throw UsageError("resume: " + out + " holds no run to resume (no config.json)");
    o = stored_run_options(out);
  }
  std::vector<std::string> keys;
  {
    const RunOptions given = run_options_from(options, &keys);
    for (const std::string& key : keys) find_run_option(key)->from_json(o, find_run_option(key)->to_json(given));
  }
  check_applicable(o, keys);
  const RunSpec spec(o);
  const OutputMode mode = resume ? OutputMode::Resume : overwrite ? OutputMode::Overwrite : OutputMode::New;

  std::vector<MetricsRow> rows;
  long long iterations = 0;
  RunHooks hooks;
  hooks.on_step = [&](const StepInfo& info) {
    iterations = info.iteration;
    check_signals_without_gil();
  };
  hooks.on_eval = [&](const MetricsRow& row) {
    rows.push_back(row);
    py::gil_scoped_acquire gil;
    const bool stop = call_callbacks(py_callbacks, row);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    return !stop;
  };
  RunOutcome outcome;
  try {
    ThreadScope threads(spec.threads());
    py::gil_scoped_release nogil;
    outcome = run_training(spec, out, hooks, mode);
  } catch (py::error_already_set& e) {
    attach_history(e, history(rows, "interrupted", "interrupted at iteration " + std::to_string(iterations) +
                                                       "; resume it with resume=True",
                              iterations));
    throw;
  }
  const long long done = outcome.rows.empty() ? 0 : outcome.rows.back().iteration;
  py::dict h = history(outcome.rows, to_string(outcome.status), outcome.message, done);
  h["seconds_per_epoch"] = outcome.seconds_per_epoch;
  h["out"] = outcome.out_dir.string();
  if (outcome.status == RunStatus::Diverged) {
    py::dict attrs;
    attrs["history"] = h;
    attrs["epoch"] = outcome.rows.empty() ? 0 : static_cast<int>(outcome.rows.back().epoch);
    attrs["iteration"] = done;
    raise("Diverged", outcome.message + "; metrics so far and the last good model are kept in " + out, attrs);
  }
  return h;
}

py::dict run_experiment_py(py::object source, const std::string& out, const std::string& data_dir,
                           const std::vector<std::string>& only, bool verbose, bool sweep_only) {
  ExperimentFile e;
  if (py::isinstance<py::dict>(source)) {
    e = parse_experiment(to_json(source, "experiment"), "experiment");
  } else {
    const std::string path = py::str(source);
    e = load_experiment(path);
  }
  if (sweep_only && e.kind == ExperimentKind::Compare)
    throw UsageError(e.source + ": is an experiment of kind \"compare\"; run it with sibp.compare()");
  ExperimentOptions options;
  options.out_dir = out;
  options.plan.data_dir = data_dir;
  options.plan.only = only;
  options.progress = verbose ? &std::cerr : nullptr;
  options.hooks.on_step = [](const StepInfo&) { check_signals_without_gil(); };
  ExperimentRunReport report;
  {
    py::gil_scoped_release nogil;
    report = run_experiment(e, options);
  }
  py::dict r;
  r["kind"] = to_string(e.kind);
  r["planned"] = report.planned;
  r["trained"] = report.trained;
  r["skipped"] = report.skipped;
  r["diverged"] = report.diverged;
  std::vector<std::string> dirs, plots;
  for (const auto& d : report.trained_dirs) dirs.push_back(d.string());
  for (const PlotFiles& p : report.outputs.plots) plots.push_back(p.svg.string());
  r["trained_dirs"] = dirs;
  r["table"] = report.outputs.table.string();
  r["report"] = report.outputs.report.string();
  r["plots"] = plots;
  return r;
}

py::list option_table_py() {
  const RunOptions defaults;
  py::list out;
  for (const RunOptionInfo& info : run_option_table()) {
    py::dict d;
    d["key"] = info.key;
    d["name"] = python_name(info.key);
    d["cli"] = info.cli;
    d["group"] = info.group;
    d["help"] = info.help;
    d["value_name"] = info.value_name;
    d["flag"] = info.flag;
    d["repeatable"] = info.repeatable;
    d["number"] = info.number;
    std::vector<std::string> algos;
    for (Algo a : info.applies_to) algos.push_back(to_string(a));
    d["applies_to"] = algos;
    const json value = info.to_json(defaults);
    d["default"] = from_json(value.is_null() ? info.unwritten_default : value);
    out.append(d);
  }
  return out;
}

/// Validates `options` as a run would and returns the resolved options
/// (run_options_json: algorithm-dependent defaults written out).
py::object resolve_py(const py::dict& options) {
  std::vector<std::string> keys;
  RunOptions o = run_options_from(options, &keys);
  check_applicable(o, keys);
  const RunSpec spec(o);
  return from_json(run_options_json(spec.options()));
}

}  // namespace

void register_training(py::module_& m) {
  m.def("option_table", &option_table_py, "The run options of `sibp train` (run_option_table), as dicts.");
  m.def("resolve", &resolve_py, py::arg("options"),
        "Validates run options (keys of config.json) and returns them with the defaults resolved.");
  m.def(
      "algorithms",
      [] {
        py::list out;
        for (const AlgorithmName* n : algorithm_names()) {
          py::dict d;
          d["name"] = n->name;
          d["python_class"] = n->python_class;
          d["summary"] = n->summary;
          out.append(d);
        }
        return out;
      },
      "The registered algorithms (train/registry.hpp): name (--algo), python_class, summary.");
  m.def("fit", &fit_py, py::arg("net"), py::arg("options"), py::arg("X"), py::arg("y"), py::arg("test"),
        py::arg("val"), py::arg("callbacks"));
  m.def("train", &train_py, py::arg("options"), py::arg("out"), py::arg("resume"), py::arg("overwrite"),
        py::arg("callbacks"));
  m.def("run_experiment", &run_experiment_py, py::arg("source"), py::arg("out"), py::arg("data_dir"),
        py::arg("only"), py::arg("verbose"), py::arg("sweep_only"));
}

}  // namespace sibp::python
