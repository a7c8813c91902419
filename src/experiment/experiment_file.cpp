#include "experiment/experiment_file.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

std::string to_string(ExperimentKind k) {
  switch (k) {
    case ExperimentKind::Compare: return "compare";
    case ExperimentKind::Sweep: return "sweep";
    case ExperimentKind::Tune: return "tune";
  }
  return "?";
}

std::string folder_name(const std::string& label) {
  std::string out = label;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) c = '-';
  }
  return out;
}

std::vector<double> geometric_grid(double from, double to, int points) {
  if (!(from > 0) || !std::isfinite(from) || !(to > from) || !std::isfinite(to))
    throw UsageError("grid: needs 0 < from < to, got from " + format_number(from) + ", to " + format_number(to));
  if (points < 2 || points > kMaxGridPoints)
    throw UsageError("grid: points must be from 2 to " + std::to_string(kMaxGridPoints) + ", got " +
                     std::to_string(points));
  std::vector<double> values(static_cast<std::size_t>(points));
  const double ratio = std::log(to / from);
  for (int i = 0; i < points; ++i) {
    if (i == 0) {
      values[0] = from;
    } else if (i == points - 1) {
      values[static_cast<std::size_t>(i)] = to;
    } else {
      const double v = from * std::exp(ratio * i / (points - 1));
      // 3 significant digits: 0.0316 rather than 0.031622776601683794.
      const double scale = std::pow(10.0, std::floor(std::log10(v)) - 2);
      values[static_cast<std::size_t>(i)] = std::round(v / scale) * scale;
      // round() * scale can leave 0.031600000000000003; reparse the short text.
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3g", values[static_cast<std::size_t>(i)]);
      values[static_cast<std::size_t>(i)] = std::strtod(buf, nullptr);
    }
  }
  for (std::size_t i = 1; i < values.size(); ++i)
    if (!(values[i] > values[i - 1]))
      throw UsageError("grid: from " + format_number(from) + " to " + format_number(to) + " with " +
                       std::to_string(points) + " points repeats values after rounding to 3 digits; use fewer points");
  return values;
}

namespace {

/// Throws "<source>: <path> <what>".
[[noreturn]] void fail(const std::string& source, const std::string& path, const std::string& what) {
  throw UsageError(source + ": " + path + " " + what);
}

std::string describe(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + text;
}

/// Checks the option keys in `options` one by one so that a message can
/// name the full key path: known, and each value readable.
void check_run_options(const json& options, const std::string& source, const std::string& path) {
  if (!options.is_object()) fail(source, path, "must be an object of run options, got " + describe(options));
  RunOptions scratch;
  for (const auto& [key, v] : options.items()) {
    const std::string where = path.empty() ? key : path + "." + key;
    if (key == "seed") fail(source, where, "is not allowed here: list seeds in the top-level \"seeds\"");
    const RunOptionInfo* info = find_run_option(key);
    if (!info) fail(source, where, "is not a run option (see `sibp train --help`)");
    try {
      info->from_json(scratch, v);
    } catch (const OptionError& e) {
      throw UsageError(source + ": " + where + ": " + e.detail());
    }
  }
}

/// Reads and resolves the options of `merged`; `own` are the keys the run sets
/// itself (they must apply to its algorithm); `path` names the run.
RunOptions make_config(const json& merged, const json& own, const std::string& source, const std::string& path) {
  RunOptions o;
  read_run_options(merged, source + ": " + path, o);
  std::vector<std::string> keys;
  for (const auto& [key, v] : own.items()) keys.push_back(key);
  try {
    check_applicable(o, keys);
    RunSpec{o};
  } catch (const OptionError& e) {
    throw UsageError(source + ": " + path + "." + e.key() + ": " + e.detail());
  } catch (const UsageError& e) {
    throw UsageError(source + ": " + path + ": " + e.what());
  }
  return o;
}

const json& require(const json& obj, const char* key, const std::string& source, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) fail(source, path.empty() ? std::string(key) : path + "." + key, "is missing");
  return *it;
}

