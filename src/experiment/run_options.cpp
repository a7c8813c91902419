#include "experiment/run_options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "core/enum_names.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "train/registry.hpp"

namespace sibp {

using nlohmann::json;

Algo parse_algo(std::string_view name) {
  algorithm_info(name);  // throws OptionError("algo") listing the registered names
  return Algo{std::string(name)};
}

Precision parse_precision(std::string_view name) {
  if (name == "f32") return Precision::F32;
  if (name == "bf16") return Precision::BF16;
  throw OptionError("precision", "expected f32 or bf16, got '" + std::string(name) + "'");
}

namespace {

std::string describe(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + text;
}

/// How one typed value is read from JSON and from text and written back.
/// Readers throw OptionError(key, ...), so every message names the option.
template <typename V>
struct Codec {
  std::function<V(const std::string& key, const json&)> from_json;
  std::function<V(const std::string& key, const std::string&)> from_text;
  std::function<json(const V&)> to_json;
};

/// A parser's message without its own "--key" prefix, which OptionError adds back.
std::string detail_of(const std::string& key, std::string message) {
  const std::string prefix = OptionError::cli_name(key);
  if (message.rfind(prefix, 0) == 0) {
    message.erase(0, prefix.size());
    if (message.rfind(": ", 0) == 0) message.erase(0, 2);
    else if (message.rfind(" ", 0) == 0) message.erase(0, 1);
  }
  return message;
}

/// A codec for values written as text both on the command line and in JSON,
/// parsed by a library function that throws UsageError.
template <typename V, typename Parse, typename Print>
Codec<V> text_codec(Parse parse, Print print) {
  auto from_text = [parse](const std::string& key, const std::string& text) -> V {
    try {
      return parse(text);
    } catch (const OptionError& e) {
      throw OptionError(key, e.detail());
    } catch (const UsageError& e) {
      throw OptionError(key, detail_of(key, e.what()));
    }
  };
  return {[from_text](const std::string& key, const json& v) -> V {
            if (!v.is_string()) throw OptionError(key, "expected a string, got " + describe(v));
            return from_text(key, v.get<std::string>());
          },
          from_text, [print](const V& v) { return json(print(v)); }};
}

/// A codec for an enum written as one of the names of its table.
template <typename E, std::size_t N>
Codec<E> enum_codec(const EnumNames<E, N>& names) {
  return text_codec<E>(
      [&names](const std::string& s) {
        if (const std::optional<E> v = find_enum(names, s)) return *v;
        throw UsageError("expected one of " + enum_names_text(names) + ", got '" + s + "'");
      },
      [&names](const E& v) { return enum_name(names, v); });
}

constexpr EnumNames<DType, 2> kDTypes{{{DType::F32, "f32"}, {DType::F64, "f64"}}};
constexpr EnumNames<TrainEval, 3> kTrainEvals{
    {{TrainEval::Every, "every"}, {TrainEval::EpochEnds, "epochs"}, {TrainEval::None, "none"}}};
constexpr EnumNames<UpdateKind, 2> kOuterKinds{{{UpdateKind::SGD, "sgd"}, {UpdateKind::Adam, "adam"}}};

Codec<std::string> string_codec(std::function<void(const std::string&)> check = {}) {
  return text_codec<std::string>(
      [check](const std::string& s) {
        if (check) check(s);
        return s;
      },
      [](const std::string& s) { return s; });
}

Codec<double> number_codec() {
  auto from_text = [](const std::string& key, const std::string& text) {
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
      throw OptionError(key, "expected a finite number, got '" + text + "'");
    return v;
  };
  return {[](const std::string& key, const json& v) {
            if (!v.is_number() || !std::isfinite(v.get<double>()))
              throw OptionError(key, "expected a finite number, got " + describe(v));
            return v.get<double>();
          },
          from_text, [](const double& v) { return json(v); }};
}

/// Integers of type I in [lo, hi]; JSON numbers must be integers (no 2.0, no wrap-around).
template <typename I>
Codec<I> integer_codec(I lo, I hi) {
  const std::string range = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  auto check = [lo, hi, range](const std::string& key, auto v, const std::string& shown) -> I {
    if (std::cmp_less(v, lo) || std::cmp_greater(v, hi)) throw OptionError(key, "expected " + range + ", got " + shown);
    return static_cast<I>(v);
  };
  return {[check, range](const std::string& key, const json& v) -> I {
            // check() compares across signedness exactly, so no value wraps around.
            if (v.is_number_unsigned()) return check(key, v.get<std::uint64_t>(), v.dump());
            if (v.is_number_integer()) return check(key, v.get<std::int64_t>(), v.dump());
            throw OptionError(key, "expected " + range + ", got " + describe(v));
          },
          [check, range](const std::string& key, const std::string& text) -> I {
            I v{};
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size())
              throw OptionError(key, "expected " + range + ", got '" + text + "'");
            return check(key, v, text);
          },
          [](const I& v) { return json(v); }};
}

Codec<bool> flag_codec() {
  return {[](const std::string& key, const json& v) {
            if (!v.is_boolean()) throw OptionError(key, "expected true or false, got " + describe(v));
            return v.get<bool>();
          },
          [](const std::string&, const std::string&) { return true; }, [](const bool& v) { return json(v); }};
}

std::string join_numbers(const std::vector<double>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + format_number(v[i]);
  return s;
}

std::string widths_text(const std::vector<Index>& w) {
  std::string s;
  for (std::size_t i = 0; i < w.size(); ++i) s += (i ? "-" : "") + std::to_string(w[i]);
  return s;
}

/// The documentation part of a table row.
RunOptionInfo described(std::string key, std::string group, std::string value_name, std::string help,
                        std::set<Algo> applies) {
  RunOptionInfo info;
  info.key = std::move(key);
  info.group = std::move(group);
  info.value_name = std::move(value_name);
  info.help = std::move(help);
  info.applies_to = std::move(applies);
  info.cli = OptionError::cli_name(info.key);
  return info;
}

/// The table row for RunOptions member `field` with codec `c`.
template <typename V>
RunOptionInfo row(std::string key, std::string group, std::string value_name, std::string help,
                  std::set<Algo> applies, V RunOptions::*field, Codec<V> c) {
  RunOptionInfo info = described(std::move(key), std::move(group), std::move(value_name), std::move(help),
                                 std::move(applies));
  info.flag = std::is_same_v<V, bool>;
  info.number = std::is_same_v<V, double>;
  const std::string k = info.key;
  info.from_json = [k, field, c](RunOptions& o, const json& v) { o.*field = c.from_json(k, v); };
  info.from_text = [k, field, c](RunOptions& o, const std::string& t) { o.*field = c.from_text(k, t); };
  info.to_json = [field, c](const RunOptions& o) { return c.to_json(o.*field); };
  return info;
}

/// The same for a std::optional member (null in JSON: left to its default).
template <typename V>
RunOptionInfo optional_row(std::string key, std::string group, std::string value_name, std::string help,
                           std::set<Algo> applies, std::optional<V> RunOptions::*field, Codec<V> c) {
  RunOptionInfo info = described(std::move(key), std::move(group), std::move(value_name), std::move(help),
                                 std::move(applies));
  info.number = std::is_same_v<V, double>;
  const std::string k = info.key;
  info.from_json = [k, field, c](RunOptions& o, const json& v) {
    if (v.is_null())
      (o.*field).reset();
    else
      o.*field = c.from_json(k, v);
  };
  info.from_text = [k, field, c](RunOptions& o, const std::string& t) { o.*field = c.from_text(k, t); };
  info.to_json = [field, c](const RunOptions& o) { return o.*field ? c.to_json(*(o.*field)) : json(nullptr); };
  return info;
}

const std::string kAlgorithmGroup = "Algorithm";

void add_data_rows(std::vector<RunOptionInfo>& t) {
  const std::string D = "Data";
  t.push_back(row("data", D, "SPEC", "Data set: mnist, fashion-mnist, cifar10:DIR, idx:DIR, csv:TRAIN[,TEST]", {},
                  &RunOptions::data,
                  string_codec([](const std::string& s) { parse_data_spec(s); })));
  t.push_back(row("data_dir", D, "DIR", "Folder of fetched data sets (default: $SIBP_DATA_DIR or ./data)", {},
                  &RunOptions::data_dir, string_codec()));
  t.push_back(row("val_split", D, "N", "Hold out the last N training samples for validation", {},
                  &RunOptions::val_split, integer_codec<Index>(0, Index(1) << 40)));
  t.push_back(row("train_subset", D, "N",
                  "Train on the first N training samples only (after --val-split; 0: all), for quick studies", {},
                  &RunOptions::train_subset, integer_codec<Index>(0, Index(1) << 40)));
  t.push_back(row("test_subset", D, "N",
                  "Evaluate on the first N test samples only (0: all), for quick studies where the test evaluation "
                  "would cost as much as the training", {},
                  &RunOptions::test_subset, integer_codec<Index>(0, Index(1) << 40)));
  t.push_back(row("standardize", D, "", "Standardise features (mean/std of the training split)", {},
                  &RunOptions::standardize, flag_codec()));
}

void add_model_rows(std::vector<RunOptionInfo>& t) {
  const std::string M = "Model";
  t.push_back(row("layers", M, "WIDTHS", "Fully connected widths from input to classes, e.g. 784-500-10 (with --act)",
                  {}, &RunOptions::layers,
                  text_codec<std::vector<Index>>([](const std::string& s) { return parse_widths(s); }, widths_text)));
  t.push_back(optional_row(
      "arch", M, "LAYERS",
      "Architecture, e.g. 'conv(32,5,pad=2) relu maxpool(2) dense(10)'; replaces --layers and --act", {},
      &RunOptions::arch,
      text_codec<Architecture>([](const std::string& s) { return Architecture::parse(s); },
                               [](const Architecture& a) { return a.to_string(); })));
  t.push_back(row("act", M, "NAME", "Hidden activation of --layers: relu, leaky-relu, tanh, sigmoid, identity", {},
                  &RunOptions::act,
                  text_codec<Activation>([](const std::string& s) { return parse_activation(s); },
                                         [](Activation a) { return to_string(a); })));
  t.push_back(row("loss", M, "NAME", "Loss: cross-entropy (softmax) or squared", {}, &RunOptions::loss,
                  text_codec<Loss>([](const std::string& s) { return parse_loss(s); },
                                   [](Loss l) { return to_string(l); })));
  t.push_back(row("init", M, "NAME", "Initialiser: normal:STD, he, glorot", {}, &RunOptions::init,
                  text_codec<Initializer>([](const std::string& s) { return Initializer::parse(s); },
                                          [](const Initializer& i) { return i.to_string(); })));
  t.push_back(row("init_from", M, "FILE", "Start from the weights in this .safetensors file", {},
                  &RunOptions::init_from, string_codec()));
  t.push_back(row("dtype", M, "TYPE", "Precision: f32 or f64", {}, &RunOptions::dtype, enum_codec(kDTypes)));
  t.push_back(row("precision", M, "TYPE",
                  "Inputs of the forward/backward products: f32, or bf16 (float32 weights, accumulation and solvers; "
                  "needs --dtype f32 and a CPU with AVX512-BF16)",
                  {}, &RunOptions::precision,
                  text_codec<Precision>([](const std::string& s) { return parse_precision(s); },
                                        [](Precision p) { return to_string(p); })));
}

/// "0.1: sgd, momentum; 0.001: adam": the default of `key` for each algorithm
/// that reads it, as its unit resolves it.
std::string defaults_text(const std::string& key) {
  std::vector<std::pair<std::string, std::string>> groups;  // value, names
  for (const AlgorithmName* n : algorithm_names()) {
    const AlgorithmInfo& unit = *find_algorithm(n->name);
    if (!unit.reads(key)) continue;
    json s = json::object();
    if (unit.resolve) unit.resolve(n->name, s);
    const std::string value = s.contains(key) && s[key].is_number() ? format_number(s[key].get<double>()) : "";
    if (value.empty()) continue;
    auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& p) { return p.first == value; });
    if (g == groups.end()) groups.push_back({value, n->name});
    else g->second += ", " + n->name;
  }
  std::string text;
  for (const auto& [value, names] : groups) text += (text.empty() ? "" : "; ") + value + ": " + names;
  return text;
}

