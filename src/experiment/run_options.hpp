#pragma once
/// One typed description of a training run, read the same way from the command
/// line, `config.json`, experiment files and Python keyword arguments.
///
/// Two levels:
/// - RunOptions: the options a user sets, one field per `sibp train` option
///   (JSON key = option name without dashes, '-' → '_'), each already typed
///   (an Activation, a SolverSpec, an Architecture, never a string to parse
///   later). The option table (run_option_table) is the one list of options:
///   names, help texts, defaults (RunOptions{}), which algorithms they apply
///   to, and how each is read and written.
/// - RunSpec: what a run is, resolved from RunOptions once, at construction:
///   data, model, schedule, and one `variant` of the algorithm options (with
///   the defaults that depend on the algorithm filled in). Code below it sees
///   only typed structs.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/shape.hpp"
#include "data/data_source.hpp"
#include "nn/architecture.hpp"
#include "nn/init.hpp"
#include "train/algorithms.hpp"
#include "train/fit.hpp"
#include "train/proxprop.hpp"
#include "train/sibp.hpp"

namespace sibp {

/// Largest accepted --threads.
inline constexpr int kMaxThreads = 256;

/// The training algorithm of a run, as `--algo` names it: a name of the
/// algorithm registry (train/registry.hpp), which is the list of algorithms.
struct Algo {
  std::string name = "sgd";
  /// Names of built-in algorithms, for C++ callers (the registry has every one).
  static const Algo SGD, Momentum, Nesterov, Adam, SIBP, ProxProp;
  bool operator==(const Algo& o) const { return name == o.name; }
  bool operator!=(const Algo& o) const { return name != o.name; }
  bool operator<(const Algo& o) const { return name < o.name; }
};
inline const Algo Algo::SGD{"sgd"}, Algo::Momentum{"momentum"}, Algo::Nesterov{"nesterov"}, Algo::Adam{"adam"},
    Algo::SIBP{"sibp"}, Algo::ProxProp{"proxprop"};
/// The name.
inline std::string to_string(const Algo& a) { return a.name; }
/// Throws OptionError("algo") listing the registered names unless `name` is one.
Algo parse_algo(std::string_view name);
/// "f32" or "bf16"; throws OptionError("precision") otherwise.
Precision parse_precision(std::string_view name);

/// Every option of `sibp train`, typed, with the library defaults.
/// An unset std::optional means "the default for the chosen algorithm".
struct RunOptions {
  // Data
  std::string data = "mnist";   ///< a --data spec (validated when set)
  std::string data_dir;         ///< folder of fetched data sets; empty: $SIBP_DATA_DIR or ./data
  Index val_split = 0;          ///< hold out the last N training samples
  Index train_subset = 0;       ///< train on the first N training samples only (0: all)
  Index test_subset = 0;        ///< evaluate on the first N test samples only (0: all)
  bool standardize = false;     ///< per-feature standardisation (fitted on the training split)
  // Model
  std::vector<Index> layers{784, 500, 10};  ///< --layers shorthand (input .. classes), with act
  std::optional<Architecture> arch;         ///< --arch; when set, layers and act are not used
  Activation act = Activation::ReLU;        ///< hidden activation of --layers
  Loss loss = Loss::SoftmaxCrossEntropy;
  Initializer init;                         ///< normal:0.05, the SIBP authors'
  std::string init_from;                    ///< safetensors file to start from
  DType dtype = DType::F32;
  /// Inputs of the forward/backward products: f32, or bf16 (float32 master
  /// weights, accumulation and solvers; nn/bf16.hpp). bf16 needs --dtype f32
  /// and a CPU with AVX512-BF16, checked by RunSpec.
  Precision precision = Precision::F32;
  // Algorithm
  Algo algo = Algo::SGD;
  // Unset optionals take the chosen algorithm's default (its unit's resolve()).
  std::optional<double> lr;            ///< e.g. 0.1 (SGD family), 1e-3 (Adam), 1 (ProxProp's outer SGD)
  std::optional<double> momentum;      ///< 0.9 for momentum/nesterov, else 0
  bool nesterov = false;
  std::optional<double> weight_decay;  ///< 0, or 1e-2 for adamw (as torch.optim.AdamW)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // SIBP (ALGORITHMS.md §3)
  double eta = 0.1;
  std::vector<double> lambda{1.0};
  std::optional<SolverSpec> solver;  ///< unset: exact:gn-cg, or reference when quirks are asked for
  int solver_iters = 0;  ///< 0: each solver's default (5 reference, 3 gn-cg)
  UpdateMode update = UpdateMode::Sequential;
  ReferenceQuirks quirks;            ///< --quirk (each one named)
  bool compat_authors = false;       ///< --compat authors: every quirk
  // ProxProp (ALGORITHMS.md §4)
  double tau = 0.05;
  ProxPropSolver prox_solver = ProxPropSolver::CG;
  int prox_iters = 3;
  ProxPropCg prox_cg = ProxPropCg::Reference;
  UpdateKind outer = UpdateKind::SGD;
  /// The options algorithm units declare themselves (AlgorithmInfo::options),
  /// by key; a missing key has the unit's default.
  nlohmann::json unit_options = nlohmann::json::object();
  // Loop
  int epochs = 5;
  Index batch = 100;
  std::uint64_t seed = 1;
  Index eval_every = 0;
  /// How batches are drawn: a shuffle per epoch, or each batch independently.
  BatchSampling sampling = BatchSampling::Shuffle;
  /// --schedule and --warmup: the factor of every step (train/schedule.hpp).
  StepSchedule schedule;
  bool diagnostics = false;  ///< per-layer diagnostics and ‖∇L‖ at each evaluation
  bool grad_norm = false;    ///< ‖∇L‖ at each evaluation (implied by diagnostics)
  bool skip_train_eval = false;  ///< no training-set loss/accuracy at evaluation points
  TrainEval train_eval = TrainEval::Every;  ///< where the training set is evaluated (skip_train_eval: nowhere)
  /// > 0: end the run (completed) at the first evaluation point where every
  /// held-out accuracy it has (validation, test) is at least this; 0: never.
  double stop_at_accuracy = 0;
  /// Threads of the library's pool; 0 (the default): all cores. Safe on a
  /// busy machine because the pool's threads block instead of spinning and
  /// only work of ~1 ms or more (products of >= 1e8 flop, convolutions in
  /// sub-batches, evaluation over the data set) is handed to them: a batch-100
  /// MLP step stays on the calling thread, so a second thread can cost it
  /// nothing (README, Performance).
  int threads = 0;
};

/// One option of RunOptions: its name, documentation, and how it is read and written.
struct RunOptionInfo {
  std::string key;         ///< JSON key ("solver_iters")
  std::string cli;         ///< command-line name ("--solver-iters"; "--quirk" for quirks)
  std::string group;       ///< help section: Data, Model, Algorithm, SIBP, ProxProp, Training loop
  std::string help;        ///< one line, with the default when it depends on the algorithm
  std::string value_name;  ///< e.g. "NUMBER", "SPEC"; empty for flags
  bool flag = false;       ///< a switch: `--standardize` on the CLI, true/false in JSON
  bool repeatable = false; ///< may be given several times on the CLI (--quirk)
  bool number = false;     ///< a real number (or λ): a sweep may vary it
  /// The algorithms it applies to; empty: every run.
  std::set<Algo> applies_to;
  /// Sets the option from a JSON value (what files and Python give). Throws
  /// OptionError(key, what was expected, what was found).
  std::function<void(RunOptions&, const nlohmann::json&)> from_json;
  /// Sets the option from command-line text (for a repeatable option, called per value).
  std::function<void(RunOptions&, const std::string&)> from_text;
  /// The option's value as JSON; null when unset (an optional left to its default).
  std::function<nlohmann::json(const RunOptions&)> to_json;
  /// For an option added after runs were recorded, which to_json leaves out
  /// (null) at its default so that their config.json and run digest stay what
  /// they were: that default, for the option reference and Python. Else null.
  nlohmann::json unwritten_default;

