#include "experiment/layer_plot.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"
#include "experiment/run_folder.hpp"
#include "io/metrics_file.hpp"

namespace sibp {
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// 12 significant digits: a geometric mean through exp(mean of logs) is off in
/// the last bits ("3.0000000000000004" for one seed's 3), which a plot does not need.
std::string num(double v) {
  if (!std::isfinite(v)) return "?";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 12);
  return format_number(std::strtod(std::string(buf, r.ptr).c_str(), nullptr));
}

struct QuantityInfo {
  const char* file_column;  ///< in the .dat header
  const char* ylabel;
};
const QuantityInfo kQuantities[kLayerQuantities] = {
    {"grad_norm", "layer gradient norm (full training set)"},
    {"update", "relative update since the previous point"},
    {"target_move", "SIBP target move |T-F|/|F|"},
    {"obj_ratio", "subproblem objective after / before"},
};

/// "layer12_grad_norm" -> (12, "grad_norm"); false for other names.
bool parse_layer_column(const std::string& name, std::size_t& layer, std::string& what) {
  if (name.rfind("layer", 0) != 0) return false;
  const char* begin = name.data() + 5;
  const char* end = name.data() + name.size();
  std::size_t i = 0;
  const auto [p, ec] = std::from_chars(begin, end, i);
  if (ec != std::errc() || p == begin || p == end || *p != '_' || i == 0) return false;
  layer = i;
  what.assign(p + 1, end);
  return true;
}

/// The row's per-layer values: q -> layer (0-based) -> value; NaN where missing.
void row_values(const MetricsRow& row, std::size_t layers, std::vector<double> (&out)[kLayerQuantities]) {
  std::vector<double> before(layers, kNaN), after(layers, kNaN);
  for (auto& v : out) v.assign(layers, kNaN);
  for (const auto& [name, value] : row.extra) {
    std::size_t i = 0;
    std::string what;
    if (!parse_layer_column(name, i, what) || i > layers) continue;
    const std::size_t l = i - 1;
    if (what == "grad_norm")
      out[0][l] = value;
    else if (what == "update")
      out[1][l] = value;
    else if (what == "target_move")
      out[2][l] = value;
    else if (what == "obj_before")
      before[l] = value;
    else if (what == "obj_after")
      after[l] = value;
  }
  for (std::size_t l = 0; l < layers; ++l)
    if (std::isfinite(before[l]) && before[l] > 0 && std::isfinite(after[l])) out[3][l] = after[l] / before[l];
}

}  // namespace

bool LayerProfile::has(LayerQuantity q) const {
  for (const LayerPoint& p : points)
    for (double v : p.values[static_cast<int>(q)])
      if (std::isfinite(v)) return true;
  return false;
}

std::size_t diagnosed_layers(const std::vector<MetricsRow>& rows) {
  std::size_t layers = 0;
  for (const MetricsRow& row : rows)
    for (const auto& [name, value] : row.extra) {
      std::size_t i = 0;
      std::string what;
      if (parse_layer_column(name, i, what) && what == "grad_norm") layers = std::max(layers, i);
    }
  return layers;
}

LayerProfile make_layer_profile(const std::string& label, const std::string& title,
                                const std::vector<const std::vector<MetricsRow>*>& seeds) {
  LayerProfile p;
  p.label = label;
  p.title = title;
  for (const auto* rows : seeds) p.layers = std::max(p.layers, diagnosed_layers(*rows));
  if (p.layers == 0) return p;
  struct Acc {
    double epoch = 0;
    std::vector<double> log_sum[kLayerQuantities];
    std::vector<int> count[kLayerQuantities];
  };
  std::map<long long, Acc> accs;
  for (const auto* rows : seeds)
    for (const MetricsRow& row : *rows) {
      Acc& a = accs[row.iteration];
      a.epoch = row.epoch;
      std::vector<double> v[kLayerQuantities];
      row_values(row, p.layers, v);
      for (int q = 0; q < kLayerQuantities; ++q) {
        a.log_sum[q].resize(p.layers, 0.0);
        a.count[q].resize(p.layers, 0);
        for (std::size_t l = 0; l < p.layers; ++l)
          if (std::isfinite(v[q][l]) && v[q][l] > 0) {
            a.log_sum[q][l] += std::log(v[q][l]);
            ++a.count[q][l];
          }
      }
    }
  for (const auto& [iteration, a] : accs) {
    LayerPoint pt;
    pt.iteration = iteration;
    pt.epoch = a.epoch;
    for (int q = 0; q < kLayerQuantities; ++q) {
      pt.values[q].assign(p.layers, kNaN);
      for (std::size_t l = 0; l < p.layers; ++l)
        if (a.count[q][l] > 0) pt.values[q][l] = std::exp(a.log_sum[q][l] / a.count[q][l]);
    }
    p.points.push_back(std::move(pt));
  }
  return p;
}

