#include "experiment/run_digest.hpp"

#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/error.hpp"

namespace sibp {

namespace {

constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;

std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/// A little-endian 8-byte word (memcpy: `p` need not be aligned).
std::uint64_t load_word(const unsigned char* p) {
  std::uint64_t w = 0;
  for (int i = 7; i >= 0; --i) w = (w << 8) | p[i];
  return w;
}

std::uint64_t lane(std::uint64_t h, std::uint64_t w) { return rotl(h ^ (w * kPrime2), 31) * kPrime1; }

std::uint64_t final_mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  return h ^ (h >> 33);
}

}  // namespace

std::uint64_t digest_bytes(const void* data, std::size_t n, std::uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  // Four lanes break the multiply's dependency chain, so the loop runs at
  // memory speed rather than at one multiply latency per word.
  std::uint64_t h[4] = {seed + kPrime1, seed ^ kPrime2, seed - kPrime1, ~seed};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 4; ++k) h[k] = lane(h[k], load_word(p + i + 8 * k));
  for (; i + 8 <= n; i += 8) h[0] = lane(h[0], load_word(p + i));
  std::uint64_t tail = 0;
  for (std::size_t k = n; k > i; --k) tail = (tail << 8) | p[k - 1];
  h[1] = lane(h[1], tail);
  std::uint64_t out = static_cast<std::uint64_t>(n) * kPrime1;
  for (int k = 0; k < 4; ++k) out = lane(out, final_mix(h[k]));
  return final_mix(out);
}

std::string digest_hex(std::uint64_t digest) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(digest));
  return buf;
}

template <typename T>
std::uint64_t tensor_set_digest(const TensorSet<T>& set) {
  std::uint64_t h = digest_bytes(std::string_view("sibp tensor set"));
  for (const auto& [name, M] : set.matrices) {
    h = digest_bytes(name + ":" + std::to_string(M.rows()) + "x" + std::to_string(M.cols()), h);
    h = digest_bytes(M.data(), static_cast<std::size_t>(M.size()) * sizeof(T), h);
  }
  for (const auto& [name, v] : set.integers) {
    h = digest_bytes(name + ":" + std::to_string(v.size()), h);
    h = digest_bytes(v.data(), v.size() * sizeof(std::int64_t), h);
  }
  for (const auto& [key, value] : set.metadata)
    if (key != kTensorSetDigestKey) h = digest_bytes(key + "=" + std::to_string(value.size()) + ":" + value, h);
  return h;
}
template std::uint64_t tensor_set_digest<float>(const TensorSet<float>&);
template std::uint64_t tensor_set_digest<double>(const TensorSet<double>&);

bool option_ignored_by_digest(const std::string& key) { return key == "data_dir" || key == "threads"; }

nlohmann::json run_identity_json(const RunOptions& options) {
  nlohmann::json j = run_options_json(options);
  for (auto it = j.begin(); it != j.end();) it = option_ignored_by_digest(it.key()) ? j.erase(it) : std::next(it);
  return j;
}

std::uint64_t run_digest(const RunOptions& options) { return digest_bytes(run_identity_json(options).dump()); }

SplitFingerprint fingerprint(const Dataset* data) {
  SplitFingerprint f;
  if (data == nullptr) return f;
  f.samples = data->size();
  f.features = data->num_features();
  f.classes = data->num_classes();
  const std::size_t values = static_cast<std::size_t>(data->size()) * static_cast<std::size_t>(data->num_features());
  // Bytes and floats are digested with different seeds: the same numbers
  // stored differently are different inputs to a run (scaling differs).
  const std::uint64_t values_digest = data->is_bytes() ? digest_bytes(data->byte_data(), values, 1)
                                                       : digest_bytes(data->float_data(), values * sizeof(float), 2);
  const std::uint64_t labels_digest = digest_bytes(data->labels().data(), data->labels().size(), 3);
  const std::string shape = data->sample_shape().to_string();
  f.digest = digest_bytes(shape, values_digest ^ rotl(labels_digest, 17));
  return f;
}

