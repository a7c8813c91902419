#pragma once
/// Seeded random numbers that give the same stream on every platform.
///
/// std::normal_distribution and std::uniform_int_distribution are
/// implementation-defined, so a seed would not reproduce a run across
/// standard libraries; the transforms here are spelled out instead.
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace sibp {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  /// Standard normal by Box–Muller (the second value is cached).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0.0;
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * M_PI * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

  /// Uniform integer in [0, n) without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t n) {
    const unsigned __int128 full = static_cast<unsigned __int128>(engine_()) * n;
    std::uint64_t low = static_cast<std::uint64_t>(full);
    if (low < n) {
      const std::uint64_t threshold = -n % n;
      unsigned __int128 m = full;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(engine_()) * n;
        low = static_cast<std::uint64_t>(m);
      }
      return static_cast<std::uint64_t>(m >> 64);
    }
    return static_cast<std::uint64_t>(full >> 64);
  }

  /// The whole state as text (engine words and the cached normal), for
  /// checkpoints: set_state(state()) continues the same stream.
  std::string state() const {
    std::ostringstream ss;
    ss << engine_ << ' ' << has_spare_ << ' ' << std::hexfloat << spare_;
    return ss.str();
  }
  /// Restores a state() text. Returns false (and leaves the generator as it was)
  /// if the text is not one.
  bool set_state(const std::string& text) {
    std::istringstream ss(text);
    std::mt19937_64 engine;
    bool has_spare = false;
    std::string spare_text;
    if (!(ss >> engine >> has_spare >> spare_text)) return false;
    char* end = nullptr;
    const double spare = std::strtod(spare_text.c_str(), &end);
    if (end != spare_text.c_str() + spare_text.size()) return false;
    engine_ = engine;
    has_spare_ = has_spare;
    spare_ = spare;
    return true;
  }

  /// Fisher–Yates shuffle of v in place.
  template <typename U>
  void shuffle(std::vector<U>& v) {
    for (std::size_t i = v.size(); i > 1; --i) {
      const std::size_t j = below(i);
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace sibp
