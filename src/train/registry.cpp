#include "train/registry.hpp"

#include "core/error.hpp"

namespace sibp {

#define SIBP_ALGORITHM(unit) const AlgorithmInfo& unit##_algorithm();
#include "train/algorithm_list.hpp"
#undef SIBP_ALGORITHM

const std::vector<const AlgorithmInfo*>& algorithm_registry() {
  static const std::vector<const AlgorithmInfo*> units = {
#define SIBP_ALGORITHM(unit) &unit##_algorithm(),
#include "train/algorithm_list.hpp"
#undef SIBP_ALGORITHM
  };
  return units;
}

bool AlgorithmInfo::reads(std::string_view key) const {
  for (const std::string& f : fields)
    if (f == key) return true;
  for (const AlgorithmOption& o : options)
    if (o.key == key) return true;
  return false;
}

const AlgorithmInfo* find_algorithm(std::string_view name) {
  for (const AlgorithmInfo* unit : algorithm_registry())
    for (const AlgorithmName& n : unit->names)
      if (n.name == name) return unit;
  return nullptr;
}

std::vector<const AlgorithmName*> algorithm_names() {
  std::vector<const AlgorithmName*> names;
  for (const AlgorithmInfo* unit : algorithm_registry())
    for (const AlgorithmName& n : unit->names) names.push_back(&n);
  return names;
}

std::string algorithm_names_text() {
  std::string text;
  for (const AlgorithmName* n : algorithm_names()) text += (text.empty() ? "" : ", ") + n->name;
  return text;
}

const AlgorithmInfo& algorithm_info(std::string_view name) {
  if (const AlgorithmInfo* unit = find_algorithm(name)) return *unit;
  throw OptionError("algo", "expected one of " + algorithm_names_text() + ", got '" + std::string(name) + "'");
}

void default_to(nlohmann::json& settings, const std::string& key, nlohmann::json value) {
  if (!settings.contains(key) || settings[key].is_null()) settings[key] = std::move(value);
}

AlgorithmOptions algorithm_options(std::string_view name, nlohmann::json settings) {
  const AlgorithmInfo& unit = algorithm_info(name);
  if (settings.is_null()) settings = nlohmann::json::object();
  for (const AlgorithmOption& o : unit.options) default_to(settings, o.key, o.default_value);
  if (unit.resolve) unit.resolve(std::string(name), settings);
  return unit.build(std::string(name), AlgorithmSettings(std::move(settings)));
}

bool AlgorithmSettings::has(const std::string& key) const {
  return values_.contains(key) && !values_.at(key).is_null();
}

const nlohmann::json& AlgorithmSettings::at(const std::string& key, bool (nlohmann::json::*is)() const noexcept,
                                            const char* expected) const {
  if (!has(key)) throw OptionError(key, "is not set");
  const nlohmann::json& v = values_.at(key);
  if (!(v.*is)()) throw OptionError(key, std::string("expected ") + expected + ", got " + v.dump());
  return v;
}

double AlgorithmSettings::number(const std::string& key) const {
  return at(key, &nlohmann::json::is_number, "a number").get<double>();
}

long long AlgorithmSettings::integer(const std::string& key) const {
  return at(key, &nlohmann::json::is_number_integer, "an integer").get<long long>();
}

bool AlgorithmSettings::flag(const std::string& key) const {
  return at(key, &nlohmann::json::is_boolean, "true or false").get<bool>();
}

std::string AlgorithmSettings::text(const std::string& key) const {
  return at(key, &nlohmann::json::is_string, "a string").get<std::string>();
}

void AlgorithmSettings::read(std::initializer_list<std::pair<const char*, double*>> numbers) const {
  for (const auto& [key, field] : numbers) *field = number(key);
}

}  // namespace sibp
