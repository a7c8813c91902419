#pragma once
/// A run's output folder: one writer at a time, and files that change together
/// committed together.
///
/// Layout while a run is in progress:
///
///     DIR/.lock                  held (flock) by the writing process, which wrote its PID in it
///     DIR/config.json            the run's options, written once before training
///     DIR/.state -> .gen-N       the last committed generation (a symbolic link)
///     DIR/.gen-N/                metrics.csv, metrics.json, model.safetensors, checkpoint.safetensors
///     DIR/metrics.csv -> .state/metrics.csv     (likewise metrics.json, model.safetensors)
///
/// A commit writes a new generation folder, flushes it to disk, then replaces
/// the `.state` link by rename(2), which is atomic: a reader, or a process
/// killed at any instant, sees every file of the old generation or every file
/// of the new one, never a mix. When the run ends (completed or diverged)
/// finish() turns the links into plain files and removes the generations, so a
/// finished folder holds only config.json, metrics.*, model.safetensors and
/// result.json (written last: its presence means the run finished).
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace sibp {

/// Another process holds the folder's lock. The CLI exits with code 1.
class FolderLockedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RunFolder {
 public:
  /// What a folder holds before a run starts writing it.
  enum class Content {
    Empty,        ///< no run files (or no folder)
    Complete,     ///< result.json: a finished run
    Interrupted,  ///< a committed generation and no result.json: can be resumed
    Unusable,     ///< run files without a committed generation (killed before the first commit)
  };

  /// Creates `dir` if needed and takes its exclusive lock for this object's
  /// lifetime, then removes temporary files a killed writer left behind (of
  /// any kind). It removes no generation: commit() and finish() do, once
  /// they have replaced it.
  /// Throws UsageError if `dir` is a non-empty folder holding nothing of sibp's
  /// (`--out /`); FolderLockedError naming the folder and the holder's PID if
  /// another process holds it; DataError if the folder cannot be created or
  /// locked, or if `.lock` is a symbolic link or not a regular file (it is
  /// opened with O_NOFOLLOW: a planted link is never written through).
  explicit RunFolder(const std::filesystem::path& dir);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::filesystem::path& path() const { return dir_; }
  Content content() const;
  /// The committed generation's folder. Throws DataError if `.state` is
  /// missing or not a link to a generation folder of `dir` itself.
  std::filesystem::path committed() const;
  /// Whether the folder holds generation folders after a commit completed:
  /// a run file links into `.state` (the first commit makes those links right
  /// after its rename). Such a folder without a valid `.state` was altered, and
  /// its generations are kept. Generations with no such link are what a run
  /// killed inside its first commit leaves: it stopped before its first
  /// checkpoint.
  bool has_committed_generations() const;
  /// Removes every run file (config, results, generations, links); keeps other files.
  void clear();
  /// Commits `files` (name, bytes) as the new generation and links the names in
  /// `linked` at the top level. Throws DataError naming the folder if anything
  /// cannot be written; the previous generation then stays in place.
  void commit(const std::vector<std::pair<std::string, std::string>>& files, const std::vector<std::string>& linked);
  /// Replaces the top-level links by the committed files themselves and removes
  /// the generations (the run is over; nothing will be resumed).
  void finish();

 private:
  std::filesystem::path dir_;
  int lock_fd_ = -1;
  long long generation_ = 0;
};

/// The generation `dir/.state` links to (".gen-N"), or an empty path if the
/// link is missing, points anywhere but a ".gen-N" name in `dir`, or that
/// generation is not a real folder.
std::filesystem::path committed_generation(const std::filesystem::path& dir);

/// Content of `dir` without locking it (for reports and planning).
RunFolder::Content run_folder_content(const std::filesystem::path& dir);

/// The run options a run folder's config.json holds, as a JSON object without
/// the keys that describe the run rather than set it ("software", "data_shape").
/// Throws DataError naming the file if it is not a JSON object (and as
/// read_json_file does if it is missing or not JSON).
nlohmann::json read_run_config(const std::filesystem::path& dir);

}  // namespace sibp
