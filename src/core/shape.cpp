#include "core/shape.hpp"

#include <charconv>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "core/format.hpp"

namespace sibp {

namespace {
std::optional<Index> parse_dim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty() || s.size() > 12) return std::nullopt;
  Index v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1) return std::nullopt;
  return v;
}
}  // namespace

std::string Shape::to_string() const {
  return is_vector() ? std::to_string(channels) : dims_string();
}

std::string Shape::dims_string() const {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

Shape Shape::parse(std::string_view text, std::string_view what) {
  // Each dimension below 2^31, so a product of two cannot overflow 64 bits.
  constexpr Index kMaxDim = (Index(1) << 31) - 1;
  std::vector<Index> dims;
  std::size_t start = 0;
  while (true) {
    const std::size_t sep = text.find_first_of("x,", start);
    const auto v = parse_dim(text.substr(start, sep == std::string_view::npos ? sep : sep - start));
    if (!v || *v > kMaxDim)
      throw UsageError(std::string(what) + " '" + input_excerpt(text) +
                       "': expected C or CxHxW with positive integers, e.g. 1x28x28");
    dims.push_back(*v);
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  if (dims.size() == 1) return {dims[0], 1, 1};
  if (dims.size() == 3) {
    // A sample of 2^31 values or more is no sample: refuse before anything multiplies it.
    if (dims[0] * dims[1] > kMaxDim || dims[0] * dims[1] * dims[2] > kMaxDim)
      throw UsageError(std::string(what) + " '" + input_excerpt(text) + "': more than " + std::to_string(kMaxDim) +
                       " values per sample");
    return {dims[0], dims[1], dims[2]};
  }
  throw UsageError(std::string(what) + " '" + input_excerpt(text) + "': expected C or CxHxW, e.g. 1x28x28");
}

}  // namespace sibp
