#include "io/model_metadata.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace sibp {

std::map<std::string, std::string> normalization_metadata(const Normalization& norm) {
  if (!norm.standardize()) return {};
  return {{kMetaNormMean, nlohmann::json(norm.mean).dump()}, {kMetaNormInvStd, nlohmann::json(norm.inv_std).dump()}};
}

Normalization normalization_from_metadata(const std::map<std::string, std::string>& meta, const std::string& source) {
  Normalization norm;
  const auto mean = meta.find(kMetaNormMean);
  const auto inv = meta.find(kMetaNormInvStd);
  if (mean == meta.end() || inv == meta.end()) return norm;
  try {
    norm.mean = nlohmann::json::parse(mean->second).get<std::vector<double>>();
    norm.inv_std = nlohmann::json::parse(inv->second).get<std::vector<double>>();
  } catch (const std::exception& e) {
    throw DataError(source + ": metadata sibp.norm.* is not a list of numbers: " + e.what());
  }
  if (norm.mean.size() != norm.inv_std.size())
    throw DataError(source + ": metadata sibp.norm.mean and sibp.norm.inv_std differ in length");
  return norm;
}

}  // namespace sibp
