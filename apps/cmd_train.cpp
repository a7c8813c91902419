// `sibp train`: one training run (experiment/training_run.hpp) from options.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "experiment/training_run.hpp"

namespace sibp::cli {
namespace {

struct TrainArgs {
  RunConfig config;
  std::string out;
  std::string config_file;
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

void run(CLI::App& cmd, TrainArgs& args) {
  RunConfig config = args.config;
  if (!args.config_file.empty()) {
    // Start from the file; options given on the command line win.
    nlohmann::json base;
    try {
      base = nlohmann::json::parse(read_file(args.config_file));
    } catch (const nlohmann::json::exception& e) {
      throw DataError(args.config_file + ": not valid JSON: " + e.what());
    }
    for (const char* drop : {"software", "data_shape"}) base.erase(drop);
    const nlohmann::json given = args.config.to_json();
    for (const CLI::Option* opt : cmd.get_options()) {
      if (opt->count() == 0 || opt->get_name() == "--config" || opt->get_name() == "--out") continue;
      std::string key = opt->get_name().substr(2);
      for (char& ch : key)
        if (ch == '-') ch = '_';
      if (key == "quirk") key = "quirks";
      if (given.contains(key)) base[key] = given[key];
    }
    config = RunConfig::from_json(base, args.config_file);
  }

  RunHooks hooks;
  const bool tty = ::isatty(STDERR_FILENO) == 1;
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
                   info.epoch, config.epochs, info.iteration, info.total_iterations, info.loss, rate,
                   format_duration(eta).c_str());
      std::fflush(stderr);
    };
  }
  const RunOutcome outcome = run_training(config, args.out, hooks);
  if (tty) std::fprintf(stderr, "\n");

