#include "nn/init.hpp"

#include <cmath>
#include <sstream>

#include "core/error.hpp"
#include "core/format.hpp"

namespace sibp {

Initializer Initializer::parse(std::string_view text) {
  Initializer init;
  const std::string t(text);
  if (t == "he") {
    init.kind = Kind::He;
  } else if (t == "glorot" || t == "xavier") {
    init.kind = Kind::Glorot;
  } else if (t == "normal") {
    init.kind = Kind::Normal;
  } else if (t.rfind("normal:", 0) == 0) {
    init.kind = Kind::Normal;
    const std::string num = t.substr(7);
    std::size_t used = 0;
    double s = 0;
    try {
      s = std::stod(num, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != num.size() || num.empty() || !(s > 0) || !std::isfinite(s))
      throw UsageError("initialiser '" + t + "': expected normal:STD with STD a positive number, got '" +
                       num + "'");
    init.std = s;
  } else {
    throw UsageError("unknown initialiser '" + t + "': expected normal:STD (e.g. normal:0.05), he or glorot");
  }
  return init;
}

std::string Initializer::to_string() const {
  switch (kind) {
    case Kind::He: return "he";
    case Kind::Glorot: return "glorot";
    // The shortest text that reads back as the same double: config.json must
    // reproduce the run (an ostream's 6 digits turned 0.0123456789 into 0.0123457).
    case Kind::Normal: return "normal:" + format_number(std);
  }
  return "?";
}

}  // namespace sibp
