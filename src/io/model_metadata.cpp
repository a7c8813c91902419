#include "io/model_metadata.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/json_read.hpp"

namespace sibp {

namespace {

/// A metadata value that must be a JSON array of finite numbers (bounded parse:
/// the metadata comes from a file anyone could have written).
std::vector<double> number_list(const std::string& text, const std::string& source) {
  const nlohmann::json j = parse_json_text(text, source);
  if (!j.is_array()) throw DataError(source + ": expected a list of numbers, found " + json_excerpt(j));
  std::vector<double> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number() || !std::isfinite(j[i].get<double>()))
      throw DataError(source + ": expected a list of finite numbers, found " + json_excerpt(j[i]) + " at index " +
                      std::to_string(i));
    out.push_back(j[i].get<double>());
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> normalization_metadata(const Normalization& norm) {
  if (!norm.standardize()) return {};
  return {{kMetaNormMean, nlohmann::json(norm.mean).dump()}, {kMetaNormInvStd, nlohmann::json(norm.inv_std).dump()}};
}

Normalization normalization_from_metadata(const std::map<std::string, std::string>& meta, const std::string& source) {
  Normalization norm;
  const auto mean = meta.find(kMetaNormMean);
  const auto inv = meta.find(kMetaNormInvStd);
  if (mean == meta.end() || inv == meta.end()) return norm;
  norm.mean = number_list(mean->second, source + ": metadata " + kMetaNormMean);
  norm.inv_std = number_list(inv->second, source + ": metadata " + kMetaNormInvStd);
  if (norm.mean.size() != norm.inv_std.size())
    throw DataError(source + ": metadata sibp.norm.mean and sibp.norm.inv_std differ in length");
  return norm;
}

}  // namespace sibp