std::string require_label(const json& obj, const std::string& source, const std::string& path) {
  const json& v = require(obj, "label", source, path);
  if (!v.is_string() || v.get<std::string>().empty())
    fail(source, path + ".label", "must be a non-empty string, got " + describe(v));
  const std::string label = v.get<std::string>();
  // The label names the run's folder: "." or ".." would put runs into the
  // output folder itself or beside it, and a name the file system refuses
  // (over 255 bytes) would fail only when that run starts.
  const std::string folder = folder_name(label);
  if (folder == "." || folder == "..")
    fail(source, path + ".label", "'" + label + "' cannot name a folder; use letters, digits, '.', '_' or '-'");
  if (label.size() > kMaxLabelLength)
    fail(source, path + ".label", "has " + std::to_string(label.size()) + " characters; at most " +
                                      std::to_string(kMaxLabelLength) + " (it names the run's folder)");
  return label;
}

/// Records `label` and its folder name; throws on a repeat of either.
void claim_label(std::set<std::string>& folders, const std::string& label, const std::string& source,
                 const std::string& path) {
  if (!folders.insert(folder_name(label)).second)
    fail(source, path + ".label", "'" + label + "' repeats an earlier label (or its folder name '" +
                                      folder_name(label) + "'); labels must be unique");
}

bool sweepable(const std::string& key) {
  const RunOptionInfo* info = find_run_option(key);
  return info && info->number;
}

std::string sweepable_keys() {
  std::string out;
  for (const RunOptionInfo& info : run_option_table())
    if (info.number) out += (out.empty() ? "" : ", ") + info.key;
  return out;
}

json merged_options(const json& base, const json& overlay) {
  json merged = base;
  for (const auto& [k, v] : overlay.items()) merged[k] = v;
  return merged;
}

SweepSpec parse_sweep(const json& s, const std::string& source, const std::string& path) {
  static const std::set<std::string> allowed{"label", "base", "param", "values", "grid"};
  if (!s.is_object()) fail(source, path, "must be an object, got " + describe(s));
  for (const auto& [key, v] : s.items())
    if (!allowed.count(key))
      fail(source, path + "." + key, "is not a sweep key (expected label, base, param, values or grid)");
  SweepSpec spec;
  spec.label = require_label(s, source, path);
  if (auto it = s.find("base"); it != s.end()) {
    check_run_options(*it, source, path + ".base");
    spec.base = *it;
  }
  const json& param = require(s, "param", source, path);
  if (!param.is_string()) fail(source, path + ".param", "must be a string, got " + describe(param));
  spec.param = param.get<std::string>();
  if (!sweepable(spec.param))
    fail(source, path + ".param", "'" + spec.param + "' is not a numeric run option; expected one of " +
                                      sweepable_keys());
  if (spec.base.contains(spec.param))
    fail(source, path + ".base." + spec.param, "is the swept parameter; it cannot also be fixed in the base");
  const bool has_values = s.contains("values"), has_grid = s.contains("grid");
  if (has_values == has_grid)
    fail(source, path, has_values ? "has both \"values\" and \"grid\"; give one" : "needs \"values\" or \"grid\"");
  if (has_values) {
    const json& values = s["values"];
    if (!values.is_array() || values.empty())
      fail(source, path + ".values", "must be a non-empty list of numbers, got " + describe(values));
    for (std::size_t i = 0; i < values.size(); ++i) {
      const json& v = values[i];
      const std::string where = path + ".values[" + std::to_string(i) + "]";
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        fail(source, where, "must be a finite number, got " + describe(v));
      spec.values.push_back(v.get<double>());
    }
    std::sort(spec.values.begin(), spec.values.end());
    if (std::adjacent_find(spec.values.begin(), spec.values.end()) != spec.values.end())
      fail(source, path + ".values", "repeats a value");
  } else {
    const json& g = s["grid"];
    const std::string where = path + ".grid";
    if (!g.is_object()) fail(source, where, "must be an object {\"from\", \"to\", \"points\"}, got " + describe(g));
    for (const auto& [key, v] : g.items())
      if (key != "from" && key != "to" && key != "points")
        fail(source, where + "." + key, "is not a grid key (expected from, to, points)");
    const json& from = require(g, "from", source, where);
    const json& to = require(g, "to", source, where);
    const json& points = require(g, "points", source, where);
    if (!from.is_number()) fail(source, where + ".from", "must be a number, got " + describe(from));
    if (!to.is_number()) fail(source, where + ".to", "must be a number, got " + describe(to));
    if (!points.is_number_integer()) fail(source, where + ".points", "must be an integer, got " + describe(points));
    // Compared as a 64-bit number: get<int>() would wrap 4294967298 to 2.
    const bool unsigned_points = points.is_number_unsigned();
    if ((unsigned_points && points.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxGridPoints)) ||
        (!unsigned_points && (points.get<std::int64_t>() < 2 || points.get<std::int64_t>() > kMaxGridPoints)))
      fail(source, where + ".points", "must be from 2 to " + std::to_string(kMaxGridPoints) + ", got " + points.dump());
    try {
      spec.values = geometric_grid(from.get<double>(), to.get<double>(), points.get<int>());
    } catch (const UsageError& e) {
      throw UsageError(source + ": " + path + "." + e.what());
    }
  }
  return spec;
}


