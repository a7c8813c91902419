#include "experiment/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"
#include "io/metrics_file.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

std::vector<RunResult> read_results(const fs::path& dir, const std::vector<PlannedRun>& plan) {
  std::vector<RunResult> results;
  results.reserve(plan.size());
  for (const PlannedRun& p : plan) {
    RunResult r;
    r.plan = p;
    r.dir = dir / p.subdir;
    r.status = "missing";
    const fs::path result_file = r.dir / "result.json";
    std::error_code ec;
    // exists, not is_regular_file: a folder or FIFO named result.json is an
    // error (read_json_file says which), not a run that has not finished.
    if (fs::exists(result_file, ec)) {
      const json j = read_json_file(result_file);
      if (!j.is_object() || !j.contains("status") || !j["status"].is_string())
        throw DataError(result_file.string() + ": expected an object with a string \"status\", found " +
                        json_excerpt(j));
      r.complete = true;
      r.status = j["status"].get<std::string>();
      if (j.contains("message") && j["message"].is_string()) r.message = j["message"].get<std::string>();
      if (j.contains("seconds_per_epoch") && j["seconds_per_epoch"].is_number())
        r.seconds_per_epoch = j["seconds_per_epoch"].get<double>();
      r.rows = read_metrics_csv(r.dir / "metrics.csv");
    }
    results.push_back(std::move(r));
  }
  return results;
}

Stat Stat::of(const std::vector<double>& values) {
  Stat s;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) {
      sum += v;
      ++s.n;
    }
  if (s.n == 0) return s;
  s.mean = sum / s.n;
  if (s.n > 1) {
    double ss = 0;
    for (double v : values)
      if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / (s.n - 1));
  }
  return s;
}