/// The options that the run description defines for several algorithms; which
/// algorithms read each is the registry's (AlgorithmInfo::fields).
void add_gradient_rows(std::vector<RunOptionInfo>& t) {
  const std::string& G = kAlgorithmGroup;
  t.push_back(optional_row("lr", G, "NUMBER", "Learning rate (default " + defaults_text("lr") + ")", {},
                           &RunOptions::lr, number_codec()));
  t.push_back(optional_row("momentum", G, "NUMBER", "Momentum (default " + defaults_text("momentum") + ")", {},
                           &RunOptions::momentum, number_codec()));
  t.push_back(row("nesterov", G, "", "Nesterov momentum", {}, &RunOptions::nesterov, flag_codec()));
  t.push_back(optional_row("weight_decay", G, "NUMBER",
                           "Weight decay as torch.optim defines it for the algorithm: added to the gradient, or "
                           "decoupled for adamw (default " + defaults_text("weight_decay") + ")",
                           {}, &RunOptions::weight_decay, number_codec()));
  t.push_back(row("beta1", G, "NUMBER", "Adam's beta1 (first-moment decay)", {}, &RunOptions::beta1,
                  number_codec()));
  t.push_back(row("beta2", G, "NUMBER", "Adam's beta2 (second-moment decay)", {}, &RunOptions::beta2,
                  number_codec()));
  t.push_back(row("eps", G, "NUMBER", "Epsilon added to the denominator of adaptive rules", {}, &RunOptions::eps,
                  number_codec()));
}

