#pragma once
/// What sibp records in a model file's `__metadata__` besides the architecture
/// (io/safetensors.hpp): the input standardisation the network was trained
/// with (`--standardize`), which whoever runs the network must apply again.
/// `sibp train` writes it, `sibp eval` and the Python bindings read it.
#include <map>
#include <string>

#include "data/dataset.hpp"

namespace sibp {

/// Per-feature mean and 1/std, each a JSON list of numbers (shortest round-trip form).
inline constexpr const char* kMetaNormMean = "sibp.norm.mean";
inline constexpr const char* kMetaNormInvStd = "sibp.norm.inv_std";

/// The metadata entries of `norm`: none when it does not standardise.
std::map<std::string, std::string> normalization_metadata(const Normalization& norm);

/// The standardisation recorded in `meta`; none (Normalization{}) when absent.
/// Throws DataError naming `source` when the entries are not lists of numbers
/// of the same length.
Normalization normalization_from_metadata(const std::map<std::string, std::string>& meta, const std::string& source);

}  // namespace sibp
