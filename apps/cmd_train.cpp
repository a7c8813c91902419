// `sibp train`: one training run (experiment/training_run.hpp) from options.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "core/json_read.hpp"
#include "core/error.hpp"
#include "experiment/training_run.hpp"

namespace sibp::cli {
namespace {

struct TrainArgs {
  std::string out;
  std::string config_file;
  bool resume = false;
  bool overwrite = false;
  /// Option key → the texts given on the command line, in table order when applied.
  std::map<std::string, std::vector<std::string>> given;
};

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const long long t = static_cast<long long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", t / 60, t % 60);
  return buf;
}

std::string fmt(const std::optional<double>& v, int precision = 4) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", precision, *v);
  return buf;
}

void run(const TrainArgs& args) {
  RunOptions options;
  if (args.resume) {
    // The run continues as configured; options given here must not change it.
    if (!std::filesystem::exists(std::filesystem::path(args.out) / "config.json"))
      throw UsageError("--resume: " + args.out + " holds no run to resume (no config.json)");
    options = stored_run_options(args.out);
  } else if (!args.config_file.empty()) {
    // Start from the file; options given on the command line win.
    nlohmann::json base = read_json_file(args.config_file);
    if (!base.is_object())
      throw DataError(args.config_file + ": expected a JSON object of run options, got a JSON " + base.type_name());
    for (const char* drop : {"software", "data_shape"}) base.erase(drop);
    read_run_options(base, args.config_file, options);
  }
  std::vector<std::string> keys;
  for (const RunOptionInfo& info : run_option_table()) {
    const auto it = args.given.find(info.key);
    if (it == args.given.end()) continue;
    if (info.repeatable) info.from_json(options, nlohmann::json::array());  // the command line replaces the list
    for (const std::string& text : it->second) info.from_text(options, text);
    keys.push_back(info.key);
  }
  check_applicable(options, keys);
  const RunSpec spec(options);
  const OutputMode mode = args.resume ? OutputMode::Resume : args.overwrite ? OutputMode::Overwrite : OutputMode::New;
  const int epochs = spec.fit().epochs;

  RunHooks hooks;
  Communicator& comm = communicator();
  const bool tty = ::isatty(STDERR_FILENO) == 1 && comm.is_root();
  auto last_print = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  if (tty) {
    hooks.on_step = [&](const StepInfo& info) {
      const auto now = std::chrono::steady_clock::now();
      if (info.iteration != info.total_iterations && now - last_print < std::chrono::milliseconds(200)) return;
      last_print = now;
      const double rate = info.seconds > 0 ? static_cast<double>(info.samples) / info.seconds : 0;
      const double eta = info.iteration > 0 ? info.seconds / static_cast<double>(info.iteration) *
                                                  static_cast<double>(info.total_iterations - info.iteration)
                                            : 0;
      std::fprintf(stderr, "\repoch %d/%d  iter %lld/%lld  loss %.4f  %.0f samples/s  ETA %s   ",
                   info.epoch, epochs, info.iteration, info.total_iterations, info.loss, rate,
                   format_duration(eta).c_str());
      std::fflush(stderr);
    };
  }
  const RunOutcome outcome = run_training(spec, args.out, hooks, mode, comm);
  if (tty) std::fprintf(stderr, "\n");
  if (!comm.is_root()) {
    // Rank 0 prints and writes; the others only share the exit status.
    if (outcome.status == RunStatus::Diverged) throw Exit{3};
    return;
  }
  if (outcome.resumed && !outcome.rows.empty())
    std::cout << (outcome.message == "already finished" ? "the run in " + args.out + " had already finished\n"
                                                         : "resumed the run in " + args.out + "\n");

  std::cout << "epoch  iteration  seconds  train_loss  train_acc  val_acc  test_loss  test_acc\n";
  for (const MetricsRow& r : outcome.rows) {
    char line[256];
    std::snprintf(line, sizeof line, "%5.2f  %9lld  %7.2f  %10s  %9s  %7s  %9s  %8s\n", r.epoch, r.iteration,
                  r.seconds, fmt(r.train_loss).c_str(), fmt(r.train_acc).c_str(), fmt(r.val_acc).c_str(),
                  fmt(r.test_loss).c_str(), fmt(r.test_acc).c_str());
    std::cout << line;
  }
  std::cout << "seconds per epoch (training only): " << outcome.seconds_per_epoch << "\n";
  if (outcome.ranks > 1 && outcome.steps > 0) {
    // ALGORITHMS.md §6: what each step sent into collectives (rank 0's share).
    const CommVolume& v = outcome.step_volume;
    const double steps = static_cast<double>(outcome.steps);
    char line[256];
    std::snprintf(line, sizeof line,
                  "processes: %d; per step: %.1f allreduce calls, %.0f bytes allreduced; %.1f gathers, %.0f bytes "
                  "gathered\n",
                  outcome.ranks, static_cast<double>(v.allreduce_calls) / steps,
                  static_cast<double>(v.allreduce_bytes) / steps, static_cast<double>(v.gather_calls) / steps,
                  static_cast<double>(v.gather_bytes) / steps);
    std::cout << line;
  }
  std::cout << "outputs in " << args.out << "\n";
  if (outcome.status == RunStatus::Diverged) {
    std::cerr << "sibp: " << outcome.message
              << "; metrics so far and the last good checkpoint are kept in " << args.out << "\n";
    throw Exit{3};
  }
}

}  // namespace

void register_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a network and write config.json, metrics.csv/json, model.safetensors and result.json into --out "
      "(one process per folder; resumable with --resume)");
  cmd->add_option("--out", args->out, "Output folder (created if needed)")->required();
  auto* config = cmd->add_option("--config", args->config_file,
                                 "Start from a config.json (e.g. of an earlier run); options given here override it");
  auto* resume = cmd->add_flag("--resume", args->resume,
                               "Continue the interrupted run in --out from its last checkpoint (as configured there)");
  cmd->add_flag("--overwrite", args->overwrite, "Delete the run already in --out and start over")->excludes(resume);
  resume->excludes(config);
  // Every run option from the one table (experiment/run_options.hpp): names, help
  // texts and defaults are those of config.json and experiment files.
  const RunOptions defaults;
  for (const RunOptionInfo& info : run_option_table()) {
    std::string help = info.help;
    const nlohmann::json d = info.to_json(defaults);
    if (!d.is_null() && !info.flag && !(d.is_string() && d.get<std::string>().empty()))
      help += " [default: " + (d.is_string() ? d.get<std::string>() : d.dump()) + "]";
    const std::string key = info.key;
    CLI::Option* opt = nullptr;
    if (info.flag) {
      opt = cmd->add_flag_function(info.cli, [args, key](std::int64_t) { args->given[key] = {"true"}; }, help);
    } else {
      opt = cmd->add_option_function<std::vector<std::string>>(
          info.cli, [args, key](const std::vector<std::string>& v) { args->given[key] = v; }, help);
      opt->type_name(info.value_name)->expected(1)->allow_extra_args(false);
      // A later value overrides an earlier one (handy after --config or in scripts); --quirk accumulates.
      opt->multi_option_policy(info.repeatable ? CLI::MultiOptionPolicy::TakeAll : CLI::MultiOptionPolicy::TakeLast);
    }
    opt->group(info.group);
  }
  cmd->callback([args] { run(*args); });
}

}  // namespace sibp::cli