void add_sibp_rows(std::vector<RunOptionInfo>& t) {
  const std::string S = "SIBP (--algo sibp)";
  t.push_back(row("eta", S, "NUMBER", "Neuron step eta", {}, &RunOptions::eta, number_codec()));
  t.push_back(row("lambda", S, "LIST",
                  "Proximal weight lambda: one value, or one per dense/conv layer (1,1,0.5)", {},
                  &RunOptions::lambda,
                  text_codec<std::vector<double>>([](const std::string& s) { return parse_lambda_list(s); },
                                                  join_numbers)));
  t.back().number = true;  // a sweep may vary it (one λ for every layer)
  // A number is as natural as a string for one λ in a file.
  t.back().from_json = [](RunOptions& o, const json& v) {
    if (v.is_number()) {
      if (!std::isfinite(v.get<double>()) || !(v.get<double>() > 0))
        throw OptionError("lambda", "expected a finite number > 0, got " + v.dump());
      o.lambda = {v.get<double>()};
      return;
    }
    if (!v.is_string()) throw OptionError("lambda", "expected a number or a string like \"1,0.5\", got " + describe(v));
    o.lambda = parse_lambda_list(v.get<std::string>());
  };
  t.push_back(optional_row(
      "solver", S, "KIND",
      "Prox solver: reference, exact, gn-cg, gn-exact, or OUTPUT:HIDDEN (default exact:gn-cg; reference with "
      "--compat/--quirk)",
      {}, &RunOptions::solver,
      text_codec<SolverSpec>([](const std::string& s) { return parse_solver_spec(s); },
                             [](const SolverSpec& s) { return s.to_string(); })));
  t.push_back(row("solver_iters", S, "N",
                  "Iterations of iterative prox solvers; 0: each solver's default, 5 for reference (the authors'), "
                  "for gn-cg 3 on dense layers and 5 on convolutions (docs/sibp-per-second.md)",
                  {}, &RunOptions::solver_iters, integer_codec<int>(0, 10000)));
  t.push_back(row("update", S, "MODE", "sequential (W then b, the authors') or joint ([W b])", {},
                  &RunOptions::update,
                  text_codec<UpdateMode>([](const std::string& s) { return parse_update_mode(s); },
                                         [](UpdateMode m) { return to_string(m); })));
  {
    RunOptionInfo q = described("quirks", S, "NAME",
                                "Reproduce one quirk of the authors' code: first-gradient-omits-bias, armijo-jump, "
                                "skip-unit-step, no-descent-restart (repeatable: --quirk)",
                                {});
    q.cli = "--quirk";
    q.repeatable = true;
    q.from_text = [](RunOptions& o, const std::string& name) {
      try {
        o.quirks.enable(name);
      } catch (const UsageError& e) {
        throw OptionError("quirk", e.what());
      }
    };
    q.from_json = [from = q.from_text](RunOptions& o, const json& v) {
      o.quirks = {};
      if (v.is_string()) return from(o, v.get<std::string>());
      if (!v.is_array()) throw OptionError("quirks", "expected a list of quirk names, got " + describe(v));
      for (const json& e : v) {
        if (!e.is_string()) throw OptionError("quirks", "expected a list of quirk names, got " + describe(v));
        from(o, e.get<std::string>());
      }
    };
    q.to_json = [](const RunOptions& o) {
      json list = json::array();
      const std::string names = o.quirks.to_string();
      for (std::size_t a = 0; a < names.size();) {
        const std::size_t b = names.find(',', a);
        list.push_back(names.substr(a, b == std::string::npos ? b : b - a));
        if (b == std::string::npos) break;
        a = b + 1;
      }
      return list.empty() ? json(nullptr) : list;
    };
    t.push_back(std::move(q));
  }
  {
    RunOptionInfo c = described("compat", S, "authors",
                                "'authors': every quirk of the published code (implies --solver reference)", {});
    c.from_text = [](RunOptions& o, const std::string& s) {
      if (s != "authors") throw OptionError("compat", "expected 'authors', got '" + s + "'");
      o.compat_authors = true;
    };
    c.from_json = [](RunOptions& o, const json& v) {
      if (!v.is_string()) throw OptionError("compat", "expected \"authors\" or \"\", got " + describe(v));
      const std::string s = v.get<std::string>();
      if (!s.empty() && s != "authors") throw OptionError("compat", "expected 'authors' or '', got '" + s + "'");
      o.compat_authors = !s.empty();
    };
    c.to_json = [](const RunOptions& o) { return o.compat_authors ? json("authors") : json(nullptr); };
    t.push_back(std::move(c));
  }
}

