#pragma once
/// What every harness shares: the input as a file path, and the rule that a
/// parser answers bad input with sibp's own errors only.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace sibp::fuzz {

/// The fuzz input as a regular file, so a harness exercises the same path a
/// user's file takes (stat, open, read; for IDX, gzip detection). The file
/// is one memfd, rewritten for every input (no disk I/O); its path is
/// /proc/self/fd/N.
inline std::filesystem::path input_as_file(const std::uint8_t* data, std::size_t size) {
  static const int fd = [] {
    const int f = ::memfd_create("sibp-fuzz-input", MFD_CLOEXEC);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  if (::ftruncate(fd, 0) != 0 || (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))) {
    std::perror("writing the fuzz input");
    std::abort();
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

/// Runs `parse` on the fuzz input `data`. DataError (bad data) and
/// UsageError (bad option text) are the answers bad input should get; any
/// other exception escapes, and libFuzzer reports it as a crash. A message
/// that passes a JSON library message through ("[json.exception...") is a
/// crash too, unless the input itself holds that text (messages quote input).
template <typename F>
void expect_sibp_errors_only(const std::uint8_t* data, std::size_t size, F&& parse) {
  try {
    parse();
  } catch (const DataError& e) {
    static const std::string_view library = "json.exception";
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (std::strstr(e.what(), "[json.exception") != nullptr && input.find(library) == std::string_view::npos) {
      std::fprintf(stderr, "raw library message in a DataError: %s\n", e.what());
      std::abort();
    }
  } catch (const UsageError&) {
  }
}

}  // namespace sibp::fuzz
