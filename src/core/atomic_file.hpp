#pragma once
/// Atomic file writes: a reader never sees a half-written checkpoint or
/// metrics file, even if the process is killed mid-write.
#include <filesystem>
#include <string>
#include <string_view>

namespace sibp {

/// Writes `contents` to `path` by writing a temporary file in the same
/// folder, flushing it to disk and renaming it over `path`.
/// Throws DataError naming the path if any step fails; `path` is then
/// untouched.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

/// Reads a whole file. Throws DataError naming the path if it cannot.
std::string read_file(const std::filesystem::path& path);

/// Creates `dir` (and parents) and checks that a file can be written in it.
/// Throws DataError naming the folder otherwise.
void ensure_writable_dir(const std::filesystem::path& dir);

}  // namespace sibp
