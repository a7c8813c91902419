#pragma once
/// What a run is, in a few numbers that can be compared cheaply: a digest of
/// the options its results depend on, a fingerprint of each data split, and a
/// digest of any bytes (files a checkpoint was written with).
///
/// Used by a checkpoint to prove which run, data and files it belongs to
/// (`--resume` refuses any mismatch), and by the ranks of a multi-process run
/// to agree, before training, that they run the same thing on the same data.
///
/// The digests are 64-bit, fast and deterministic on every platform (the
/// bytes are read as little-endian words), not cryptographic: they catch
/// mistakes, swapped files and accidental edits, not a forger who recomputes
/// them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/communicator.hpp"
#include "data/dataset.hpp"
#include "experiment/run_options.hpp"
#include "io/safetensors.hpp"

namespace sibp {

/// A 64-bit digest of `n` bytes (four independent lanes of multiply-xor over
/// 8-byte words, then a final mix): about one byte per cycle or better, so a
/// 200 MB training set costs well under a second, far less than an epoch.
std::uint64_t digest_bytes(const void* data, std::size_t n, std::uint64_t seed = 0);
inline std::uint64_t digest_bytes(std::string_view s, std::uint64_t seed = 0) {
  return digest_bytes(s.data(), s.size(), seed);
}
/// 16 lower-case hex digits.
std::string digest_hex(std::uint64_t digest);

/// The metadata key under which a tensor set (a checkpoint) records its own digest.
inline constexpr const char* kTensorSetDigestKey = "sibp.digest";
/// A digest of everything in `set` but its kTensorSetDigestKey entry: names,
/// shapes and bits of every tensor, every metadata key and value.
template <typename T>
std::uint64_t tensor_set_digest(const TensorSet<T>& set);

/// Options that do not change a run's numbers or files and may differ between
/// an interrupted run and its resumption, or between ranks: `threads` (results
/// are bit-identical for any count) and `data_dir` (where the data sets live;
/// their content is checked by the data fingerprint instead). Every other
/// option counts, including eval_every and diagnostics, which change the
/// metrics files.
bool option_ignored_by_digest(const std::string& key);

/// run_options_json(options) without the ignored keys: the canonical
/// description of what the run computes (keys sorted, defaults resolved).
nlohmann::json run_identity_json(const RunOptions& options);
/// The digest of run_identity_json(options).dump().
std::uint64_t run_digest(const RunOptions& options);

/// One data split as a run uses it: sizes and a digest of the samples'
/// values and labels.
struct SplitFingerprint {
  long long samples = 0;
  long long features = 0;
  long long classes = 0;
  std::uint64_t digest = 0;
  bool operator==(const SplitFingerprint& o) const {
    return samples == o.samples && features == o.features && classes == o.classes && digest == o.digest;
  }
  bool operator!=(const SplitFingerprint& o) const { return !(*this == o); }
};
/// The fingerprint of `data` (a null pointer: an absent split, all zero).
SplitFingerprint fingerprint(const Dataset* data);
/// "1500 samples x 4 features, 3 classes, digest 0123456789abcdef".
std::string to_string(const SplitFingerprint& f);
/// "1500 4 3 0123456789abcdef", and back; parse_fingerprint throws DataError
/// naming `what` for a malformed text.
std::string fingerprint_text(const SplitFingerprint& f);
SplitFingerprint parse_fingerprint(const std::string& text, const std::string& what);

/// The splits a run trains and evaluates on, in a fixed order.
struct DataFingerprint {
  SplitFingerprint train, val, test;
};
/// The split names of a DataFingerprint, in the order of splits().
inline constexpr const char* kSplitNames[] = {"train", "val", "test"};
inline std::vector<const SplitFingerprint*> splits(const DataFingerprint& d) { return {&d.train, &d.val, &d.test}; }

/// What the ranks of a multi-process run compare before training: one digest
/// per option of run_option_table() (ignored ones left out) and one per data
/// split. Every rank computes them from its own command line and files.
struct RunIdentity {
  std::vector<std::string> names;      ///< "option 'lr' (Algorithm)", "the train split", ...
  std::vector<std::uint64_t> digests;  ///< one per name
  bool data(std::size_t i) const { return names[i].rfind("the ", 0) == 0; }
};
RunIdentity run_identity(const RunOptions& options, const DataFingerprint& data);

/// With R > 1 ranks: every rank contributes its RunIdentity to one allreduce
/// of a fixed size (the same on every rank whatever its options: no
/// collective sees mismatched sizes), and every rank then compares all of
/// them with rank 0's. If any differ, every rank throws the same error at
/// the same point, naming each differing rank and what differs ("rank 1
/// differs from rank 0 in: option 'layers' (Model), the train split"):
/// UsageError when an option differs, DataError when only data does.
/// With one rank, does nothing.
void agree_across_ranks(const RunOptions& options, const DataFingerprint& data, Communicator& comm);

}  // namespace sibp
