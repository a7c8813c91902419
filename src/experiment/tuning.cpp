#include "experiment/tuning.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/atomic_file.hpp"
#include "experiment/sweep.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

double tune_step_value(double centre, double position, int points_per_decade) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", centre * std::pow(10.0, position / points_per_decade));
  return std::strtod(buf, nullptr);
}

bool TuneTrial::usable() const { return status == "completed" && val_acc && std::isfinite(*val_acc); }

bool ranks_before(const TuneTrial& a, const TuneTrial& b) {
  if (a.usable() != b.usable()) return a.usable();
  if (a.usable()) {
    if (*a.val_acc != *b.val_acc) return *a.val_acc > *b.val_acc;
    // A missing or non-finite loss ranks behind any finite one.
    const double la = a.val_loss && std::isfinite(*a.val_loss) ? *a.val_loss : INFINITY;
    const double lb = b.val_loss && std::isfinite(*b.val_loss) ? *b.val_loss : INFINITY;
    if (la != lb) return la < lb;
  }
  // Alike on validation (or both unusable): the smaller, more cautious step.
  return a.step < b.step;
}

std::size_t best_trial(const std::vector<TuneTrial>& trials) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < trials.size(); ++i)
    if (ranks_before(trials[i], trials[best])) best = i;
  return best;
}

namespace {

std::pair<double, double> position_range(const std::vector<TuneTrial>& trials) {
  double lo = trials.front().position, hi = lo;
  for (const TuneTrial& t : trials) {
    lo = std::min(lo, t.position);
    hi = std::max(hi, t.position);
  }
  return {lo, hi};
}

}  // namespace

int best_grid_end(const std::vector<TuneTrial>& trials) {
  const double best = trials[best_trial(trials)].position;
  const auto [lo, hi] = position_range(trials);
  return best == lo ? -1 : best == hi ? 1 : 0;
}

namespace {

/// One method's protocol; `evaluate` answers each run in turn.
class MethodProtocol {
 public:
  MethodProtocol(const ExperimentFile& e, std::size_t method, const TuneEvaluator& evaluate)
      : e_(e), m_(e.methods[method]), p_(e.protocol), evaluate_(evaluate) {
    out_.method = method;
    if (!m_.secondary.empty()) first_secondary_ = m_.secondary_values.front();
  }

  MethodTuning run() {
    if (!run_grid() || !extend_grid()) return out_;
    const std::vector<TuneTrial> grid = out_.selection;  // the step grid with its extensions
    if (!(m_.secondary.empty() ? refine_step() : try_secondary_values())) return out_;
    out_.selection_complete = true;
    out_.chosen = best_trial(out_.selection);
    const TuneTrial chosen = out_.selection[*out_.chosen];
    const auto [lo, hi] = position_range(grid);
    out_.chosen_at_grid_end = chosen.position <= lo || chosen.position >= hi;
    if (!chosen.usable()) return out_;  // nothing trained stably: no setting to measure
    for (std::uint64_t seed : e_.seeds)
      if (!evaluate_run("final", chosen.position, chosen.secondary, seed, out_.finals)) return out_;
    out_.finals_complete = true;
    return out_;
  }

 private:
  bool evaluate_run(const char* stage, double position, std::optional<double> secondary, std::uint64_t seed,
                    std::vector<TuneTrial>& into) {
    TuneTrial t;
    t.method = out_.method;
    t.stage = stage;
    t.position = position;
    t.step = tune_step_value(m_.centre, position, p_.points_per_decade);
    t.secondary = secondary;
    t.seed = seed;
    if (!evaluate_(t)) return false;
    into.push_back(std::move(t));
    return true;
  }
  bool select(const char* stage, double position, std::optional<double> secondary) {
    return evaluate_run(stage, position, secondary, p_.selection_seed, out_.selection);
  }

  bool run_grid() {
    const int h = p_.half_width();
    for (int k = -h; k <= h; ++k)
      if (!select("grid", k, first_secondary_)) return false;
    out_.grid_runs = 2 * h + 1;
    return true;
  }