void add_proxprop_rows(std::vector<RunOptionInfo>& t) {
  const std::string P = "ProxProp (--algo proxprop)";
  t.push_back(row("tau", P, "NUMBER", "Proximal step tau", {}, &RunOptions::tau, number_codec()));
  t.push_back(row("prox_solver", P, "KIND", "exact or cg (or gradient: plain back propagation)", {},
                  &RunOptions::prox_solver,
                  text_codec<ProxPropSolver>([](const std::string& s) { return parse_proxprop_solver(s); },
                                             [](ProxPropSolver s) { return to_string(s); })));
  t.push_back(row("prox_iters", P, "N", "CG iterations (cg solver)", {}, &RunOptions::prox_iters,
                  integer_codec<int>(1, 10000)));
  t.push_back(row("prox_cg", P, "KIND",
                  "reference: CG as in the reference code (eps 1e-6 in alpha/beta, early stop); textbook: plain CG",
                  {}, &RunOptions::prox_cg,
                  text_codec<ProxPropCg>([](const std::string& s) { return parse_proxprop_cg(s); },
                                         [](ProxPropCg c) { return to_string(c); })));
  t.push_back(row("outer", P, "KIND", "Outer optimizer: sgd or adam (uses --lr, --momentum, --nesterov, --beta1...)",
                  {}, &RunOptions::outer, enum_codec(kOuterKinds)));
}

