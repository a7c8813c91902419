#pragma once
/// Everything that defines one training run, in one plain struct.
///
/// The fields mirror `sibp train`'s options one to one (JSON key = option
/// name without dashes, '-' → '_'), so a run is described the same way on
/// the command line, in `config.json` next to its results, and in an
/// experiment file. Values stay plain (numbers and strings) here; they are
/// parsed into algorithm options once, by make_algorithm().
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sibp {

struct RunConfig {
  // Data
  std::string data = "mnist";   ///< --data spec (see data/data_source.hpp)
  std::string data_dir;         ///< folder of fetched data sets; empty: SIBP_DATA_DIR or ./data
  long long val_split = 0;      ///< hold out the last N training samples
  bool standardize = false;     ///< per-feature standardisation (fitted on the training split)
  // Model
  std::string layers = "784-500-10";
  std::string arch;             ///< --arch text; when set, --layers and --act are not used
  std::string act = "relu";
  std::string loss = "cross-entropy";
  std::string init = "normal:0.05";
  std::string init_from;        ///< safetensors file to start from
  std::string dtype = "f32";    ///< f32 | f64
  // Algorithm
  std::string algo = "sgd";     ///< sgd | momentum | nesterov | adam | sibp | proxprop
  double lr = 0.1;
  double momentum = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  // SIBP (ALGORITHMS.md §3)
  double eta = 0.1;
  std::string lambda = "1";     ///< one value, or one per layer joined by ','
  /// exact for the linear output layer, Gauss-Newton CG for hidden ones:
  /// the fastest and (with gn-exact) most accurate in the README's measurements.
  std::string solver = "exact:gn-cg";
  int solver_iters = 5;
  std::string update = "sequential";
  std::vector<std::string> quirks;
  std::string compat;           ///< "" or "authors"
  // ProxProp (ALGORITHMS.md §4)
  double tau = 0.05;
  std::string prox_solver = "cg";
  int prox_iters = 3;
  std::string prox_cg = "reference";  ///< reference (ProxProp.py's CG) or textbook
  std::string outer = "sgd";
  // Loop
  int epochs = 5;
  long long batch = 100;
  std::uint64_t seed = 1;
  long long eval_every = 0;
  bool diagnostics = false;     ///< per-layer solver diagnostics and ‖∇L‖ at each evaluation
  bool grad_norm = false;       ///< ‖∇L‖ at each evaluation (implied by diagnostics)
  /// Threads for the linear algebra; 0: all cores. One by default: Eigen's
  /// parallel GEMM busy-waits between threads, and with another process on
  /// the second core an epoch measured 10-20x slower on 2 threads (README).
  int threads = 1;

  /// Every field as JSON.
  nlohmann::json to_json() const;
  /// Reads fields present in `j` over the defaults. Throws UsageError naming
  /// `source` and the key for an unknown key or a value of the wrong type.
  static RunConfig from_json(const nlohmann::json& j, const std::string& source);
  /// Checks values that do not need the data (positive epochs, batch, lr,
  /// known algorithm, dtype...). Throws UsageError naming the option.
  void validate() const;
};

}  // namespace sibp