/// Only these keys in object `obj` (named `path`); `expected` lists them for the message.
void check_keys(const json& obj, const std::set<std::string>& allowed, const std::string& source,
                const std::string& path, const std::string& what, const std::string& expected) {
  for (const auto& [key, v] : obj.items())
    if (!allowed.count(key)) fail(source, path + "." + key, "is not a " + what + " key (expected " + expected + ")");
}

/// An integer from `lo` to `hi`, or `fallback` when `key` is absent.
int read_int_in(const json& obj, const char* key, int fallback, int lo, int hi, const std::string& source,
                const std::string& path, const std::string& why = "") {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  const std::string where = path + "." + key;
  const bool in_range = it->is_number_integer() &&
                        (it->is_number_unsigned() ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
                                                  : it->get<std::int64_t>() >= lo && it->get<std::int64_t>() <= hi) &&
                        it->get<std::int64_t>() >= lo;
  if (!in_range)
    fail(source, where, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + why +
                            ", got " + describe(*it));
  return it->get<int>();
}

/// A swept parameter's name: a numeric run option that `options` does not fix.
std::string read_swept_param(const json& obj, const json& options, const std::string& source,
                             const std::string& path) {
  const json& param = require(obj, "param", source, path);
  if (!param.is_string()) fail(source, path + ".param", "must be a string, got " + describe(param));
  const std::string name = param.get<std::string>();
  if (!sweepable(name))
    fail(source, path + ".param", "'" + name + "' is not a numeric run option; expected one of " + sweepable_keys());
  if (options.contains(name))
    fail(source, path + ".param", "'" + name + "' is tuned; it cannot also be fixed in the method's options");
  return name;
}