/// A row for an option a unit declares itself, stored in RunOptions::unit_options.
RunOptionInfo unit_option_row(const AlgorithmOption& opt, const std::string& group) {
  using Kind = AlgorithmOption::Kind;
  static const std::map<Kind, const char*> value_names = {
      {Kind::Number, "NUMBER"}, {Kind::Integer, "N"}, {Kind::Flag, ""}, {Kind::Text, "TEXT"}};
  RunOptionInfo info = described(opt.key, group, value_names.at(opt.kind), opt.help, {});
  info.flag = opt.kind == Kind::Flag;
  info.number = opt.kind == Kind::Number;
  // Read through the codec of its kind, so its messages are the other options'.
  const auto store = [key = opt.key](auto codec) {
    return std::make_pair(
        [key, codec](RunOptions& o, const json& v) { o.unit_options[key] = json(codec.from_json(key, v)); },
        [key, codec](RunOptions& o, const std::string& t) { o.unit_options[key] = json(codec.from_text(key, t)); });
  };
  const auto set = [&](auto readers) {
    info.from_json = readers.first;
    info.from_text = readers.second;
  };
  switch (opt.kind) {
    case Kind::Number: set(store(number_codec())); break;
    case Kind::Integer: set(store(integer_codec<long long>(std::numeric_limits<long long>::min(),
                                                            std::numeric_limits<long long>::max()))); break;
    case Kind::Flag: set(store(flag_codec())); break;
    case Kind::Text: set(store(string_codec())); break;
  }
  info.to_json = [key = opt.key, fallback = opt.default_value](const RunOptions& o) {
    return o.unit_options.contains(key) ? o.unit_options.at(key) : fallback;
  };
  return info;
}

void add_algorithm_rows(std::vector<RunOptionInfo>& t) {
  t.push_back(row("algo", kAlgorithmGroup, "NAME", algorithm_names_text(), {}, &RunOptions::algo,
                  text_codec<Algo>([](const std::string& s) { return parse_algo(s); },
                                   [](const Algo& a) { return to_string(a); })));
  const std::size_t first = t.size();
  add_gradient_rows(t);
  add_sibp_rows(t);
  add_proxprop_rows(t);
  const std::size_t fields_end = t.size();
  for (const AlgorithmInfo* unit : algorithm_registry()) {
    for (const AlgorithmOption& opt : unit->options) {
      const auto same = [&](const RunOptionInfo& r) { return r.key == opt.key; };
      if (std::any_of(t.begin(), t.begin() + fields_end, same))
        throw std::logic_error("algorithm option '" + opt.key + "' is already a field of RunOptions");
      // Several units may declare the same option (e.g. "alpha"): one row.
      if (std::none_of(t.begin() + fields_end, t.end(), same))
        t.push_back(unit_option_row(opt, unit->group.empty() ? kAlgorithmGroup : unit->group));
    }
  }
  // Which algorithms each option applies to: those whose unit reads it.
  for (std::size_t i = first; i < t.size(); ++i) {
    for (const AlgorithmName* n : algorithm_names())
      if (find_algorithm(n->name)->reads(t[i].key)) t[i].applies_to.insert(Algo{n->name});
    if (t[i].applies_to.empty()) throw std::logic_error("option '" + t[i].key + "' is read by no algorithm");
  }
}

/// `info` with to_json leaving out (null) the value `fallback` (RunOptionInfo::unwritten_default),
/// and from_json reading null as it.
RunOptionInfo written_when_set(RunOptionInfo info, const json& fallback) {
  info.unwritten_default = fallback;
  info.to_json = [to = info.to_json, fallback](const RunOptions& o) {
    json v = to(o);
    return v == fallback ? json(nullptr) : v;
  };
  info.from_json = [from = info.from_json, fallback](RunOptions& o, const json& v) {
    from(o, v.is_null() ? fallback : v);
  };
  return info;
}