  bool applies(Algo a) const { return applies_to.empty() || applies_to.count(a) > 0; }
};

/// The options of `sibp train`, in help order. The one list: the CLI, the JSON
/// readers and writers and the Python bindings are all generated from it.
const std::vector<RunOptionInfo>& run_option_table();
/// The entry for `key`, or null.
const RunOptionInfo* find_run_option(std::string_view key);

/// Reads the keys of a JSON object over `options`. Throws UsageError naming
/// `source` and the key for a value that is not a JSON object, an unknown key,
/// or a bad value ("x.json: key 'epochs': expected an integer from 1 to ...").
void read_run_options(const nlohmann::json& j, const std::string& source, RunOptions& options);
/// The options as a JSON object: every option that applies to options.algo, with
/// resolved defaults written out (so the object alone reproduces the run).
nlohmann::json run_options_json(const RunOptions& options);
/// Throws OptionError for the first key of `keys` that does not apply to
/// options.algo ("--eta applies to --algo sibp, not sgd"): for options a user
/// set explicitly, where a mismatch is a mistake. (Keys inherited from a base
/// or a config file may not apply; they are ignored.)
void check_applicable(const RunOptions& options, const std::vector<std::string>& keys);

/// The option reference (docs/options.md, `sibp options --markdown`): the
/// algorithms of the registry, then one table per option group, generated from
/// the option table so it cannot go stale.
std::string run_options_markdown();

/// The model part of a run.
struct ModelSpec {
  std::optional<Architecture> arch;  ///< --arch, else --layers with act
  std::vector<Index> widths;         ///< --layers (input .. classes)
  Activation act = Activation::ReLU;
  Loss loss = Loss::SoftmaxCrossEntropy;
  Initializer init;
  std::string init_from;
  DType dtype = DType::F32;
  Precision precision = Precision::F32;

  /// The network for samples of `input` and `classes` classes. Throws UsageError
  /// naming --layers or --arch when the widths or shapes do not fit the data.
  NetworkSpec network(const Shape& input, Index classes, const std::string& data_name) const;
};

/// The data part of a run.
struct DataSpecOptions {
  DataSpec spec;              ///< parsed --data
  std::filesystem::path dir;  ///< resolved data folder
  Index val_split = 0;
  Index train_subset = 0;
  Index test_subset = 0;
  bool standardize = false;
};

/// A training run, resolved and validated once.
class RunSpec {
 public:
  /// Resolves the algorithm-dependent defaults (lr, momentum, quirks ⇒ reference
  /// solver) and validates every option. Throws OptionError / UsageError naming
  /// the option.
  explicit RunSpec(const RunOptions& options);

  const RunOptions& options() const { return options_; }
  const DataSpecOptions& data() const { return data_; }
  const ModelSpec& model() const { return model_; }
  const AlgorithmOptions& algorithm() const { return algorithm_; }
  const FitOptions& fit() const { return fit_; }
  int threads() const { return threads_; }
  bool diagnostics() const { return options_.diagnostics; }

 private:
  RunOptions options_;  // with the algorithm-dependent defaults filled in
  DataSpecOptions data_;
  ModelSpec model_;
  AlgorithmOptions algorithm_;
  FitOptions fit_;
  int threads_ = 1;
};

}  // namespace sibp