  /// One point past the end that holds the best step, until it is inside.
  bool extend_grid() {
    for (;;) {
      const int end = best_grid_end(out_.selection);
      if (end == 0) return true;
      int& done = end < 0 ? out_.extensions_low : out_.extensions_high;
      if (done >= p_.max_extensions) {
        out_.extension_cap_reached = true;
        return true;
      }
      ++done;
      const auto [lo, hi] = position_range(out_.selection);
      if (!select("extension", end < 0 ? lo - 1 : hi + 1, first_secondary_)) return false;
    }
  }

  /// The secondary parameter's other values at the best step.
  bool try_secondary_values() {
    const double best = out_.selection[best_trial(out_.selection)].position;
    for (std::size_t i = 1; i < m_.secondary_values.size(); ++i) {
      if (!select("second", best, m_.secondary_values[i])) return false;
      ++out_.second_stage_runs;
    }
    return true;
  }

  /// As many runs as the others' second stage, halving the spacing around the best step.
  bool refine_step() {
    int left = p_.second_stage_runs;
    // 1/64 of a grid spacing is below the 3 significant digits of the step values.
    for (double h = 0.5; left > 0 && h >= 1.0 / 64; h /= 2) {
      const double centre = out_.selection[best_trial(out_.selection)].position;
      for (int side : {-1, 1}) {
        if (left == 0) break;
        const double position = centre + side * h;
        if (step_tried(tune_step_value(m_.centre, position, p_.points_per_decade))) continue;
        if (!select("second", position, std::nullopt)) return false;
        ++out_.second_stage_runs;
        --left;
      }
    }
    return true;
  }
  bool step_tried(double step) const {
    return std::any_of(out_.selection.begin(), out_.selection.end(),
                       [step](const TuneTrial& t) { return t.step == step; });
  }

  const ExperimentFile& e_;
  const TuneMethod& m_;
  const TuneProtocol& p_;
  const TuneEvaluator& evaluate_;
  std::optional<double> first_secondary_;
  MethodTuning out_;
};

/// Reads the results of `t`'s run `p` from `dir` and fills `t`'s outcome from them
/// (only its folder when the run has not finished).
RunResult read_outcome(const fs::path& dir, const PlannedRun& p, TuneTrial& t, std::optional<double> target) {
  RunResult r = read_results(dir, {p}).front();
  t.folder = r.plan.subdir.generic_string();
  if (!r.complete) return r;
  const SweepPoint point = classify_sweep_run(r);
  t.status = point.diverged ? "diverged" : "completed";
  t.reason = point.reason;
  if (!r.rows.empty()) {
    t.val_acc = r.rows.back().val_acc;
    t.val_loss = r.rows.back().val_loss;
    t.test_acc = r.rows.back().test_acc;
  }
  if (target && t.stage == "final")
    for (const MetricsRow& row : r.rows)
      if (row.test_acc && *row.test_acc >= *target) {
        t.seconds_to_target = row.seconds;
        t.steps_to_target = row.iteration;
        break;
      }
  return r;
}

PlannedRun plan_of(const ExperimentFile& e, const TuneTrial& t, const PlanOptions& options = {}) {
  return plan_tune_run(e, t.method, t.step, t.secondary, t.seed, options, t.stage != "final");
}

}  // namespace

std::vector<MethodTuning> run_protocol(const ExperimentFile& e, const std::vector<std::string>& only,
                                       const TuneEvaluator& evaluate) {
  std::vector<MethodTuning> out;
  for (std::size_t i = 0; i < e.methods.size(); ++i)
    if (only.empty() || std::find(only.begin(), only.end(), e.methods[i].label) != only.end())
      out.push_back(MethodProtocol(e, i, evaluate).run());
  return out;
}

int run_tuning(const ExperimentFile& e, const PlanOptions& plan, const fs::path& out_dir, const TuneTrainer& train) {
  int count = 0;
  run_protocol(e, plan.only, [&](TuneTrial& t) {
    const PlannedRun p = plan_of(e, t, plan);
    std::string tag = "[tune " + std::to_string(++count) + "] " + p.label + " " + p.param + "=" + format_number(t.step);
    if (t.secondary) tag += " " + e.methods[t.method].secondary + "=" + format_number(*t.secondary);
    tag += " seed " + std::to_string(t.seed) + " (" + t.stage + ")";
    train(p, tag);
    return read_outcome(out_dir, p, t, e.target_accuracy).complete;  // a run stopped before its end decides nothing
  });
  return count;
}