std::vector<std::size_t> layer_lines(const LayerProfile& p, std::size_t max_lines) {
  std::vector<std::size_t> out;
  const std::size_t n = p.points.size();
  if (n == 0 || max_lines == 0) return out;
  if (n <= max_lines || max_lines == 1) {
    for (std::size_t i = 0; i < (max_lines == 1 ? 1 : n); ++i) out.push_back(max_lines == 1 ? n - 1 : i);
    return out;
  }
  for (std::size_t k = 0; k < max_lines; ++k) {
    const std::size_t i = static_cast<std::size_t>(
        std::llround(static_cast<double>(k) * static_cast<double>(n - 1) / static_cast<double>(max_lines - 1)));
    if (out.empty() || out.back() != i) out.push_back(i);
  }
  return out;
}

PlotFiles plot_layer_profile(const Gnuplot& g, const fs::path& plot_dir, const std::string& name,
                             const LayerProfile& p) {
  fs::create_directories(plot_dir / "data");
  const std::vector<std::size_t> lines = layer_lines(p);
  // One block per evaluation point (blank-line separated, so each is its own line).
  std::ostringstream dat;
  dat << "# " << p.title << "\n# per-layer diagnostics; values are geometric means over seeds, '?' missing\n"
      << "# layer epoch";
  for (const QuantityInfo& q : kQuantities) dat << ' ' << q.file_column;
  dat << '\n';
  double last_epoch = 0;
  for (std::size_t k : lines) {
    const LayerPoint& pt = p.points[k];
    last_epoch = std::max(last_epoch, pt.epoch);
    dat << "# epoch " << num(pt.epoch) << ", iteration " << pt.iteration << '\n';
    for (std::size_t l = 0; l < p.layers; ++l) {
      dat << (l + 1) << ' ' << num(pt.epoch);
      for (int q = 0; q < kLayerQuantities; ++q) dat << ' ' << num(pt.values[q][l]);
      dat << '\n';
    }
    dat << '\n';
  }
  const std::string rel = "data/" + name + ".dat";
  write_file_atomic(plot_dir / rel, dat.str());

  std::vector<int> panels;
  for (int q = 0; q < kLayerQuantities; ++q)
    if (p.has(static_cast<LayerQuantity>(q))) panels.push_back(q);
  const int rows = panels.size() > 2 ? 2 : 1;
  const int cols = panels.size() > 1 ? 2 : 1;
  const int width = 560 * cols, height = 420 * rows + 40;
  std::string body;
  body += "set multiplot layout " + std::to_string(rows) + "," + std::to_string(cols) + " title " + gq(p.title) + "\n";
  if (panels.empty()) {
    body += "set label 1 'no per-layer diagnostics' at graph 0.5, graph 0.5 center\nplot [0:1] [0:1] NaN notitle\n";
  }
  for (int q : panels) {
    body += "set ylabel " + gq(kQuantities[q].ylabel) + "\n";
    // Column 2 is the epoch; quantity q is column 3 + q. Each block is one line, coloured by its epoch.
    body += "plot " + gq(rel) + " using 1:" + std::to_string(3 + q) +
            ":2 with linespoints lw 1.5 pt 7 ps 0.5 lc palette notitle\n";
  }
  body += "unset multiplot\n";

  std::string script =
      "# Generated by sibp (`sibp plot` rewrites it). Edit and re-run with: gnuplot " + name +
      ".gp\n# in this folder; it writes the .svg and the .png next to it.\n"
      "set datafile missing '?'\n"
      "set grid\n"
      "set logscale y\n"
      "set format y '%.0e'\n"
      "set xlabel 'layer (1 = next to the input)'\n" +
      std::string(p.layers <= 20 ? "set xtics 1\n" : "") + "set xrange [0.5:" + num(p.layers + 0.5) +
      "]\n"
      "set cblabel 'epoch'\n"
      "set cbrange [0:" + num(last_epoch > 0 ? last_epoch : 1) + "]\n"
      "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21908d', 0.75 '#5dc963', 1 '#fde725')\n";
  // The same output convention as plot.cpp's scripts: sibp may set the
  // prefix to draw into temporary names; a user re-running it leaves it unset.
  const std::string png = g.png_terminal == "pngcairo"
                              ? "set terminal pngcairo size " + std::to_string(width) + "," +
                                    std::to_string(height) + " noenhanced font ',10'\n"
                              : "set terminal png size " + std::to_string(width) + "," + std::to_string(height) +
                                    " noenhanced truecolor\n";
  script += "if (!exists('sibp_output_prefix')) sibp_output_prefix = ''\n";
  script += "set terminal svg size " + std::to_string(width) + "," + std::to_string(height) +
            " noenhanced dynamic background rgb 'white'\n";
  script += "set output sibp_output_prefix." + gq(name + ".svg") + "\n" + body;
  script += png + "set output sibp_output_prefix." + gq(name + ".png") + "\n" + body + "unset output\n";

  PlotFiles f;
  f.caption = "per-layer diagnostics against layer index, one line per evaluation point (colour: epoch): " + p.title;
  f.script = plot_dir / (name + ".gp");
  f.svg = plot_dir / (name + ".svg");
  f.png = plot_dir / (name + ".png");
  write_file_atomic(f.script, script);
  run_gnuplot(g, f.script);
  for (const fs::path& out : {f.svg, f.png})
    if (!fs::exists(out) || fs::file_size(out) == 0)
      throw DataError("gnuplot ran " + f.script.string() + " but did not write " + out.string());
  return f;
}