TuneProtocol parse_protocol(const json& j, const std::string& source) {
  TuneProtocol p;
  p.second_stage_runs = -1;  // unset: the methods' secondary values decide
  auto it = j.find("protocol");
  if (it == j.end()) return p;
  const json& o = *it;
  if (!o.is_object()) fail(source, "protocol", "must be an object, got " + describe(o));
  check_keys(o, {"points_per_decade", "decades", "max_extensions", "second_stage_runs", "selection"}, source,
             "protocol", "protocol", "points_per_decade, decades, max_extensions, second_stage_runs or selection");
  if (auto s = o.find("selection"); s != o.end()) {
    if (!s->is_object()) fail(source, "protocol.selection", "must be an object of run options, got " + describe(*s));
    // Only how long and how often: the selection runs must be the finals' model, data,
    // algorithm and tuned values, or the choice would be made on another problem.
    static const std::set<std::string> allowed{"epochs", "train_subset", "eval_every", "train_eval",
                                               "skip_train_eval"};
    for (const auto& [key, value] : s->items())
      if (!allowed.count(key))
        fail(source, "protocol.selection." + key,
             "cannot differ between the selection runs and the finals: selection may only shorten the runs "
             "(epochs, train_subset) or change how often they are evaluated (eval_every, train_eval, "
             "skip_train_eval), e.g. {\"epochs\": 1}");
    p.selection = *s;
  }
  p.points_per_decade =
      read_int_in(o, "points_per_decade", p.points_per_decade, 3, 30, source, "protocol", " (the protocol asks for 3 or more)");
  if (auto d = o.find("decades"); d != o.end()) {
    if (!d->is_number() || !(d->get<double>() >= 2) || !(d->get<double>() <= 10))
      fail(source, "protocol.decades", "must be a number from 2 to 10 (the first grid's width), got " + describe(*d));
    p.decades = d->get<double>();
  }
  p.max_extensions = read_int_in(o, "max_extensions", p.max_extensions, 0, 20, source, "protocol");
  p.second_stage_runs = read_int_in(o, "second_stage_runs", -1, 0, 20, source, "protocol");
  return p;
}

TuneMethod parse_tune_method(const json& m, const std::string& source, const std::string& path) {
  if (!m.is_object()) fail(source, path, "must be an object, got " + describe(m));
  check_keys(m, {"label", "options", "step", "secondary"}, source, path, "method",
             "label, options, step or secondary");
  TuneMethod t;
  t.label = require_label(m, source, path);
  const json& options = require(m, "options", source, path);
  check_run_options(options, source, path + ".options");
  if (!options.contains("algo")) fail(source, path + ".options.algo", "is missing: each method names its algorithm");
  if (options.contains("threads"))
    fail(source, path + ".options.threads", "is not allowed: every method runs with base.threads");
  t.options = options;
  const json& step = require(m, "step", source, path);
  if (!step.is_object()) fail(source, path + ".step", "must be an object {\"param\", \"centre\"}, got " + describe(step));
  check_keys(step, {"param", "centre"}, source, path + ".step", "step", "param or centre");
  t.step = read_swept_param(step, options, source, path + ".step");
  const json& centre = require(step, "centre", source, path + ".step");
  if (!centre.is_number() || !std::isfinite(centre.get<double>()) || !(centre.get<double>() > 0))
    fail(source, path + ".step.centre", "must be a finite number > 0, got " + describe(centre));
  t.centre = centre.get<double>();
  if (auto it = m.find("secondary"); it != m.end()) {
    const std::string where = path + ".secondary";
    if (!it->is_object()) fail(source, where, "must be an object {\"param\", \"values\"}, got " + describe(*it));
    check_keys(*it, {"param", "values"}, source, where, "secondary", "param or values");
    t.secondary = read_swept_param(*it, options, source, where);
    if (t.secondary == t.step) fail(source, where + ".param", "'" + t.step + "' is already the step");
    const json& values = require(*it, "values", source, where);
    if (!values.is_array() || values.size() < 2)
      fail(source, where + ".values", "must list 2 or more numbers (the first is the step grid's), got " +
                                          describe(values));
    for (std::size_t i = 0; i < values.size(); ++i) {
      const json& v = values[i];
      if (!v.is_number() || !std::isfinite(v.get<double>()) || !(v.get<double>() > 0))
        fail(source, where + ".values[" + std::to_string(i) + "]", "must be a finite number > 0, got " + describe(v));
      if (std::find(t.secondary_values.begin(), t.secondary_values.end(), v.get<double>()) != t.secondary_values.end())
        fail(source, where + ".values[" + std::to_string(i) + "]", "repeats " + v.dump());
      t.secondary_values.push_back(v.get<double>());
    }
  }
  return t;
}