TuningOutputs write_tuning_outputs(const fs::path& dir, const ExperimentFile& e) {
  TuningOutputs out;
  const std::vector<MethodTuning> methods = run_protocol(e, {}, [&](TuneTrial& t) {
    const RunResult r = read_outcome(dir, plan_of(e, t), t, e.target_accuracy);
    if (!r.complete) return false;
    if (t.stage == "final") out.finals.push_back(r);
    return true;
  });
  write_file_atomic(dir / "tuning.json", tuning_json(e, methods).dump(1) + "\n");
  out.markdown = tuning_markdown(e, methods);
  return out;
}

std::vector<PlannedRun> finished_tuning_runs(const fs::path& dir, const ExperimentFile& e) {
  std::vector<PlannedRun> finished;
  run_protocol(e, {}, [&](TuneTrial& t) {
    const PlannedRun p = plan_of(e, t);
    if (!read_outcome(dir, p, t, e.target_accuracy).complete) return false;
    // The selection seed's final run can be its selection run: one folder, packed once.
    const bool seen = std::any_of(finished.begin(), finished.end(),
                                  [&](const PlannedRun& f) { return f.subdir == p.subdir; });
    if (!seen) finished.push_back(p);
    return true;
  });
  return finished;
}

namespace {

/// The number after `prefix` + "-" in `part`, if `part` is exactly that.
std::optional<double> named_value(const std::string& part, const std::string& prefix) {
  if (part.size() <= prefix.size() + 1 || part.compare(0, prefix.size() + 1, prefix + "-") != 0) return std::nullopt;
  const std::string text = part.substr(prefix.size() + 1);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

/// The seed of a "seed-N" folder name, if `part` is exactly that (N in full, no sign or exponent).
std::optional<std::uint64_t> seed_of(const std::string& part) {
  const std::string prefix = "seed-";
  if (part.size() <= prefix.size() || part.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const std::string digits = part.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  errno = 0;
  const unsigned long long v = std::strtoull(digits.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<std::uint64_t>(v);
}

std::vector<std::string> path_parts(const std::string& subdir) {
  std::vector<std::string> parts;
  std::stringstream in(subdir);
  for (std::string part; std::getline(in, part, '/');) parts.push_back(part);
  return parts;
}

}  // namespace

bool is_tuning_run_folder(const ExperimentFile& e, const std::string& subdir) {
  std::vector<std::string> parts = path_parts(subdir);
  const bool selection = !e.protocol.selection.empty() && !parts.empty() && parts[0] == "selection";
  if (selection) parts.erase(parts.begin());
  for (std::size_t i = 0; i < e.methods.size(); ++i) {
    const TuneMethod& t = e.methods[i];
    const bool has_secondary = !t.secondary.empty();
    if (parts.size() != (has_secondary ? 4u : 3u) || parts[0] != folder_name(t.label)) continue;
    const std::optional<double> step = named_value(parts[1], t.step);
    const std::optional<double> secondary = has_secondary ? named_value(parts[2], t.secondary) : std::nullopt;
    const std::optional<std::uint64_t> seed = seed_of(parts.back());
    if (!step || (has_secondary && !secondary) || !seed) continue;
    try {
      const PlannedRun p = plan_tune_run(e, i, *step, secondary, *seed, {}, selection);
      if (p.subdir.generic_string() == subdir) return true;  // the canonical spelling only
    } catch (const std::exception&) {
      // Options the run could not have had (e.g. a negative step): not a folder of this tuning.
    }
  }
  return false;
}

// ---- tuning.json ----

namespace {

json optional_json(const std::optional<double>& v) { return v && std::isfinite(*v) ? json(*v) : json(nullptr); }

json stat_json(const Stat& s) {
  if (s.n == 0) return nullptr;
  return {{"n", s.n}, {"mean", s.mean}, {"std", s.std}};
}

/// Over the final runs that did not diverge.
Stat final_stat(const std::vector<TuneTrial>& finals, const std::function<std::optional<double>(const TuneTrial&)>& f) {
  std::vector<double> values;
  for (const TuneTrial& t : finals)
    if (t.status == "completed")
      if (const std::optional<double> v = f(t)) values.push_back(*v);
  return Stat::of(values);
}
Stat test_acc_stat(const std::vector<TuneTrial>& f) {
  return final_stat(f, [](const TuneTrial& t) { return t.test_acc; });
}
Stat seconds_stat(const std::vector<TuneTrial>& f) {
  return final_stat(f, [](const TuneTrial& t) { return t.seconds_to_target; });
}
Stat steps_stat(const std::vector<TuneTrial>& f) {
  return final_stat(f, [](const TuneTrial& t) {
    return t.steps_to_target ? std::optional<double>(static_cast<double>(*t.steps_to_target)) : std::nullopt;
  });
}

json trial_json(const ExperimentFile& e, const TuneTrial& t) {
  const TuneMethod& m = e.methods[t.method];
  json j = {{"method", m.label},        {"stage", t.stage},   {"seed", t.seed},
            {"step_param", m.step},     {"step", t.step},     {"position", t.position},
            {"secondary_param", m.secondary.empty() ? json(nullptr) : json(m.secondary)},
            {"secondary", optional_json(t.secondary)},
            {"status", t.status},       {"reason", t.reason}, {"folder", t.folder},
            {"val_acc", optional_json(t.val_acc)},            {"val_loss", optional_json(t.val_loss)},
            {"test_acc", optional_json(t.test_acc)}};
  if (t.stage == "final" && e.target_accuracy) {
    j["seconds_to_target"] = optional_json(t.seconds_to_target);
    j["steps_to_target"] = t.steps_to_target ? json(*t.steps_to_target) : json(nullptr);
  }
  return j;
}

}  // namespace

json tuning_json(const ExperimentFile& e, const std::vector<MethodTuning>& methods) {
  const TuneProtocol& p = e.protocol;
  json j = {{"experiment", e.name},
            {"protocol",
             {{"points_per_decade", p.points_per_decade},
              {"decades", p.decades},
              {"grid_points", 2 * p.half_width() + 1},
              {"max_extensions", p.max_extensions},
              {"second_stage_runs", p.second_stage_runs},
              {"selection_seed", p.selection_seed},
              {"selection_options", p.selection},
              {"selection", "final validation accuracy, then lower final validation loss; diverged runs last"},
              {"seeds", e.seeds},
              {"target_accuracy", e.target_accuracy ? json(*e.target_accuracy) : json(nullptr)}}},
            {"methods", json::array()},
            {"runs", json::array()}};
  for (const MethodTuning& mt : methods) {
    const TuneMethod& m = e.methods[mt.method];
    json method = {{"label", m.label},
                   {"options", m.options},
                   {"step_param", m.step},
                   {"centre", m.centre},
                   {"secondary_param", m.secondary.empty() ? json(nullptr) : json(m.secondary)},
                   {"runs",
                    {{"grid", mt.grid_runs},
                     {"second_stage", mt.second_stage_runs},
                     {"before_extensions", mt.grid_runs + mt.second_stage_runs},
                     {"extensions_low", mt.extensions_low},
                     {"extensions_high", mt.extensions_high},
                     {"selection", mt.selection.size()},
                     {"final", mt.finals.size()}}},
                   {"extension_cap_reached", mt.extension_cap_reached},
                   {"selection_complete", mt.selection_complete},
                   {"finals_complete", mt.finals_complete},
                   {"choice", nullptr}};
    if (mt.chosen) {
      const TuneTrial& c = mt.selection[*mt.chosen];
      method["choice"] = {{"step", c.step},
                          {"secondary", optional_json(c.secondary)},
                          {"usable", c.usable()},
                          {"val_acc", optional_json(c.val_acc)},
                          {"val_loss", optional_json(c.val_loss)},
                          {"at_grid_end", mt.chosen_at_grid_end}};
    }
    method["final"] = {{"test_acc", stat_json(test_acc_stat(mt.finals))},
                       {"diverged", std::count_if(mt.finals.begin(), mt.finals.end(),
                                                  [](const TuneTrial& t) { return t.status == "diverged"; })}};
    if (e.target_accuracy) {
      method["final"]["seconds_to_target"] = stat_json(seconds_stat(mt.finals));
      method["final"]["steps_to_target"] = stat_json(steps_stat(mt.finals));
    }
    j["methods"].push_back(std::move(method));
    for (const TuneTrial& t : mt.selection) j["runs"].push_back(trial_json(e, t));
    for (const TuneTrial& t : mt.finals) j["runs"].push_back(trial_json(e, t));
  }
  return j;
}

// ---- report.md ----

namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string setting(const TuneMethod& m, const TuneTrial& t) {
  std::string s = m.step + "=" + format_number(t.step);
  if (t.secondary) s += ", " + m.secondary + "=" + format_number(*t.secondary);
  return s;
}

std::string trial_cell(const TuneTrial& t, const std::optional<double>& value, int digits, double scale) {
  if (t.status == "diverged") return "diverged";
  return value && std::isfinite(*value) ? fixed(*value * scale, digits) : "–";
}

void protocol_text(std::ostringstream& md, const ExperimentFile& e) {
  const TuneProtocol& p = e.protocol;
  md << "## Tuning protocol\n\n"
     << "Every method is tuned alike, on the validation split (`val_split`), with seed " << p.selection_seed
     << ": its step on a log grid of " << p.points_per_decade << " points per decade over " << format_number(p.decades)
     << " decades around the file's centre (" << 2 * p.half_width() + 1
     << " runs, at the first value of a secondary parameter), extended by one point while the best step is at an "
        "end (at most "
     << p.max_extensions << " per side); then " << p.second_stage_runs
     << " second-stage runs: the secondary parameter's other values at the best step, or, for a method that tunes "
        "its step alone, steps at half (then a quarter of) the grid spacing around the best. The best run has the "
        "highest final validation accuracy (ties: the lower final validation loss); a run that diverged ranks "
        "last. No choice reads the test set; the final runs report it: every seed at the chosen setting.";
  if (!p.selection.empty())
    md << " The selection runs change `" << p.selection.dump()
       << "` from the base options (shorter runs to choose by); the final runs train in full, in their own folders.";
  md << "\n\n";
}

void budget_table(std::ostringstream& md, const ExperimentFile& e, const std::vector<MethodTuning>& methods) {
  md << "| method | options | grid runs | second-stage runs | extensions (low / high) | selection runs | chosen "
        "setting | val acc (%) | val loss | chosen step at a grid end |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const MethodTuning& mt : methods) {
    const TuneMethod& m = e.methods[mt.method];
    md << "| " << md_cell(m.label) << " | " << md_cell(describe_options(m.options)) << " | " << mt.grid_runs << " | "
       << mt.second_stage_runs << " | " << mt.extensions_low << " / " << mt.extensions_high << " | "
       << mt.selection.size() << " | ";
    if (!mt.chosen) {
      md << "not finished | | | |\n";
      continue;
    }
    const TuneTrial& c = mt.selection[*mt.chosen];
    md << (c.usable() ? setting(m, c) : "none (no run trained stably)") << " | " << trial_cell(c, c.val_acc, 2, 100)
       << " | " << trial_cell(c, c.val_loss, 4, 1) << " | "
       << (mt.chosen_at_grid_end ? (mt.extension_cap_reached ? "yes (extension cap reached)" : "yes") : "no")
       << " |\n";
  }
  md << "\nEvery method has the same number of runs before extensions (grid + second stage); extensions "
        "depend on where each method's best step lies.\n\n";
}

void selection_tables(std::ostringstream& md, const ExperimentFile& e, const std::vector<MethodTuning>& methods) {
  for (const MethodTuning& mt : methods) {
    const TuneMethod& m = e.methods[mt.method];
    md << "### " << m.label << ": selection runs\n\n| stage | " << m.step << " |"
       << (m.secondary.empty() ? "" : " " + m.secondary + " |") << " val acc (%) | val loss | status |\n|---|---|"
       << (m.secondary.empty() ? "" : "---|") << "---|---|---|\n";
    for (std::size_t i = 0; i < mt.selection.size(); ++i) {
      const TuneTrial& t = mt.selection[i];
      md << "| " << t.stage << " | " << format_number(t.step) << " |"
         << (m.secondary.empty() ? "" : " " + (t.secondary ? format_number(*t.secondary) : "–") + " |") << " "
         << trial_cell(t, t.val_acc, 2, 100) << " | " << trial_cell(t, t.val_loss, 4, 1) << " | "
         << (mt.chosen == i ? "**chosen**" : t.status == "diverged" ? md_cell(t.reason) : t.status) << " |\n";
    }
    md << "\n";
  }
}

/// One row per method: a cell per seed, then mean ± standard deviation.
void per_seed_table(std::ostringstream& md, const ExperimentFile& e, const std::vector<MethodTuning>& methods,
                    const std::string& what, const std::function<std::string(const TuneTrial&)>& cell,
                    const std::function<std::string(const MethodTuning&)>& summary) {
  md << "| method | chosen setting |";
  for (std::uint64_t s : e.seeds) md << " seed " << s << " |";
  md << " " << what << " |\n|---|---|";
  for (std::size_t i = 0; i < e.seeds.size(); ++i) md << "---|";
  md << "---|\n";
  for (const MethodTuning& mt : methods) {
    const TuneMethod& m = e.methods[mt.method];
    const bool has_choice = mt.chosen && mt.selection[*mt.chosen].usable();
    md << "| " << md_cell(m.label) << " | " << (has_choice ? setting(m, mt.selection[*mt.chosen]) : "–") << " |";
    for (std::size_t i = 0; i < e.seeds.size(); ++i)
      md << " " << (i < mt.finals.size() ? cell(mt.finals[i]) : std::string("not run")) << " |";
    md << " " << summary(mt) << " |\n";
  }
  md << "\n";
}

std::string g3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void final_tables(std::ostringstream& md, const ExperimentFile& e, const std::vector<MethodTuning>& methods) {
  md << "## Final runs at the chosen settings\n\nFinal test accuracy (%) of each seed; mean ± sample standard "
        "deviation over the seeds that did not diverge.\n\n";
  per_seed_table(
      md, e, methods, "mean ± std (%)",
      [](const TuneTrial& t) { return trial_cell(t, t.test_acc, 2, 100); },
      [](const MethodTuning& mt) { return md_stat(test_acc_stat(mt.finals), 2, 100); });
  if (!e.target_accuracy) return;
  const std::string target = format_number(*e.target_accuracy * 100) + "%";
  md << "Training seconds (and steps) to the first evaluation point with " << target
     << " test accuracy; mean ± sample standard deviation over the seeds that reached it.\n\n";
  per_seed_table(
      md, e, methods, "mean ± std seconds / steps",
      [](const TuneTrial& t) {
        if (t.status == "diverged") return std::string("diverged");
        if (!t.seconds_to_target) return std::string("not reached");
        return g3(*t.seconds_to_target) + " s / " + std::to_string(*t.steps_to_target);
      },
      [](const MethodTuning& mt) {
        const Stat s = seconds_stat(mt.finals);
        if (s.n == 0) return std::string("–");
        return md_stat(s, 2) + " s / " + md_stat(steps_stat(mt.finals), 0) + " (" + std::to_string(s.n) + "/" +
               std::to_string(mt.finals.size()) + " seeds)";
      });
}

}  // namespace

std::string tuning_markdown(const ExperimentFile& e, const std::vector<MethodTuning>& methods) {
  std::ostringstream md;
  protocol_text(md, e);
  budget_table(md, e, methods);
  final_tables(md, e, methods);
  selection_tables(md, e, methods);
  return md.str();
}

}  // namespace sibp
