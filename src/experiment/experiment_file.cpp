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

std::string to_string(ExperimentKind k) { return k == ExperimentKind::Compare ? "compare" : "sweep"; }

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

}  // namespace

ExperimentFile parse_experiment(const json& j, const std::string& source) {
  static const std::set<std::string> allowed{"name", "description", "kind", "base", "seeds",
                                             "target_accuracy", "runs", "sweeps"};
  if (!j.is_object()) throw UsageError(source + ": expected a JSON object, got " + describe(j));
  for (const auto& [key, v] : j.items())
    if (!allowed.count(key))
      fail(source, key,
           "is not an experiment key (expected name, description, kind, base, seeds, target_accuracy, runs or "
           "sweeps)");
  ExperimentFile e;
  e.source = source;
  e.json = j;

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
  else
    fail(source, "kind", "must be \"compare\" or \"sweep\", got " + describe(kind));

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

  std::set<std::string> folders;
  std::size_t planned = 0;
  if (e.kind == ExperimentKind::Compare) {
    if (j.contains("sweeps")) fail(source, "sweeps", "is only for \"kind\": \"sweep\"");
    const json& runs = require(j, "runs", source, "");
    if (!runs.is_array() || runs.empty())
      fail(source, "runs", "must be a non-empty list of runs, got " + describe(runs));
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
  } else {
    if (j.contains("runs")) fail(source, "runs", "is only for \"kind\": \"compare\"; a sweep lists \"sweeps\"");
    const json& sweeps = require(j, "sweeps", source, "");
    if (!sweeps.is_array() || sweeps.empty())
      fail(source, "sweeps", "must be a non-empty list of sweeps, got " + describe(sweeps));
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
  return e;
}

ExperimentFile load_experiment(const fs::path& path) {
  return parse_experiment(read_json_file(path), path.string());
}

std::vector<PlannedRun> plan_runs(const ExperimentFile& e, const PlanOptions& options) {
  std::set<std::string> labels;
  for (const LabelledRun& r : e.runs) labels.insert(r.label);
  for (const SweepSpec& s : e.sweeps) labels.insert(s.label);
  for (const std::string& l : options.only)
    if (!labels.count(l)) {
      std::string known;
      for (const std::string& k : labels) known += (known.empty() ? "'" : ", '") + k + "'";
      throw UsageError("--only: " + e.source + " has no run labelled '" + l + "'; its labels are " + known);
    }
  auto wanted = [&](const std::string& label) {
    return options.only.empty() || std::find(options.only.begin(), options.only.end(), label) != options.only.end();
  };
  auto finish = [&](json merged, const json& own, std::uint64_t seed, const std::string& path) {
    merged["seed"] = seed;
    if (!options.data_dir.empty()) merged["data_dir"] = options.data_dir;
    return make_config(merged, own, e.source, path);
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