  std::cout << "epoch  iteration  seconds  train_loss  train_acc  val_acc  test_loss  test_acc\n";
  for (const MetricsRow& r : outcome.rows) {
    char line[256];
    std::snprintf(line, sizeof line, "%5.2f  %9lld  %7.2f  %10s  %9s  %7s  %9s  %8s\n", r.epoch, r.iteration,
                  r.seconds, fmt(r.train_loss).c_str(), fmt(r.train_acc).c_str(), fmt(r.val_acc).c_str(),
                  fmt(r.test_loss).c_str(), fmt(r.test_acc).c_str());
    std::cout << line;
  }
  std::cout << "seconds per epoch (training only): " << outcome.seconds_per_epoch << "\n";
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
  RunConfig& c = args->config;
  CLI::App* cmd = app.add_subcommand("train", "Train a network and write config.json, metrics.csv/json, "
                                              "model.safetensors and result.json into --out");
  // A later option overrides an earlier one (handy after --config or in scripts).
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("--out", args->out, "Output folder (created if needed)")->required();
  cmd->add_option("--config", args->config_file,
                  "Start from a config.json (e.g. of an earlier run); options given here override it");
  const char* data_group = "Data";
  cmd->add_option("--data", c.data, "Data set: mnist, fashion-mnist, cifar10:DIR, idx:DIR, csv:TRAIN[,TEST]")
      ->capture_default_str()->group(data_group);
  cmd->add_option("--data-dir", c.data_dir, "Folder of fetched data sets (default: $SIBP_DATA_DIR or ./data)")
      ->group(data_group);
  cmd->add_option("--val-split", c.val_split, "Hold out the last N training samples for validation")
      ->capture_default_str()->group(data_group);
  cmd->add_flag("--standardize", c.standardize, "Standardise features (mean/std of the training split)")
      ->group(data_group);
  const char* model_group = "Model";
  cmd->add_option("--layers", c.layers, "Widths from input to classes, e.g. 784-500-10")
      ->capture_default_str()->group(model_group);
  cmd->add_option("--arch", c.arch,
                  "Architecture, e.g. 'conv(32,5,pad=2) relu maxpool(2) flatten dense(10)' (replaces --layers/--act)")
      ->group(model_group);
  cmd->add_option("--act", c.act, "Hidden activation: relu, leaky-relu, tanh, sigmoid, identity")
      ->capture_default_str()->group(model_group);
  cmd->add_option("--loss", c.loss, "Loss: cross-entropy (softmax) or squared")->capture_default_str()
      ->group(model_group);
  cmd->add_option("--init", c.init, "Initialiser: normal:STD, he, glorot")->capture_default_str()
      ->group(model_group);
  cmd->add_option("--init-from", c.init_from, "Start from the weights in this .safetensors file")
      ->group(model_group);
  cmd->add_option("--dtype", c.dtype, "Precision: f32 or f64")->capture_default_str()->group(model_group);
  const char* algo_group = "Algorithm";
  cmd->add_option("--algo", c.algo, "sgd, momentum, nesterov, adam, sibp, proxprop")->capture_default_str()
      ->group(algo_group);
  cmd->add_option("--lr", c.lr, "Learning rate (SGD/Adam; ProxProp's outer optimizer)")->capture_default_str()
      ->group(algo_group);
  cmd->add_option("--momentum", c.momentum, "SGD momentum (0.9 if --algo momentum/nesterov and unset)")
      ->group(algo_group);
  cmd->add_flag("--nesterov", c.nesterov, "Nesterov momentum")->group(algo_group);
  cmd->add_option("--weight-decay", c.weight_decay, "L2 weight decay added to the gradient (as PyTorch)")
      ->group(algo_group);
  cmd->add_option("--beta1", c.beta1, "Adam beta1")->capture_default_str()->group(algo_group);
  cmd->add_option("--beta2", c.beta2, "Adam beta2")->capture_default_str()->group(algo_group);
  cmd->add_option("--eps", c.eps, "Adam epsilon")->capture_default_str()->group(algo_group);
  const char* sibp_group = "SIBP (--algo sibp)";
  cmd->add_option("--eta", c.eta, "Neuron step eta")->capture_default_str()->group(sibp_group);
  cmd->add_option("--lambda", c.lambda, "Proximal weight lambda: one value or one per layer (1,1,0.5)")
      ->capture_default_str()->group(sibp_group);
  cmd->add_option("--solver", c.solver,
                  "Prox solver: reference, exact, gn-cg, gn-exact, or OUTPUT:HIDDEN (e.g. exact:gn-exact)")
      ->capture_default_str()->group(sibp_group);
  cmd->add_option("--solver-iters", c.solver_iters, "Iterations of iterative prox solvers")
      ->capture_default_str()->group(sibp_group);
  cmd->add_option("--update", c.update, "sequential (W then b, the authors') or joint ([W b])")
      ->capture_default_str()->group(sibp_group);
  cmd->add_option("--quirk", c.quirks,
                  "Reproduce a quirk of the authors' code: first-gradient-omits-bias, armijo-jump, "
                  "skip-unit-step (repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group(sibp_group);
  cmd->add_option("--compat", c.compat, "'authors': all three quirks of the published code")
      ->group(sibp_group);
  const char* prox_group = "ProxProp (--algo proxprop)";
  cmd->add_option("--tau", c.tau, "Proximal step tau")->capture_default_str()->group(prox_group);
  cmd->add_option("--prox-solver", c.prox_solver, "exact or cg")->capture_default_str()->group(prox_group);
  cmd->add_option("--prox-iters", c.prox_iters, "CG iterations (cg solver)")->capture_default_str()
      ->group(prox_group);
  cmd->add_option("--prox-cg", c.prox_cg,
                  "reference: CG as in the reference code (eps 1e-6 in alpha/beta, early stop); textbook: plain CG")
      ->capture_default_str()->group(prox_group);
  cmd->add_option("--outer", c.outer, "Outer optimizer: sgd or adam (uses --lr, --momentum, --nesterov)")
      ->capture_default_str()->group(prox_group);
  const char* loop_group = "Training loop";
  cmd->add_option("--epochs", c.epochs, "Epochs")->capture_default_str()->group(loop_group);
  cmd->add_option("--batch", c.batch, "Mini-batch size")->capture_default_str()->group(loop_group);
  cmd->add_option("--seed", c.seed, "Seed for initialisation and shuffling")->capture_default_str()
      ->group(loop_group);
  cmd->add_option("--eval-every", c.eval_every, "Also evaluate every N iterations (0: epoch ends only)")
      ->capture_default_str()->group(loop_group);
  cmd->add_flag("--diagnostics", c.diagnostics,
                "Record per-layer solver diagnostics and the full-batch gradient norm")
      ->group(loop_group);
  cmd->add_flag("--grad-norm", c.grad_norm, "Record the full-batch gradient norm at each evaluation")
      ->group(loop_group);
  cmd->add_option("--threads", c.threads, "Threads for linear algebra (0: all cores); 1 is robust when other processes share the machine")->capture_default_str()->group(loop_group);
  cmd->callback([cmd, args] { run(*cmd, *args); });
}

}  // namespace sibp::cli
