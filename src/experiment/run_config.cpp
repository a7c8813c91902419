#include "experiment/run_config.hpp"

#include <cmath>

#include "core/error.hpp"

namespace sibp {

namespace {
// One table drives both directions, so a new option cannot be written
// without also being read.
template <typename F>
void for_each_field(RunConfig& c, F&& f) {
  f("data", c.data);
  f("data_dir", c.data_dir);
  f("val_split", c.val_split);
  f("standardize", c.standardize);
  f("layers", c.layers);
  f("arch", c.arch);
  f("act", c.act);
  f("loss", c.loss);
  f("init", c.init);
  f("init_from", c.init_from);
  f("dtype", c.dtype);
  f("algo", c.algo);
  f("lr", c.lr);
  f("momentum", c.momentum);
  f("nesterov", c.nesterov);
  f("weight_decay", c.weight_decay);
  f("beta1", c.beta1);
  f("beta2", c.beta2);
  f("eps", c.eps);
  f("eta", c.eta);
  f("lambda", c.lambda);
  f("solver", c.solver);
  f("solver_iters", c.solver_iters);
  f("update", c.update);
  f("quirks", c.quirks);
  f("compat", c.compat);
  f("tau", c.tau);
  f("prox_solver", c.prox_solver);
  f("prox_iters", c.prox_iters);
  f("prox_cg", c.prox_cg);
  f("outer", c.outer);
  f("epochs", c.epochs);
  f("batch", c.batch);
  f("seed", c.seed);
  f("eval_every", c.eval_every);
  f("diagnostics", c.diagnostics);
  f("grad_norm", c.grad_norm);
  f("threads", c.threads);
}

std::string type_name(const nlohmann::json& v) { return v.type_name(); }

template <typename V>
void read_value(const nlohmann::json& v, V& out, const std::string& key, const std::string& source) {
  auto bad = [&](const std::string& expected) {
    throw UsageError(source + ": key '" + key + "' must be " + expected + ", got " + type_name(v) +
                     " " + v.dump());
  };
  if constexpr (std::is_same_v<V, std::string>) {
    if (v.is_string())
      out = v.get<std::string>();
    else if (v.is_number())  // "lambda": 1 is as natural as "lambda": "1"
      out = v.dump();
    else
      bad("a string");
  } else if constexpr (std::is_same_v<V, bool>) {
    if (!v.is_boolean()) bad("true or false");
    out = v.get<bool>();
  } else if constexpr (std::is_same_v<V, double>) {
    if (!v.is_number()) bad("a number");
    out = v.get<double>();
  } else if constexpr (std::is_same_v<V, std::vector<std::string>>) {
    if (v.is_string()) {
      out = {v.get<std::string>()};
      return;
    }
    if (!v.is_array()) bad("a list of strings");
    out.clear();
    for (const auto& e : v) {
      if (!e.is_string()) bad("a list of strings");
      out.push_back(e.get<std::string>());
    }
  } else {  // integers
    if (!v.is_number_integer() && !v.is_number_unsigned()) bad("an integer");
    if constexpr (std::is_unsigned_v<V>) {
      if (v.is_number_integer() && v.get<long long>() < 0) bad("a non-negative integer");
    }
    out = v.get<V>();
  }
}
}  // namespace

nlohmann::json RunConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  RunConfig copy = *this;
  for_each_field(copy, [&](const char* key, auto& value) { j[key] = value; });
  return j;
}

RunConfig RunConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw UsageError(source + ": expected a JSON object of run options, got " + j.type_name());
  RunConfig c;
  std::size_t known = 0;
  for_each_field(c, [&](const char* key, auto& value) {
    if (auto it = j.find(key); it != j.end()) {
      read_value(*it, value, key, source);
      ++known;
    }
  });
  if (known != j.size()) {
    RunConfig probe;
    for (const auto& [key, value] : j.items()) {
      bool found = false;
      for_each_field(probe, [&](const char* k, auto&) { found = found || key == k; });
      if (!found) throw UsageError(source + ": unknown key '" + key + "'");
    }
  }
  return c;
}

void RunConfig::validate() const {
  auto bad = [](const std::string& msg) { throw UsageError(msg); };
  if (epochs < 1) bad("--epochs must be a positive integer, got " + std::to_string(epochs));
  if (batch < 1) bad("--batch must be a positive integer, got " + std::to_string(batch));
  if (eval_every < 0) bad("--eval-every must be >= 0, got " + std::to_string(eval_every));
  if (val_split < 0) bad("--val-split must be >= 0, got " + std::to_string(val_split));
  if (threads < 0) bad("--threads must be >= 0, got " + std::to_string(threads));
  if (dtype != "f32" && dtype != "f64") bad("--dtype must be f32 or f64, got '" + dtype + "'");
  static const char* algos[] = {"sgd", "momentum", "nesterov", "adam", "sibp", "proxprop"};
  bool known = false;
  for (const char* a : algos) known = known || algo == a;
  if (!known) bad("unknown --algo '" + algo + "': expected one of sgd, momentum, nesterov, adam, sibp, proxprop");
  if (!(lr > 0) || !std::isfinite(lr)) bad("--lr must be a positive number, got " + std::to_string(lr));
  if (algo == "sibp" && (!(eta > 0) || !std::isfinite(eta)))
    bad("--eta must be a positive number, got " + std::to_string(eta));
  if (algo == "proxprop" && (!(tau > 0) || !std::isfinite(tau)))
    bad("--tau must be a positive number, got " + std::to_string(tau));
}

}  // namespace sibp