/// The options of method `t` at `step` (and `secondary`), without the seed.
std::pair<json, json> tune_options(const json& base, const TuneMethod& t, double step,
                                   std::optional<double> secondary) {
  json own = t.options;
  own[t.step] = step;
  if (secondary) own[t.secondary] = *secondary;
  return {merged_options(base, own), own};
}

/// The tuning part of parse_experiment: protocol, methods, and the rules that
/// make the protocol fair (validation split, pinned threads, equal budgets).
void parse_tune(const json& j, ExperimentFile& e, std::set<std::string>& folders) {
  const std::string& source = e.source;
  if (e.seeds.size() < 3)
    fail(source, "seeds", "lists " + std::to_string(e.seeds.size()) +
                              " seeds; the tuning protocol runs 3 or more at each chosen setting");
  e.protocol = parse_protocol(j, source);
  e.protocol.selection_seed = e.seeds.front();
  if (auto it = j.find("selection_seed"); it != j.end()) {
    if (!it->is_number_unsigned()) fail(source, "selection_seed", "must be a non-negative integer, got " + describe(*it));
    e.protocol.selection_seed = it->get<std::uint64_t>();
  }
  if (!e.base.contains("threads"))
    fail(source, "base.threads", "is missing: a tuning experiment pins the thread count so every method is timed alike");
  if (e.base.contains("stop_at_accuracy"))
    fail(source, "base.stop_at_accuracy",
         "is not for a tuning: it stops a run on its test accuracy, and the protocol chooses on validation alone");
  const json& methods = require(j, "methods", source, "");
  if (!methods.is_array() || methods.empty())
    fail(source, "methods", "must be a non-empty list of methods, got " + describe(methods));
  std::optional<std::size_t> values_of;  // secondary values of the first method that has them
  for (std::size_t i = 0; i < methods.size(); ++i) {
    const std::string path = "methods[" + std::to_string(i) + "]";
    TuneMethod t = parse_tune_method(methods[i], source, path);
    if (!e.protocol.selection.empty() && folder_name(t.label) == "selection")
      fail(source, path + ".label", "'" + t.label + "' is the folder of the selection runs (protocol.selection): "
                                    "choose another label");
    if (t.options.contains("stop_at_accuracy"))
      fail(source, path + ".options.stop_at_accuracy",
           "is not for a tuning: it stops a run on its test accuracy, and the protocol chooses on validation alone");
    claim_label(folders, t.label, source, path);
    if (!t.secondary.empty()) {
      const int runs = static_cast<int>(t.secondary_values.size()) - 1;
      if (e.protocol.second_stage_runs >= 0 && runs != e.protocol.second_stage_runs)
        fail(source, path + ".secondary.values",
             "has " + std::to_string(runs + 1) + " values, so " + std::to_string(runs) +
                 " second-stage runs; every method gets the same number of runs, here " +
                 std::to_string(e.protocol.second_stage_runs) + (values_of ? " (as methods[" + std::to_string(*values_of) + "])" : " (protocol.second_stage_runs)"));
      if (e.protocol.second_stage_runs < 0) values_of = i;
      e.protocol.second_stage_runs = runs;
    }
    std::vector<std::optional<double>> secondaries{std::nullopt};
    if (!t.secondary.empty()) secondaries.assign(t.secondary_values.begin(), t.secondary_values.end());
    for (const std::optional<double>& w : secondaries) {
      const auto [merged, own] = tune_options(e.base, t, t.centre, w);
      const RunOptions o = make_config(merged, own, source, path);
      if (!e.protocol.selection.empty())
        make_config(merged_options(merged, e.protocol.selection), own, source, "protocol.selection (with " + path + ")");
      if (o.val_split <= 0)
        fail(source, t.options.contains("val_split") ? path + ".options.val_split" : std::string("base.val_split"),
             "must be > 0: the protocol chooses each setting on a validation split, never on the test set");
      if (o.threads <= 0)
        fail(source, "base.threads", "must be 1 or more: a tuning experiment pins the thread count");
    }
    e.methods.push_back(std::move(t));
  }
  if (e.protocol.second_stage_runs < 0) e.protocol.second_stage_runs = 0;
  const std::size_t grid = 2 * static_cast<std::size_t>(e.protocol.half_width()) + 1;
  const std::size_t planned =
      e.methods.size() * (grid + 2 * e.protocol.max_extensions + e.protocol.second_stage_runs + e.seeds.size());
  if (planned > kMaxPlannedRuns)
    fail(source, "methods", "may bring the experiment to " + std::to_string(planned) + " runs; at most " +
                                std::to_string(kMaxPlannedRuns));
}

}  // namespace

