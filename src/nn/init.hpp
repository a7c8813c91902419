#pragma once
/// Weight initialisers.
#include <string>
#include <string_view>

namespace sibp {

/// How a network's weights and biases are drawn.
struct Initializer {
  enum class Kind {
    Normal,  ///< every weight and bias ~ N(0, std²): "normal:0.05" (the SIBP authors')
    He,      ///< weights ~ N(0, 2/fan_in), biases 0 (for ReLU)
    Glorot,  ///< weights ~ U(±sqrt(6/(fan_in+fan_out))), biases 0
  };
  Kind kind = Kind::Normal;
  double std = 0.05;

  /// Parses "normal:STD", "normal" (= normal:0.05), "he", "glorot".
  /// Throws UsageError naming the choices otherwise.
  static Initializer parse(std::string_view text);
  std::string to_string() const;
};

}  // namespace sibp