std::string to_string(const SplitFingerprint& f) {
  return std::to_string(f.samples) + " samples x " + std::to_string(f.features) + " features, " +
         std::to_string(f.classes) + " classes, digest " + digest_hex(f.digest);
}

std::string fingerprint_text(const SplitFingerprint& f) {
  return std::to_string(f.samples) + " " + std::to_string(f.features) + " " + std::to_string(f.classes) + " " +
         digest_hex(f.digest);
}

SplitFingerprint parse_fingerprint(const std::string& text, const std::string& what) {
  SplitFingerprint f;
  char hex[17] = {};
  char rest = 0;
  unsigned long long digest = 0;
  if (std::sscanf(text.c_str(), "%lld %lld %lld %16[0-9a-f] %c", &f.samples, &f.features, &f.classes, hex, &rest) !=
          4 ||
      std::strlen(hex) != 16 || std::sscanf(hex, "%llx", &digest) != 1 || f.samples < 0 || f.features < 0 ||
      f.classes < 0)
    throw DataError(what + " = '" + text.substr(0, 80) + "' is not a data fingerprint (samples features classes digest)");
  f.digest = digest;
  return f;
}

RunIdentity run_identity(const RunOptions& options, const DataFingerprint& data) {
  RunIdentity id;
  const nlohmann::json j = run_identity_json(options);
  for (const RunOptionInfo& info : run_option_table()) {
    if (option_ignored_by_digest(info.key)) continue;
    const auto it = j.find(info.key);
    id.names.push_back("option '" + info.key + "' (" + info.group + ")");
    id.digests.push_back(digest_bytes(it == j.end() ? std::string("unset") : it->dump()));
  }
  const auto split = splits(data);
  for (std::size_t i = 0; i < split.size(); ++i) {
    id.names.push_back(std::string("the ") + kSplitNames[i] + " split");
    id.digests.push_back(digest_bytes(fingerprint_text(*split[i])));
  }
  return id;
}

void agree_across_ranks(const RunOptions& options, const DataFingerprint& data, Communicator& comm) {
  const int R = comm.size();
  if (R == 1) return;
  const RunIdentity id = run_identity(options, data);
  const std::size_t K = id.digests.size(), me = static_cast<std::size_t>(comm.rank());
  // Each rank fills its own slot with its digests in 32-bit halves (exact in
  // a double); the sum over ranks is then every rank's slots.
  std::vector<double> all(static_cast<std::size_t>(R) * K * 2, 0.0);
  for (std::size_t k = 0; k < K; ++k) {
    all[(me * K + k) * 2] = static_cast<double>(id.digests[k] >> 32);
    all[(me * K + k) * 2 + 1] = static_cast<double>(id.digests[k] & 0xFFFFFFFFULL);
  }
  comm.allreduce_sum(all.data(), all.size(), "the ranks' agreement on the run and its data");
  std::string differences;
  bool options_differ = false;
  for (std::size_t r = 1; r < static_cast<std::size_t>(R); ++r) {
    std::string what;
    for (std::size_t k = 0; k < K; ++k) {
      const std::size_t a = k * 2, b = (r * K + k) * 2;
      if (all[a] == all[b] && all[a + 1] == all[b + 1]) continue;
      what += (what.empty() ? "" : ", ") + id.names[k];
      options_differ = options_differ || !id.data(k);
    }
    if (!what.empty()) differences += "; rank " + std::to_string(r) + " differs from rank 0 in: " + what;
  }
  if (differences.empty()) return;
  comm.mark_failed_on_every_rank();  // every rank has the same sums: each throws here
  const std::string message = "the " + std::to_string(R) + " processes were not started on the same run" +
                              differences + " (every rank needs the same options and the same data files)";
  if (options_differ) throw UsageError(message);
  throw DataError(message);
}

}  // namespace sibp
