#include "experiment/sweep.hpp"

#include <cmath>
#include <map>
#include <sstream>

#include "core/atomic_file.hpp"

namespace sibp {
namespace fs = std::filesystem;

namespace {
/// A run must end below this fraction of its initial training loss to count as stable.
constexpr double kLearnedFraction = 0.95;
}  // namespace

SweepPoint classify_sweep_run(const RunResult& r) {
  SweepPoint p;
  p.label = r.plan.label;
  p.param = r.plan.param;
  p.value = r.plan.value;
  p.seed = r.plan.seed;
  p.complete = r.complete;
  if (!r.complete) return p;
  for (const MetricsRow& row : r.rows)
    if (row.iteration == 0 && row.train_loss) {
      p.initial_train_loss = row.train_loss;
      break;
    }
  if (!r.rows.empty()) {
    p.final_train_loss = r.rows.back().train_loss;
    p.final_test_acc = r.rows.back().test_acc;
  }
  auto diverged = [&](const std::string& why) {
    p.diverged = true;
    p.reason = why;
  };
  if (r.status == "diverged") {
    diverged(r.message.empty() ? "training stopped on a non-finite step" : r.message);
  } else if (r.rows.empty()) {
    diverged("no evaluation point was recorded");
  } else if ((p.final_train_loss && !std::isfinite(*p.final_train_loss)) ||
             (p.final_test_acc && !std::isfinite(*p.final_test_acc))) {
    diverged("a final metric is not finite");
  } else if (p.final_train_loss && p.initial_train_loss && *p.final_train_loss > *p.initial_train_loss) {
    diverged("final training loss " + format_number(*p.final_train_loss) + " is above its initial value " +
             format_number(*p.initial_train_loss));
  } else if (p.final_train_loss && p.initial_train_loss &&
             *p.final_train_loss > kLearnedFraction * *p.initial_train_loss) {
    // Measured on MNIST: SGD at lr 10 collapsed to a near-constant prediction
    // (11% accuracy) with a loss just under its start (2.32 vs 2.39). A step
    // that learns nothing is not a stable step.
    diverged("final training loss " + format_number(*p.final_train_loss) +
             " is not clearly below its initial value " + format_number(*p.initial_train_loss) +
             " (more than 95% of it): the run collapsed or learned nothing");
  }
  return p;
}

std::vector<SweepSummary> summarize_sweeps(const ExperimentFile& e, const std::vector<SweepPoint>& points) {
  std::vector<SweepSummary> out;
  for (const SweepSpec& spec : e.sweeps) {
    SweepSummary s;
    s.label = spec.label;
    s.param = spec.param;
    s.hyper = describe_options(spec.base);
    std::map<double, std::pair<std::vector<double>, std::vector<double>>> finals;  // value -> (loss, acc)
    for (double v : spec.values) {
      SweepValueSummary vs;
      vs.value = v;
      s.values.push_back(vs);
    }
    bool any = false;
    for (const SweepPoint& p : points) {
      if (p.label != spec.label) continue;
      any = true;
      for (SweepValueSummary& vs : s.values) {
        if (vs.value != p.value) continue;
        ++vs.seeds;
        if (!p.complete) break;
        ++vs.complete;
        if (p.diverged) ++vs.diverged;
        auto& [loss, acc] = finals[vs.value];
        if (!p.diverged && p.final_train_loss) loss.push_back(*p.final_train_loss);
        if (p.final_test_acc && std::isfinite(*p.final_test_acc)) acc.push_back(*p.final_test_acc);
        break;
      }
    }
    if (!any) continue;  // filtered out by --only: no row
    bool prefix_stable = true;
    for (SweepValueSummary& vs : s.values) {
      vs.final_train_loss = Stat::of(finals[vs.value].first);
      vs.final_test_acc = Stat::of(finals[vs.value].second);
      const bool stable = vs.seeds > 0 && vs.complete == vs.seeds && vs.diverged == 0;
      if (stable) {
        s.largest_stable = vs.value;
        s.all_smaller_stable = prefix_stable;
      }
      prefix_stable = prefix_stable && stable;
    }
    out.push_back(std::move(s));
  }
  return out;
}

void write_sweep_csv(const fs::path& path, const std::vector<SweepPoint>& points) {
  auto opt = [](const std::optional<double>& v) { return v ? format_number(*v) : std::string(); };
  auto quote = [](const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
      if (c == '"') out += '"';
      out += (c == '\n' || c == '\r') ? ' ' : c;
    }
    return out + "\"";
  };
  std::ostringstream csv;
  csv << "label,param,value,seed,status,final_train_loss,final_test_acc,reason\n";
  for (const SweepPoint& p : points)
    csv << quote(p.label) << ',' << p.param << ',' << format_number(p.value) << ',' << p.seed << ','
        << (!p.complete ? "missing" : p.diverged ? "diverged" : "stable") << ',' << opt(p.final_train_loss) << ','
        << opt(p.final_test_acc) << ',' << quote(p.reason) << '\n';
  write_file_atomic(path, csv.str());
}

std::string sweep_markdown(const std::vector<SweepSummary>& sweeps) {
  std::ostringstream md;
  md << "## Largest stable step\n\n"
        "A run counts as diverged when training stopped on a non-finite step, when its final training loss is "
        "not clearly below its loss at iteration 0 (above 95% of it: a run that collapsed to a constant "
        "prediction, or whose logits blew up while its accuracy held), or when a final metric is not finite."
        "\n\n";
  md << "| sweep | fixed options | parameter | values tried | largest stable value | every smaller value stable |\n"
        "|---|---|---|---|---|---|\n";
  for (const SweepSummary& s : sweeps) {
    std::string range = s.values.empty() ? "–"
                                          : format_number(s.values.front().value) + " … " +
                                                format_number(s.values.back().value) + " (" +
                                                std::to_string(s.values.size()) + ")";
    md << "| " << md_cell(s.label) << " | " << md_cell(s.hyper) << " | " << s.param << " | " << range << " | "
       << (s.largest_stable ? format_number(*s.largest_stable) : "none") << " | "
       << (s.largest_stable ? (s.all_smaller_stable ? "yes" : "no") : "–") << " |\n";
  }
  md << "\n";
  for (const SweepSummary& s : sweeps) {
    md << "### " << s.label << " (" << s.param << ")\n\n";
    md << "| " << s.param << " | seeds run | diverged | final train loss | final test acc (%) |\n"
          "|---|---|---|---|---|\n";
    for (const SweepValueSummary& v : s.values) {
      md << "| " << format_number(v.value) << " | " << v.complete << "/" << v.seeds << " | " << v.diverged << " | "
         << md_stat(v.final_train_loss, 4) << " | " << md_stat(v.final_test_acc, 2, 100) << " |\n";
    }
    md << "\n";
  }
  return md.str();
}

}  // namespace sibp
