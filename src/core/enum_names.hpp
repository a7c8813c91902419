#pragma once
/// One table of an enum's names that both prints and parses its values, so the
/// two directions cannot disagree.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.hpp"

namespace sibp {

/// Each value of an enum with its name.
template <typename E, std::size_t N>
using EnumNames = std::array<std::pair<E, std::string_view>, N>;

/// The name of `value`, or "?" for a value the table lacks.
template <typename E, std::size_t N>
std::string enum_name(const EnumNames<E, N>& names, E value) {
  for (const auto& [v, name] : names)
    if (v == value) return std::string(name);
  return "?";
}

/// The value named `text`, if any.
template <typename E, std::size_t N>
std::optional<E> find_enum(const EnumNames<E, N>& names, std::string_view text) {
  for (const auto& [v, name] : names)
    if (name == text) return v;
  return std::nullopt;
}

/// "a, b, c": every name, in table order (for error messages).
template <typename E, std::size_t N>
std::string enum_names_text(const EnumNames<E, N>& names) {
  std::string text;
  for (const auto& entry : names) text += (text.empty() ? "" : ", ") + std::string(entry.second);
  return text;
}

/// The value named `text`; throws UsageError "`option`: expected one of a, b, c, got 'x'".
template <typename E, std::size_t N>
E parse_enum(const EnumNames<E, N>& names, std::string_view text, std::string_view option) {
  if (const std::optional<E> value = find_enum(names, text)) return *value;
  throw UsageError(std::string(option) + ": expected one of " + enum_names_text(names) + ", got '" +
                   std::string(text) + "'");
}

}  // namespace sibp
