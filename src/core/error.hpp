#pragma once
/// Error types. The library never exits: it throws, and the CLI maps each
/// type to an exit code (usage 2, data 1) so an embedding program survives.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sibp {

/// Bad options or arguments: the caller asked for something invalid.
/// The CLI exits with code 2.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A run option with a bad value. `key` is the option's name in configuration
/// files ("solver_iters"); what() reads as on the command line
/// ("--solver-iters: expected an integer >= 1, got 0"). Front ends that name
/// options differently (a JSON path, a Python keyword) rebuild the message from
/// key() and detail().
class OptionError : public UsageError {
 public:
  OptionError(std::string key, std::string detail)
      : UsageError(cli_name(key) + ": " + detail), key_(std::move(key)), detail_(std::move(detail)) {}
  const std::string& key() const { return key_; }
  const std::string& detail() const { return detail_; }
  /// "--solver-iters" for "solver_iters".
  static std::string cli_name(const std::string& key) {
    std::string s = "--" + key;
    for (char& c : s)
      if (c == '_') c = '-';
    return s;
  }

 private:
  std::string key_, detail_;
};

/// Bad input files or unreadable/unwritable paths. The message names the
/// path, what was expected and what was found. The CLI exits with code 1.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Text from an input file as it may be quoted in a message: at most
/// `max_chars` bytes (then "..."), every byte that is not printable ASCII
/// written as \xNN, so a binary file's "field" cannot garble a terminal or
/// make the message invalid UTF-8.
inline std::string printable_excerpt(std::string_view text, std::size_t max_chars = 40) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max_chars; ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x20 && u < 0x7f) {
      out += text[i];
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    }
  }
  return text.size() > max_chars ? out + "..." : out;
}

}  // namespace sibp