std::vector<PlotFiles> plot_layer_diagnostics(const Gnuplot& g, const fs::path& plot_dir,
                                              const std::vector<RunResult>& results) {
  std::vector<std::string> labels;
  std::map<std::string, std::vector<const RunResult*>> by_label;
  for (const RunResult& r : results) {
    if (!by_label.count(r.plan.label)) labels.push_back(r.plan.label);
    by_label[r.plan.label].push_back(&r);
  }
  std::vector<PlotFiles> out;
  for (const std::string& label : labels) {
    std::vector<const std::vector<MetricsRow>*> seeds;
    for (const RunResult* r : by_label[label])
      if (r->complete && diagnosed_layers(r->rows) > 0) seeds.push_back(&r->rows);
    if (seeds.empty()) continue;
    const std::string hyper = describe_options(by_label[label].front()->plan.options);
    const std::string title = (hyper.empty() ? label : label + " (" + hyper + ")") + ", " +
                              std::to_string(seeds.size()) + (seeds.size() == 1 ? " seed" : " seeds");
    out.push_back(plot_layer_profile(g, plot_dir, "layers-" + folder_name(label),
                                     make_layer_profile(label, title, seeds)));
  }
  return out;
}

bool is_run_folder(const fs::path& dir) {
  return fs::exists(dir / "config.json") && fs::exists(dir / "metrics.csv") && !fs::exists(dir / "experiment.json");
}

std::vector<PlotFiles> plot_run_folder(const fs::path& dir) {
  if (!is_run_folder(dir))
    throw DataError(dir.string() + " holds neither experiment.json (a `sibp compare`/`sibp sweep` folder) nor "
                                   "config.json and metrics.csv (a `sibp train` folder)");
  RunResult r;
  r.dir = dir;
  r.complete = true;
  r.status = fs::exists(dir / "result.json") ? "completed" : "in progress";
  r.rows = read_metrics_csv(dir / "metrics.csv");
  r.plan.label = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
  // The title says what ran: the options that distinguish runs.
  const nlohmann::json config = read_run_config(dir);
  nlohmann::json shown = nlohmann::json::object();
  for (const char* key : {"algo", "lr", "eta", "lambda", "solver", "tau", "layers", "act", "init"})
      if (config.contains(key) && !config[key].is_null()) shown[key] = config[key];
  r.plan.options = shown;
  const Gnuplot g = find_gnuplot();
  std::vector<PlotFiles> out = plot_curves(g, dir / "plots", make_curves({r}));
  if (diagnosed_layers(r.rows) > 0) {
    const std::string hyper = describe_options(shown);
    out.push_back(plot_layer_profile(g, dir / "plots", "layers",
                                     make_layer_profile(r.plan.label, r.plan.label + " (" + hyper + ")", {&r.rows})));
  }
  return out;
}

}  // namespace sibp