namespace {

/// The top-level keys of an experiment file, name, description and kind.
void parse_header(const json& j, const std::string& source, ExperimentFile& e) {
  static const std::set<std::string> allowed{"name",  "description",     "kind",   "base",
                                             "seeds", "target_accuracy", "runs",   "sweeps",
                                             "methods", "protocol",      "selection_seed"};
  if (!j.is_object()) throw UsageError(source + ": expected a JSON object, got " + describe(j));
  for (const auto& [key, v] : j.items())
    if (!allowed.count(key))
      fail(source, key,
           "is not an experiment key (expected name, description, kind, base, seeds, target_accuracy, runs, "
           "sweeps, methods, protocol or selection_seed)");
  const json& name = require(j, "name", source, "");
  if (!name.is_string() || name.get<std::string>().empty())
    fail(source, "name", "must be a non-empty string, got " + describe(name));
  e.name = name.get<std::string>();
  if (auto it = j.find("description"); it != j.end()) {
    if (!it->is_string()) fail(source, "description", "must be a string, got " + describe(*it));
    e.description = it->get<std::string>();
  }
  const json& kind = require(j, "kind", source, "");
  if (kind == "compare")
    e.kind = ExperimentKind::Compare;
  else if (kind == "sweep")
    e.kind = ExperimentKind::Sweep;
  else if (kind == "tune")
    e.kind = ExperimentKind::Tune;
  else
    fail(source, "kind", "must be \"compare\", \"sweep\" or \"tune\", got " + describe(kind));
  for (const char* key : {"methods", "protocol", "selection_seed"})
    if (e.kind != ExperimentKind::Tune && j.contains(key)) fail(source, key, "is only for \"kind\": \"tune\"");
}

/// "base", "seeds" and "target_accuracy": what every run of the file shares.
void parse_shared(const json& j, const std::string& source, ExperimentFile& e) {
  if (auto it = j.find("base"); it != j.end()) {
    check_run_options(*it, source, "base");
    e.base = *it;
  }
  const json& seeds = require(j, "seeds", source, "");
  if (!seeds.is_array() || seeds.empty())
    fail(source, "seeds", "must be a non-empty list of non-negative integers, got " + describe(seeds));
  if (seeds.size() > kMaxSeeds)
    fail(source, "seeds", "lists " + std::to_string(seeds.size()) + " seeds; at most " + std::to_string(kMaxSeeds));
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const json& s = seeds[i];
    if (!s.is_number_integer() || (s.is_number_integer() && !s.is_number_unsigned() && s.get<long long>() < 0))
      fail(source, "seeds[" + std::to_string(i) + "]", "must be a non-negative integer, got " + describe(s));
    const auto seed = s.get<std::uint64_t>();
    if (std::find(e.seeds.begin(), e.seeds.end(), seed) != e.seeds.end())
      fail(source, "seeds[" + std::to_string(i) + "]", "repeats seed " + std::to_string(seed));
    e.seeds.push_back(seed);
  }
  if (auto it = j.find("target_accuracy"); it != j.end()) {
    if (!it->is_number() || !(it->get<double>() > 0) || !(it->get<double>() <= 1))
      fail(source, "target_accuracy", "must be a number in (0, 1], got " + describe(*it));
    e.target_accuracy = it->get<double>();
  }
}

