#pragma once
/// Readers of the golden JSON files in tests/fixtures/golden/ (written by the
/// PyTorch scripts of scripts/golden/): matrices as lists of rows, vectors as lists.
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "core/types.hpp"

namespace sibp::testing {

/// A matrix stored as a JSON list of rows.
inline Mat<double> matrix_from_rows(const nlohmann::json& rows) {
  Mat<double> M(static_cast<Index>(rows.size()), static_cast<Index>(rows.at(0).size()));
  for (Index i = 0; i < M.rows(); ++i)
    for (Index j = 0; j < M.cols(); ++j) M(i, j) = rows.at(i).at(j).get<double>();
  return M;
}

/// A vector stored as a JSON list.
inline Vec<double> vector_from(const nlohmann::json& v) {
  Vec<double> out(static_cast<Index>(v.size()));
  for (Index i = 0; i < out.size(); ++i) out(i) = v.at(i).get<double>();
  return out;
}

/// tests/fixtures/golden/`name`, parsed (throws naming the path if it cannot be opened).
inline nlohmann::json load_golden(const std::string& name) {
  const std::string path = std::string(SIBP_FIXTURES_DIR) + "/golden/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

}  // namespace sibp::testing