std::string describe_options(const json& options) {
  std::string out;
  for (const auto& [k, v] : options.items()) {
    if (!out.empty()) out += ", ";
    out += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

std::vector<LabelSummary> summarize_compare(const std::vector<RunResult>& results,
                                            std::optional<double> target_accuracy) {
  std::vector<LabelSummary> out;
  std::map<std::string, std::size_t> index;
  struct Acc {
    std::vector<double> final_loss, best_loss, final_train_acc, final_test_acc, final_val_acc, spe, t_target, e_target;
  };
  std::vector<Acc> acc;
  for (const RunResult& r : results) {
    auto [it, added] = index.emplace(r.plan.label, out.size());
    if (added) {
      LabelSummary s;
      s.label = r.plan.label;
      s.data = r.plan.config.data;
      s.hyper = describe_options(r.plan.options);
      out.push_back(s);
      acc.emplace_back();
    }
    LabelSummary& s = out[it->second];
    Acc& a = acc[it->second];
    ++s.seeds;
    if (!r.complete) continue;
    ++s.complete;
    a.spe.push_back(r.seconds_per_epoch);
    if (target_accuracy)
      for (const MetricsRow& row : r.rows)
        if (row.test_acc && *row.test_acc >= *target_accuracy) {
          a.t_target.push_back(row.seconds);
          a.e_target.push_back(row.epoch);
          break;
        }
    if (r.status == "diverged") {
      ++s.diverged;
      continue;
    }
    if (r.rows.empty()) continue;
    const MetricsRow& last = r.rows.back();
    if (last.train_loss) a.final_loss.push_back(*last.train_loss);
    if (last.train_acc) a.final_train_acc.push_back(*last.train_acc);
    if (last.test_acc) a.final_test_acc.push_back(*last.test_acc);
    if (last.val_acc) a.final_val_acc.push_back(*last.val_acc);
    double best = INFINITY;
    for (const MetricsRow& row : r.rows)
      if (row.train_loss && std::isfinite(*row.train_loss)) best = std::min(best, *row.train_loss);
    if (std::isfinite(best)) a.best_loss.push_back(best);
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].final_train_loss = Stat::of(acc[i].final_loss);
    out[i].best_train_loss = Stat::of(acc[i].best_loss);
    out[i].final_train_acc = Stat::of(acc[i].final_train_acc);
    out[i].final_test_acc = Stat::of(acc[i].final_test_acc);
    out[i].final_val_acc = Stat::of(acc[i].final_val_acc);
    out[i].seconds_per_epoch = Stat::of(acc[i].spe);
    out[i].reached_target = static_cast<int>(acc[i].t_target.size());
    out[i].seconds_to_target = Stat::of(acc[i].t_target);
    out[i].epochs_to_target = Stat::of(acc[i].e_target);
  }
  return out;
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_stat(const Stat& s, bool with_std = true) {
  if (s.n == 0) return with_std ? "," : "";
  return format_number(s.mean) + (with_std ? "," + format_number(s.std) : "");
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

/// "0.1234 ± 0.0012" (scale 100 shows accuracies in percent).
std::string md_stat(const Stat& s, int digits, double scale) {
  if (s.n == 0) return "–";
  std::string out = fixed(s.mean * scale, digits);
  if (s.n > 1) out += " ± " + fixed(s.std * scale, digits);
  return out;
}

namespace {

/// Like md_stat with 3 significant digits: timings span 0.01 s to hours.
std::string md_stat_g(const Stat& s) {
  if (s.n == 0) return "–";
  auto g = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return std::string(buf);
  };
  return s.n > 1 ? g(s.mean) + " ± " + g(s.std) : g(s.mean);
}

}  // namespace

/// Markdown table cells must not contain '|' or newlines.
std::string md_cell(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

namespace {

std::string percent(double v) {
  std::string s = fixed(v * 100, 2);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + "%";
}

void compare_tables(std::ostringstream& md, const std::vector<LabelSummary>& rows, std::optional<double> target) {
  std::vector<std::string> datasets;
  for (const LabelSummary& s : rows)
    if (std::find(datasets.begin(), datasets.end(), s.data) == datasets.end()) datasets.push_back(s.data);
  const std::string t = target ? percent(*target) : "";
  for (const std::string& data : datasets) {
    // Validation accuracy, when the runs hold out a split: what a choice of setting is made on.
    const bool val = std::any_of(rows.begin(), rows.end(),
                                 [&](const LabelSummary& s) { return s.data == data && s.final_val_acc.n > 0; });
    md << "## Data: `" << data << "`\n\n";
    md << "| run | hyper-parameters | seeds | diverged | final train loss | best train loss | final train acc (%) |"
       << (val ? " final val acc (%) |" : "") << " final test acc (%) | s/epoch |";
    if (target) md << " s to " << t << " test acc | epochs to " << t << " |";
    md << "\n|---|---|---|---|---|---|---|---|---|" << (val ? "---|" : "");
    if (target) md << "---|---|";
    md << "\n";
    for (const LabelSummary& s : rows) {
      if (s.data != data) continue;
      md << "| " << md_cell(s.label) << " | " << md_cell(s.hyper) << " | ";
      if (s.complete == 0) {
        md << "0/" << s.seeds << " | – | not run | | | | |" << (val ? " |" : "");
        if (target) md << " | |";
        md << "\n";
        continue;
      }
      md << s.complete << (s.complete < s.seeds ? "/" + std::to_string(s.seeds) : "") << " | " << s.diverged
         << " | " << md_stat(s.final_train_loss, 4) << " | " << md_stat(s.best_train_loss, 4) << " | "
         << md_stat(s.final_train_acc, 2, 100) << " | " << (val ? md_stat(s.final_val_acc, 2, 100) + " | " : "")
         << md_stat(s.final_test_acc, 2, 100) << " | "
         << md_stat_g(s.seconds_per_epoch) << " |";
      if (target) {
        if (s.reached_target == 0) {
          md << " not reached | not reached |";
        } else {
          const std::string part =
              s.reached_target < s.complete
                  ? " (" + std::to_string(s.reached_target) + "/" + std::to_string(s.complete) + " seeds)"
                  : "";
          md << " " << md_stat_g(s.seconds_to_target) << part << " | " << md_stat(s.epochs_to_target, 2) << part
             << " |";
        }
      }
      md << "\n";
    }
    md << "\n";
  }
  md << "Values are mean ± sample standard deviation over the seeds that completed without diverging "
        "(loss and accuracy are the last evaluation point; best train loss is the lowest over all points). "
        "Seconds count training steps only, not evaluation.";
  if (target)
    md << " Time and epochs to " << t
       << " are those of the first evaluation point whose test accuracy reaches it, averaged over the seeds "
          "that reached it.";
  md << "\n\n";
}

}  // namespace

void write_summary_csv(const fs::path& path, const std::vector<LabelSummary>& rows,
                       std::optional<double> target_accuracy) {
  std::ostringstream csv;
  csv << "data,label,hyperparameters,seeds,complete,diverged,final_train_loss_mean,final_train_loss_std,"
         "best_train_loss_mean,best_train_loss_std,final_train_acc_mean,final_train_acc_std,final_test_acc_mean,"
         "final_test_acc_std,seconds_per_epoch_mean,seconds_per_epoch_std,target_accuracy,seeds_reaching_target,"
         "seconds_to_target_mean,seconds_to_target_std,epochs_to_target_mean,epochs_to_target_std,final_val_acc_mean,"
         "final_val_acc_std\n";
  for (const LabelSummary& s : rows) {
    csv << csv_field(s.data) << ',' << csv_field(s.label) << ',' << csv_field(s.hyper) << ',' << s.seeds << ','
        << s.complete << ',' << s.diverged << ',' << csv_stat(s.final_train_loss) << ','
        << csv_stat(s.best_train_loss) << ',' << csv_stat(s.final_train_acc) << ',' << csv_stat(s.final_test_acc)
        << ',' << csv_stat(s.seconds_per_epoch) << ','
        << (target_accuracy ? format_number(*target_accuracy) : "") << ',' << s.reached_target << ','
        << csv_stat(s.seconds_to_target) << ',' << csv_stat(s.epochs_to_target) << ',' << csv_stat(s.final_val_acc)
        << '\n';
  }
  write_file_atomic(path, csv.str());
}

void write_report(const fs::path& path, const ReportContent& c) {
  const ExperimentFile& e = *c.experiment;
  std::ostringstream md;
  md << "# " << e.name << "\n\n";
  if (!e.description.empty()) md << e.description << "\n\n";
  md << "Experiment file: `" << e.source << "` (kind " << to_string(e.kind) << ", copied to `experiment.json`). "
     << "Seeds: ";
  for (std::size_t i = 0; i < e.seeds.size(); ++i) md << (i ? ", " : "") << e.seeds[i];
  md << ". Shared options: " << (e.base.empty() ? "none" : "`" + describe_options(e.base) + "`") << ".\n\n";
  md << "Generated by sibp " << SIBP_VERSION << " from the metrics files; `sibp plot <this folder>` regenerates "
     << "this report and its plots without retraining.\n\n";
  if (e.kind == ExperimentKind::Compare) compare_tables(md, c.compare, e.target_accuracy);
  md << c.sweeps_markdown;
  md << c.tuning_markdown;
  // A tuning's final runs (every seed at each chosen setting) in the comparison's tables:
  // their training loss, accuracies and times, as a comparison reports them.
  if (e.kind == ExperimentKind::Tune && !c.compare.empty()) compare_tables(md, c.compare, e.target_accuracy);
  for (const auto& [heading, images] : c.image_groups) {
    md << "## " << heading << "\n\n";
    for (const ReportContent::Image& im : images)
      md << "![" << im.caption << "](" << im.png << ")\n\n[" << im.caption << " (SVG)](" << im.svg << ")\n\n";
  }
  write_file_atomic(path, md.str());
}

}  // namespace sibp