/// A compare file's "runs": each a label and its own options.
void parse_compare_runs(const json& j, const std::string& source, ExperimentFile& e, std::set<std::string>& folders) {
  if (j.contains("sweeps")) fail(source, "sweeps", "is only for \"kind\": \"sweep\"");
  const json& runs = require(j, "runs", source, "");
  if (!runs.is_array() || runs.empty()) fail(source, "runs", "must be a non-empty list of runs, got " + describe(runs));
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const std::string path = "runs[" + std::to_string(i) + "]";
    const json& r = runs[i];
    if (!r.is_object()) fail(source, path, "must be an object, got " + describe(r));
    LabelledRun run;
    run.label = require_label(r, source, path);
    claim_label(folders, run.label, source, path);
    run.options = r;
    run.options.erase("label");
    check_run_options(run.options, source, path);
    make_config(merged_options(e.base, run.options), run.options, source, path);
    e.runs.push_back(std::move(run));
  }
}

/// A sweep file's "sweeps": each a parameter and its values, every value checked
/// as a run's options and the whole file held to kMaxPlannedRuns.
void parse_sweeps(const json& j, const std::string& source, ExperimentFile& e, std::set<std::string>& folders) {
  if (j.contains("runs")) fail(source, "runs", "is only for \"kind\": \"compare\"; a sweep lists \"sweeps\"");
  const json& sweeps = require(j, "sweeps", source, "");
  if (!sweeps.is_array() || sweeps.empty())
    fail(source, "sweeps", "must be a non-empty list of sweeps, got " + describe(sweeps));
  std::size_t planned = 0;
  for (std::size_t i = 0; i < sweeps.size(); ++i) {
    const std::string path = "sweeps[" + std::to_string(i) + "]";
    SweepSpec spec = parse_sweep(sweeps[i], source, path);
    claim_label(folders, spec.label, source, path);
    planned += spec.values.size() * e.seeds.size();
    if (planned > kMaxPlannedRuns)
      fail(source, path, "brings the experiment to " + std::to_string(planned) + " runs (values × seeds); at most " +
                             std::to_string(kMaxPlannedRuns));
    for (double v : spec.values) {
      json merged = merged_options(e.base, spec.base);
      merged[spec.param] = v;
      json own = spec.base;
      own[spec.param] = v;
      make_config(merged, own, source, path + " (" + spec.param + " " + format_number(v) + ")");
    }
    e.sweeps.push_back(std::move(spec));
  }
}

}  // namespace

ExperimentFile parse_experiment(const json& j, const std::string& source) {
  ExperimentFile e;
  e.source = source;
  e.json = j;
  parse_header(j, source, e);
  parse_shared(j, source, e);
  std::set<std::string> folders;
  if (e.kind == ExperimentKind::Tune) {
    for (const char* key : {"runs", "sweeps"})
      if (j.contains(key)) fail(source, key, "is not for \"kind\": \"tune\"; a tuning experiment lists \"methods\"");
    parse_tune(j, e, folders);
  } else if (e.kind == ExperimentKind::Compare) {
    parse_compare_runs(j, source, e, folders);
  } else {
    parse_sweeps(j, source, e, folders);
  }
  return e;
}

ExperimentFile load_experiment(const fs::path& path) {
  return parse_experiment(read_json_file(path), path.string());
}