/// The batch sampling, the step schedule and its warm-up: options added after
/// runs were recorded, so written only when they differ from the old behaviour.
void add_schedule_rows(std::vector<RunOptionInfo>& t) {
  const std::string L = "Training loop";
  t.push_back(written_when_set(
      row("sampling", L, "KIND",
          "How batches are drawn: shuffle (every epoch a new order, each sample once per epoch) or independent "
          "(every batch BATCH distinct samples drawn at random, independently of the others: samples repeat "
          "across the batches of an epoch, as in the SIBP authors' code)",
          {}, &RunOptions::sampling,
          text_codec<BatchSampling>([](const std::string& s) { return parse_batch_sampling(s); },
                                    [](BatchSampling s) { return to_string(s); })),
      "shuffle"));
  RunOptionInfo schedule = described(
      "schedule", L, "SPEC",
      "Schedule of the step (lr; ProxProp's outer lr; SIBP's eta): constant, cosine (to 0 over the run's "
      "iterations) or multistep:E1,E2,...:GAMMA (times GAMMA from epoch E+1 on, once E epochs are done)",
      {});
  const Codec<StepSchedule> kind = text_codec<StepSchedule>(
      [](const std::string& s) { return parse_step_schedule(s); }, [](const StepSchedule& s) { return to_string(s); });
  schedule.from_json = [kind](RunOptions& o, const json& v) {
    const long long warmup = o.schedule.warmup;
    o.schedule = kind.from_json("schedule", v);
    o.schedule.warmup = warmup;
  };
  schedule.from_text = [kind](RunOptions& o, const std::string& text) {
    const long long warmup = o.schedule.warmup;
    o.schedule = kind.from_text("schedule", text);
    o.schedule.warmup = warmup;
  };
  schedule.to_json = [kind](const RunOptions& o) { return kind.to_json(o.schedule); };
  t.push_back(written_when_set(std::move(schedule), "constant"));
  RunOptionInfo warmup = described(
      "warmup", L, "N",
      "Linear warm-up of the step over the first N iterations (factor (i+1)/N at iteration i < N), times the "
      "schedule; 0: none",
      {});
  const Codec<long long> count = integer_codec<long long>(0, kMaxWarmup);
  warmup.from_json = [count](RunOptions& o, const json& v) { o.schedule.warmup = count.from_json("warmup", v); };
  warmup.from_text = [count](RunOptions& o, const std::string& text) {
    o.schedule.warmup = count.from_text("warmup", text);
  };
  warmup.to_json = [count](const RunOptions& o) { return count.to_json(o.schedule.warmup); };
  t.push_back(written_when_set(std::move(warmup), 0));
}

void add_loop_rows(std::vector<RunOptionInfo>& t) {
  const std::string L = "Training loop";
  t.push_back(row("epochs", L, "N", "Epochs", {}, &RunOptions::epochs, integer_codec<int>(1, kMaxEpochs)));
  t.push_back(row("batch", L, "N", "Mini-batch size", {}, &RunOptions::batch, integer_codec<Index>(1, kMaxBatch)));
  t.push_back(row("seed", L, "N", "Seed for initialisation and shuffling (0 .. 2^64-1)", {}, &RunOptions::seed,
                  integer_codec<std::uint64_t>(0, std::numeric_limits<std::uint64_t>::max())));
  t.push_back(row("eval_every", L, "N", "Also evaluate every N iterations (0: epoch ends only)", {},
                  &RunOptions::eval_every, integer_codec<Index>(0, Index(1) << 40)));
  add_schedule_rows(t);
  t.push_back(row("diagnostics", L, "", "Record per-layer diagnostics and the full-batch gradient norm", {},
                  &RunOptions::diagnostics, flag_codec()));
  t.push_back(row("grad_norm", L, "", "Record the full-batch gradient norm at each evaluation", {},
                  &RunOptions::grad_norm, flag_codec()));
  t.push_back(row("skip_train_eval", L, "",
                  "Do not evaluate the training set at evaluation points (its loss and accuracy columns stay "
                  "empty): cheaper frequent evaluation of test or validation accuracy",
                  {}, &RunOptions::skip_train_eval, flag_codec()));
  // Added after runs were recorded: written only when set, so their configs still resume.
  t.push_back(written_when_set(
      row("train_eval", L, "WHERE",
          "Where the training set's loss and accuracy are evaluated: every (each evaluation point), epochs (the "
          "start and epoch ends only; the --eval-every points between record validation and test alone, so "
          "frequent test points stay cheap while the per-epoch training loss is kept) or none (as "
          "--skip-train-eval)",
          {}, &RunOptions::train_eval, enum_codec(kTrainEvals)),
      "every"));
  t.push_back(row("stop_at_accuracy", L, "FRACTION",
                  "End the run at the first evaluation point where the validation and test accuracy (those "
                  "evaluated) are both at least this, e.g. 0.97; 0: run every epoch. For time-to-accuracy runs",
                  {}, &RunOptions::stop_at_accuracy, number_codec()));
  t.push_back(row("threads", L, "N",
                  "Threads (0: all cores); only work of ~1 ms or more (convolutions, products of large batches, "
                  "evaluation) goes to the other threads, which sleep instead of spinning",
                  {}, &RunOptions::threads, integer_codec<int>(0, kMaxThreads)));
}

