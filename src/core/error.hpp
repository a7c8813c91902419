#pragma once
/// Error types. The library never exits: it throws, and the CLI maps each
/// type to an exit code (usage 2, data 1) so an embedding program survives.
#include <stdexcept>
#include <string>

namespace sibp {

/// Bad options or arguments: the caller asked for something invalid.
/// The CLI exits with code 2.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Bad input files or unreadable/unwritable paths. The message names the
/// path, what was expected and what was found. The CLI exits with code 1.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sibp
