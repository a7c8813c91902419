#pragma once
/// The algorithm registry. Every training algorithm is one unit (a header and a
/// source file in train/, e.g. adamw.hpp/.cpp) that declares, in one
/// AlgorithmInfo: its --algo names (and Python class names), the options it
/// declares itself (with defaults and help), the run description's options it
/// reads, the defaults that depend on it, and how its validated options are
/// built. Its checkpoint state is its TrainingAlgorithm's state()/restore().
/// The option table of `sibp train` (experiment/run_options.hpp), the CLI,
/// config.json, experiment files, the Python classes and docs/options.md are
/// generated from this list; train/algorithm_list.hpp holds one line per unit.
#include <functional>
#include <initializer_list>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/algorithms.hpp"

namespace sibp {

/// An option a unit declares itself: the run description stores it by key,
/// and the option table shows it in the unit's group.
struct AlgorithmOption {
  enum class Kind { Number, Integer, Flag, Text };
  std::string key;                ///< JSON key ("alpha"); the CLI's --alpha
  Kind kind = Kind::Number;
  std::string help;               ///< one line
  nlohmann::json default_value;   ///< the value when unset; null: the unit's resolve() fills it
};

/// One --algo name of a unit.
struct AlgorithmName {
  std::string name;          ///< "adamw"
  std::string python_class;  ///< "AdamW": sibp.AdamW in Python
  std::string summary;       ///< one line: help, docs and the Python docstring
};

/// A run's option values by JSON key (null: unset), as the option table read them.
class AlgorithmSettings {
 public:
  explicit AlgorithmSettings(nlohmann::json values) : values_(std::move(values)) {}
  const nlohmann::json& values() const { return values_; }
  /// True if `key` has a value (not null).
  bool has(const std::string& key) const;
  /// The value of `key`; each throws OptionError(key) if it is unset or of another type.
  double number(const std::string& key) const;
  long long integer(const std::string& key) const;
  bool flag(const std::string& key) const;
  std::string text(const std::string& key) const;
  /// Sets each `*field` to number(key), in the order given (so the first bad key is the one named).
  void read(std::initializer_list<std::pair<const char*, double*>> numbers) const;

 private:
  const nlohmann::json& at(const std::string& key, bool (nlohmann::json::*is)() const noexcept,
                           const char* expected) const;
  nlohmann::json values_;
};

/// One algorithm unit.
struct AlgorithmInfo {
  std::vector<AlgorithmName> names;
  /// Help section of its own options, e.g. "RMSprop (--algo rmsprop)"; empty: "Algorithm".
  std::string group;
  /// Keys of options the run description defines for several algorithms
  /// (lr, momentum, weight_decay, ..., and SIBP's and ProxProp's) that it reads.
  std::vector<std::string> fields;
  /// Options it declares itself.
  std::vector<AlgorithmOption> options;
  /// Sets the values that depend on --algo `name` where `settings` has null
  /// (lr, weight_decay, ...). May be empty.
  std::function<void(const std::string& name, nlohmann::json& settings)> resolve;
  /// The validated options of --algo `name` from resolved settings: the one
  /// validation of a run's algorithm options. Throws OptionError naming the key.
  std::function<AlgorithmOptions(const std::string& name, const AlgorithmSettings& settings)> build;

  /// True if `key` is one of its fields or options.
  bool reads(std::string_view key) const;
};

/// Every unit, in help order (train/algorithm_list.hpp).
const std::vector<const AlgorithmInfo*>& algorithm_registry();
/// The unit of --algo `name`, or null.
const AlgorithmInfo* find_algorithm(std::string_view name);
/// Every --algo name, in registry order.
std::vector<const AlgorithmName*> algorithm_names();
/// "sgd, momentum, ..., proxprop".
std::string algorithm_names_text();
/// Throws OptionError("algo") listing the names unless `name` is registered.
const AlgorithmInfo& algorithm_info(std::string_view name);

/// Sets `settings[key]` to `value` if it is null or missing: for resolve().
void default_to(nlohmann::json& settings, const std::string& key, nlohmann::json value);

/// The options of --algo `name` from `settings` (JSON keys as in config.json;
/// the unit's own options may be left out for their defaults): resolve, then
/// build. For library users and tests; a run goes through RunSpec.
AlgorithmOptions algorithm_options(std::string_view name, nlohmann::json settings);

}  // namespace sibp