std::vector<RunOptionInfo> build_table() {
  std::vector<RunOptionInfo> t;
  add_data_rows(t);
  add_model_rows(t);
  add_algorithm_rows(t);
  add_loop_rows(t);
  return t;
}

}  // namespace

const std::vector<RunOptionInfo>& run_option_table() {
  static const std::vector<RunOptionInfo> table = build_table();
  return table;
}

const RunOptionInfo* find_run_option(std::string_view key) {
  for (const RunOptionInfo& info : run_option_table())
    if (info.key == key) return &info;
  return nullptr;
}

namespace {

/// The value of every option an algorithm may read (the rows with an
/// applies_to set), null when unset: what its unit resolves and builds from.
json algorithm_settings(const RunOptions& o) {
  json s = json::object();
  for (const RunOptionInfo& info : run_option_table())
    if (!info.applies_to.empty()) s[info.key] = info.to_json(o);
  return s;
}

/// Fills the defaults that depend on the algorithm (its unit's resolve()).
RunOptions resolved(RunOptions o) {
  const AlgorithmInfo& unit = algorithm_info(o.algo.name);
  if (!unit.resolve) return o;
  const json before = algorithm_settings(o);
  json after = before;
  unit.resolve(o.algo.name, after);
  for (const auto& [key, value] : after.items())
    if (!value.is_null() && value != before.value(key, json())) {
      const RunOptionInfo* info = find_run_option(key);
      if (!info) throw std::logic_error("--algo " + o.algo.name + " resolves an unknown option '" + key + "'");
      info->from_json(o, value);
    }
  return o;
}

}  // namespace

void read_run_options(const json& j, const std::string& source, RunOptions& options) {
  if (!j.is_object())
    throw UsageError(source + ": expected a JSON object of run options, got " + describe(j));
  for (const auto& [key, value] : j.items()) {
    const RunOptionInfo* info = find_run_option(key);
    if (!info) throw UsageError(source + ": unknown key '" + key + "' (see `sibp train --help`)");
    try {
      info->from_json(options, value);
    } catch (const OptionError& e) {
      throw UsageError(source + ": key '" + key + "': " + e.detail());
    }
  }
}

json run_options_json(const RunOptions& options) {
  const RunOptions o = resolved(options);
  json j = json::object();
  for (const RunOptionInfo& info : run_option_table()) {
    if (!info.applies(o.algo)) continue;
    if (o.arch && (info.key == "layers" || info.key == "act")) continue;
    json v = info.to_json(o);
    if (!v.is_null()) j[info.key] = std::move(v);
  }
  return j;
}

void check_applicable(const RunOptions& options, const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    const RunOptionInfo* info = find_run_option(key);
    if (!info || info->applies(options.algo)) continue;
    std::string algos;
    for (Algo a : info->applies_to) algos += (algos.empty() ? "" : ", ") + to_string(a);
    throw OptionError(key, "applies to --algo " + algos + ", not " + to_string(options.algo));
  }
}