void check_only_labels(const ExperimentFile& e, const PlanOptions& options) {
  std::set<std::string> labels;
  for (const LabelledRun& r : e.runs) labels.insert(r.label);
  for (const SweepSpec& s : e.sweeps) labels.insert(s.label);
  for (const TuneMethod& m : e.methods) labels.insert(m.label);
  for (const std::string& l : options.only)
    if (!labels.count(l)) {
      std::string known;
      for (const std::string& k : labels) known += (known.empty() ? "'" : ", '") + k + "'";
      throw UsageError("--only: " + e.source + " has no run labelled '" + l + "'; its labels are " + known);
    }
}

namespace {

/// A run's options resolved with its seed (and --data-dir): the one place plans become configs.
RunOptions planned_config(const ExperimentFile& e, json merged, const json& own, std::uint64_t seed,
                          const PlanOptions& options, const std::string& path) {
  merged["seed"] = seed;
  if (!options.data_dir.empty()) merged["data_dir"] = options.data_dir;
  return make_config(merged, own, e.source, path);
}

}  // namespace

PlannedRun plan_tune_run(const ExperimentFile& e, std::size_t method, double step, std::optional<double> secondary,
                         std::uint64_t seed, const PlanOptions& options, bool selection) {
  const TuneMethod& t = e.methods.at(method);
  auto [merged, own] = tune_options(e.base, t, step, secondary);
  const bool own_selection_run = selection && !e.protocol.selection.empty();
  if (own_selection_run) merged = merged_options(merged, e.protocol.selection);
  PlannedRun p;
  p.label = t.label;
  p.seed = seed;
  p.param = t.step;
  p.value = step;
  p.options = own;
  p.config = planned_config(e, merged, own, seed, options, "methods[" + std::to_string(method) + "]");
  p.subdir = fs::path(own_selection_run ? "selection" : "") / folder_name(t.label) / (t.step + "-" + format_number(step));
  if (secondary) p.subdir /= t.secondary + "-" + format_number(*secondary);
  p.subdir /= "seed-" + std::to_string(seed);
  return p;
}

std::vector<PlannedRun> plan_runs(const ExperimentFile& e, const PlanOptions& options) {
  check_only_labels(e, options);
  auto wanted = [&](const std::string& label) {
    return options.only.empty() || std::find(options.only.begin(), options.only.end(), label) != options.only.end();
  };
  auto finish = [&](json merged, const json& own, std::uint64_t seed, const std::string& path) {
    return planned_config(e, std::move(merged), own, seed, options, path);
  };

  std::vector<PlannedRun> plan;
  for (std::size_t i = 0; i < e.runs.size(); ++i) {
    const LabelledRun& r = e.runs[i];
    if (!wanted(r.label)) continue;
    for (std::uint64_t seed : e.seeds) {
      PlannedRun p;
      p.label = r.label;
      p.seed = seed;
      p.options = r.options;
      p.config = finish(merged_options(e.base, r.options), r.options, seed, "runs[" + std::to_string(i) + "]");
      p.subdir = fs::path(folder_name(r.label)) / ("seed-" + std::to_string(seed));
      plan.push_back(std::move(p));
    }
  }
  for (std::size_t i = 0; i < e.sweeps.size(); ++i) {
    const SweepSpec& s = e.sweeps[i];
    if (!wanted(s.label)) continue;
    for (double v : s.values)
      for (std::uint64_t seed : e.seeds) {
        PlannedRun p;
        p.label = s.label;
        p.seed = seed;
        p.param = s.param;
        p.value = v;
        p.options = s.base;
        p.options[s.param] = v;
        p.config = finish(merged_options(e.base, p.options), p.options, seed, "sweeps[" + std::to_string(i) + "]");
        p.subdir = fs::path(folder_name(s.label)) / (s.param + "-" + format_number(v)) /
                   ("seed-" + std::to_string(seed));
        plan.push_back(std::move(p));
      }
  }
  return plan;
}

}  // namespace sibp
