#pragma once
/// Fixture writers and error checks shared by the data tests. Every fixture
/// is made by the test that uses it (gzip through zlib's gzwrite).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "expect_error.hpp"
#include "test_support.hpp"

namespace sibp::testing {

inline std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

/// IDX image file bytes: magic 0x803, dims (n, rows, cols), then pixels.
inline std::string idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols,
                              const std::vector<std::uint8_t>& pixels) {
  std::string s = be32(0x00000803) + be32(n) + be32(rows) + be32(cols);
  s.append(pixels.begin(), pixels.end());
  return s;
}

/// IDX label file bytes: magic 0x801, dim n, then labels.
inline std::string idx_labels(const std::vector<std::uint8_t>& labels) {
  std::string s = be32(0x00000801) + be32(static_cast<std::uint32_t>(labels.size()));
  s.append(labels.begin(), labels.end());
  return s;
}

/// Writes bytes gzip-compressed with zlib's gzopen/gzwrite.
inline void write_gz(const std::filesystem::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot gzopen " + path.string());
  const int wrote = bytes.empty() ? 0 : gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  const int closed = gzclose(f);
  if (wrote != static_cast<int>(bytes.size()) || closed != Z_OK)
    throw std::runtime_error("cannot gzwrite " + path.string());
}

/// Bytes from a seeded LCG: incompressible enough that a cut .gz loses data.
inline std::vector<std::uint8_t> noise_bytes(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) {
    seed = seed * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(seed >> 24);
  }
  return v;
}

}  // namespace sibp::testing