namespace {

/// `text` safe inside a Markdown table cell.
std::string markdown_cell(std::string text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

/// The default of `info` as a table shows it: its JSON value, or "by algorithm"
/// when the chosen algorithm's unit resolves it.
std::string default_text(const RunOptionInfo& info) {
  json v = info.to_json(RunOptions{});
  if (v.is_null()) v = info.unwritten_default;
  if (v.is_null()) return "by algorithm";
  if (v.is_string()) return v.get<std::string>().empty() ? "(empty)" : "`" + v.get<std::string>() + "`";
  return "`" + v.dump() + "`";
}

}  // namespace

std::string run_options_markdown() {
  std::string md =
      "# Options of `sibp train`\n\n"
      "Generated from the option table (`src/experiment/run_options.cpp` and the algorithm units of\n"
      "`src/train/registry.hpp`) by `sibp options --markdown > docs/options.md`; a test fails when this\n"
      "file is stale. Every option is also a key of `config.json` and of experiment files (the name\n"
      "without dashes, `-` as `_`), and a keyword argument in Python.\n\n"
      "## Algorithms (`--algo`)\n\n| name | Python class | what it is |\n|---|---|---|\n";
  for (const AlgorithmName* n : algorithm_names())
    md += "| `" + n->name + "` | `sibp." + n->python_class + "` | " + markdown_cell(n->summary) + " |\n";
  std::vector<std::string> groups;
  for (const RunOptionInfo& info : run_option_table())
    if (std::find(groups.begin(), groups.end(), info.group) == groups.end()) groups.push_back(info.group);
  for (const std::string& group : groups) {
    md += "\n## " + group + "\n\n| option | value | default | applies to | description |\n|---|---|---|---|---|\n";
    for (const RunOptionInfo& info : run_option_table()) {
      if (info.group != group) continue;
      std::string algos;
      for (const Algo& a : info.applies_to) algos += (algos.empty() ? "" : ", ") + a.name;
      md += "| `" + info.cli + "` | " + (info.value_name.empty() ? "(flag)" : info.value_name) + " | " +
            default_text(info) + " | " + (algos.empty() ? "all" : algos) + " | " + markdown_cell(info.help) +
            (info.repeatable ? " (repeatable)" : "") + " |\n";
    }
  }
  return md;
}

NetworkSpec ModelSpec::network(const Shape& input, Index classes, const std::string& data_name) const {
  if (arch) return NetworkSpec::build(*arch, input, loss, classes);
  const std::string text = widths_text(widths);
  if (widths.front() != input.size())
    throw OptionError("layers", "'" + text + "': the first width must equal the number of features of '" +
                                    data_name + "', which is " + std::to_string(input.size()) + ", got " +
                                    std::to_string(widths.front()));
  if (widths.back() != classes)
    throw OptionError("layers", "'" + text + "': the last width must equal the number of classes of '" +
                                    data_name + "', which is " + std::to_string(classes) + ", got " +
                                    std::to_string(widths.back()));
  return NetworkSpec::build(Architecture::from_widths(widths, act), input, loss, classes);
}

RunSpec::RunSpec(const RunOptions& options) : options_(resolved(options)) {
  const RunOptions& o = options_;
  try {
    data_.spec = parse_data_spec(o.data);
  } catch (const UsageError& e) {
    throw OptionError("data", detail_of("data", e.what()));
  }
  data_.dir = o.data_dir.empty() ? default_data_dir() : std::filesystem::path(o.data_dir);
  data_.val_split = o.val_split;
  data_.train_subset = o.train_subset;
  data_.test_subset = o.test_subset;
  data_.standardize = o.standardize;

  model_.arch = o.arch;
  model_.widths = o.layers;
  model_.act = o.act;
  model_.loss = o.loss;
  model_.init = o.init;
  model_.init_from = o.init_from;
  model_.dtype = o.dtype;
  model_.precision = o.precision;
  if (o.precision == Precision::BF16) {
    if (o.dtype != DType::F32)
      throw OptionError("precision", "bf16 products need --dtype f32 (float32 master weights), got --dtype f64");
    const std::string why = bf16_unsupported_reason();
    if (!why.empty()) throw OptionError("precision", "bf16: " + why + "; use --precision f32");
  }

  algorithm_ = algorithm_info(o.algo.name).build(o.algo.name, AlgorithmSettings(algorithm_settings(o)));

  fit_.epochs = o.epochs;
  fit_.batch_size = o.batch;
  fit_.seed = o.seed;
  fit_.eval_every = o.eval_every;
  fit_.sampling = o.sampling;
  fit_.schedule = o.schedule;
  fit_.gradient_norm = o.grad_norm || o.diagnostics;
  if (o.skip_train_eval && o.train_eval == TrainEval::EpochEnds)
    throw OptionError("train_eval", "'epochs' evaluates the training set at epoch ends, which --skip-train-eval "
                                    "skips: give one of them");
  if (o.train_eval == TrainEval::EpochEnds && o.stop_at_accuracy > 0)
    throw OptionError("train_eval", "'epochs' with --stop-at-accuracy: the run may stop between epoch ends, where "
                                    "the training set is not evaluated, and its final training loss would be "
                                    "missing; use --train-eval every or none");
  fit_.train_eval = o.skip_train_eval ? TrainEval::None : o.train_eval;  // --skip-train-eval: its older spelling
  fit_.validate();
  if (!(o.stop_at_accuracy >= 0 && o.stop_at_accuracy <= 1))
    throw OptionError("stop_at_accuracy", "expected a fraction from 0 (never stop early) to 1, got " +
                                              format_number(o.stop_at_accuracy));
  if (o.threads < 0 || o.threads > kMaxThreads)
    throw OptionError("threads", "expected an integer from 0 (all cores) to " + std::to_string(kMaxThreads) +
                                     ", got " + std::to_string(o.threads));
  threads_ = o.threads;
}

}  // namespace sibp
