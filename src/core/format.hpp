#pragma once
/// Numbers in messages and files: the shortest text that reads back to the
/// same double ("0.1", "1e-05"), where std::to_string would print "0.000000".
#include <charconv>
#include <string>

namespace sibp {

inline std::string format_number(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace sibp
