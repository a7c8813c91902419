#include "io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"

namespace sibp {
namespace fs = std::filesystem;

namespace {

/// The reference implementation refuses headers above 100 MB; a larger
/// length can only come from a corrupt file, so we refuse it before
/// allocating anything for it.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
/// A whole file is read into memory; 2 GiB holds 500 million float32
/// parameters, far beyond the fully connected networks sibp trains.
constexpr std::uint64_t kMaxFileBytes = std::uint64_t{2} << 30;

enum class FileDType { F32, F64 };

std::size_t dtype_size(FileDType d) { return d == FileDType::F32 ? 4 : 8; }
const char* dtype_name(FileDType d) { return d == FileDType::F32 ? "F32" : "F64"; }

template <typename T>
constexpr FileDType dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  return std::is_same_v<T, float> ? FileDType::F32 : FileDType::F64;
}

/// One entry of the header, validated against the data area.
struct TensorEntry {
  std::string name;
  FileDType dtype = FileDType::F32;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;  ///< offset into the data area
  std::uint64_t end = 0;
};

/// A whole file after every structural check of the format has passed.
struct ParsedFile {
  fs::path path;
  std::string bytes;
  std::size_t data_start = 0;  ///< byte offset of the data area in `bytes`
  std::map<std::string, std::string> metadata;
  std::map<std::string, TensorEntry> tensors;

  const char* data(const TensorEntry& t) const { return bytes.data() + data_start + t.begin; }
};

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw DataError("safetensors file '" + path.string() + "': " + what);
}

std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// Byte order: the format is little-endian whatever the host is.
template <typename U>
void store_le(char* dst, U value) {
  std::memcpy(dst, &value, sizeof(U));
  if constexpr (std::endian::native == std::endian::big) std::reverse(dst, dst + sizeof(U));
}

template <typename U>
U load_le(const char* src) {
  char buf[sizeof(U)];
  std::memcpy(buf, src, sizeof(U));
  if constexpr (std::endian::native == std::endian::big) std::reverse(buf, buf + sizeof(U));
  U value;
  std::memcpy(&value, buf, sizeof(U));
  return value;
}

/// Reads element k of a tensor stored as `dtype`, converted to T.
template <typename T>
T element(const char* base, FileDType dtype, std::uint64_t k) {
  if (dtype == FileDType::F32) return static_cast<T>(load_le<float>(base + 4 * k));
  return static_cast<T>(load_le<double>(base + 8 * k));
}

std::string weight_name(std::size_t l) { return "layers." + std::to_string(l) + ".weight"; }
std::string bias_name(std::size_t l) { return "layers." + std::to_string(l) + ".bias"; }

TensorEntry parse_entry(const fs::path& path, const std::string& name, const nlohmann::json& j) {
  const std::string who = "tensor '" + name + "'";
  if (!j.is_object()) fail(path, who + ": expected an object with dtype, shape and data_offsets, found " + json_excerpt(j));
  TensorEntry t;
  t.name = name;

  const auto dt = j.find("dtype");
  if (dt == j.end()) fail(path, who + " has no \"dtype\"");
  if (!dt->is_string()) fail(path, who + ": \"dtype\" must be a string, found " + json_excerpt(*dt));
  const std::string dtype = dt->get<std::string>();
  if (dtype == "F32")
    t.dtype = FileDType::F32;
  else if (dtype == "F64")
    t.dtype = FileDType::F64;
  else
    fail(path, who + " has unsupported dtype '" + dtype + "' (sibp reads F32 and F64)");

  const auto sh = j.find("shape");
  if (sh == j.end()) fail(path, who + " has no \"shape\"");
  if (!sh->is_array()) fail(path, who + ": \"shape\" must be an array of non-negative integers, found " + json_excerpt(*sh));
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned())
      fail(path, who + ": \"shape\" must be an array of non-negative integers, found " + json_excerpt(*sh));
    t.shape.push_back(d.get<std::uint64_t>());
  }

  const auto off = j.find("data_offsets");
  if (off == j.end()) fail(path, who + " has no \"data_offsets\"");
  if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    fail(path, who + ": \"data_offsets\" must be [begin, end] with non-negative integers, found " + json_excerpt(*off));
  t.begin = (*off)[0].get<std::uint64_t>();
  t.end = (*off)[1].get<std::uint64_t>();
  if (t.begin > t.end)
    fail(path, who + " has reversed data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "]");

  // Element count times element size, refusing overflow: a corrupt shape
  // must not wrap around to a size that happens to match.
  std::uint64_t bytes = dtype_size(t.dtype);
  for (std::uint64_t d : t.shape)
    if (__builtin_mul_overflow(bytes, d, &bytes))
      fail(path, who + " has shape " + shape_string(t.shape) + " whose size overflows 64 bits");
  if (t.end - t.begin != bytes)
    fail(path, who + ": shape " + shape_string(t.shape) + " of " + dtype + " needs " + std::to_string(bytes) +
                   " bytes, but data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                   "] span " + std::to_string(t.end - t.begin));
  return t;
}

ParsedFile parse_file(const fs::path& path) {
  ParsedFile f;
  f.path = path;
  f.bytes = read_file(path, kMaxFileBytes);
  const std::uint64_t file_size = f.bytes.size();
  if (file_size < 8)
    fail(path, "file is " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");

  const std::uint64_t n = load_le<std::uint64_t>(f.bytes.data());
  if (n > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(n) + " is absurd (more than " + std::to_string(kMaxHeaderBytes) +
                   " bytes): not a safetensors file or corrupt");
  if (n > file_size - 8)
    fail(path, "header length " + std::to_string(n) + " exceeds the " + std::to_string(file_size - 8) +
                   " bytes after the length field: file truncated or not safetensors");
  if (n == 0) fail(path, "header length is 0: expected a JSON object");
  f.data_start = 8 + static_cast<std::size_t>(n);
  const std::uint64_t data_size = file_size - f.data_start;

  JsonLimits limits;
  limits.max_bytes = kMaxHeaderBytes;
  const nlohmann::json header = parse_json_text(std::string_view(f.bytes).substr(8, static_cast<std::size_t>(n)),
                                                "safetensors file '" + path.string() + "': header", limits);
  if (!header.is_object()) fail(path, std::string("header must be a JSON object, found a JSON ") + header.type_name());

  std::vector<const TensorEntry*> by_offset;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail(path, "\"__metadata__\" must be an object of strings, found " + json_excerpt(*it));
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string())
          fail(path, "\"__metadata__\" entry '" + m.key() + "' must be a string, found " + json_excerpt(*m));
        f.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    TensorEntry t = parse_entry(path, it.key(), *it);
    if (t.end > data_size)
      fail(path, "tensor '" + t.name + "' data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                     "] extend past the " + std::to_string(data_size) + "-byte data area: file truncated?");
    by_offset.push_back(&f.tensors.emplace(t.name, std::move(t)).first->second);
  }

  // The format requires the tensors to tile the data area exactly; a hole
  // or overlap means the offsets were miscomputed, so the values would be.
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t cursor = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* t : by_offset) {
    if (t->begin < cursor)
      fail(path, "tensor '" + t->name + "' data_offsets [" + std::to_string(t->begin) + ", " + std::to_string(t->end) +
                     "] overlap tensor '" + previous->name + "' [" + std::to_string(previous->begin) + ", " +
                     std::to_string(previous->end) + "]");
    if (t->begin > cursor)
      fail(path, "bytes [" + std::to_string(cursor) + ", " + std::to_string(t->begin) +
                     ") of the data area belong to no tensor");
    cursor = t->end;
    previous = t;
  }
  if (cursor != data_size)
    fail(path, "data area is " + std::to_string(data_size) + " bytes but the tensors cover only " +
                   std::to_string(cursor) + " (trailing bytes)");
  return f;
}

/// Checks that the file holds exactly the tensors of a network with these
/// widths, with matching shapes. Runs before anything is allocated for the
/// network, so absurd widths in the metadata cannot cause a huge allocation.
void check_tensors(const ParsedFile& f, const std::vector<Index>& widths) {
  const std::size_t L = widths.size() - 1;
  std::string w;
  for (std::size_t i = 0; i < widths.size(); ++i) w += (i ? "-" : "") + std::to_string(widths[i]);
  const std::string layout = "a " + w + " network has tensors layers.0 .. layers." + std::to_string(L - 1) +
                             ", each with weight and bias";
  for (const auto& [name, t] : f.tensors) {
    bool known = false;
    for (std::size_t l = 0; l < L && !known; ++l) known = (name == weight_name(l) || name == bias_name(l));
    if (!known) fail(f.path, "unexpected tensor '" + name + "' (" + layout + ")");
  }
  const auto check = [&](const std::string& name, const std::vector<std::uint64_t>& expected) {
    const auto it = f.tensors.find(name);
    if (it == f.tensors.end()) fail(f.path, "missing tensor '" + name + "' (" + layout + ")");
    if (it->second.shape != expected)
      fail(f.path, "tensor '" + name + "' has shape " + shape_string(it->second.shape) + ", expected " +
                       shape_string(expected) + " for a " + w + " network");
  };
  for (std::size_t l = 0; l < L; ++l) {
    const auto d_in = static_cast<std::uint64_t>(widths[l]);
    const auto d_out = static_cast<std::uint64_t>(widths[l + 1]);
    check(weight_name(l), {d_out, d_in});
    check(bias_name(l), {d_out});
  }
}

/// Copies the file's tensors into `layers`.
/// Requires: check_tensors passed for the widths of `layers`.
template <typename T>
void copy_parameters(const ParsedFile& f, std::vector<Dense<T>>& layers) {
  for (std::size_t l = 0; l < layers.size(); ++l) {
    Mat<T>& W = layers[l].W;
    Vec<T>& b = layers[l].b;
    const TensorEntry& tw = f.tensors.at(weight_name(l));
    const TensorEntry& tb = f.tensors.at(bias_name(l));
    // Row-major [d_out, d_in] in the file; W is column-major.
    const auto d_in = static_cast<std::uint64_t>(W.cols());
    const char* pw = f.data(tw);
    for (Index i = 0; i < W.rows(); ++i)
      for (Index j = 0; j < W.cols(); ++j)
        W(i, j) = element<T>(pw, tw.dtype, static_cast<std::uint64_t>(i) * d_in + static_cast<std::uint64_t>(j));
    const char* pb = f.data(tb);
    for (Index i = 0; i < b.size(); ++i) b[i] = element<T>(pb, tb.dtype, static_cast<std::uint64_t>(i));
  }
}

/// Throws DataError naming the file, tensor and element of the first NaN or
/// infinite parameter of `layers`.
template <typename T>
void check_finite(const fs::path& path, const std::vector<Dense<T>>& layers) {
  const auto bad = [&](const std::string& name, const std::string& at, T value) {
    fail(path, "tensor '" + name + "' element " + at + " is " + std::to_string(value) +
                   "; expected finite parameters (a diverged run's model?)");
  };
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const Mat<T>& W = layers[l].W;
    const Vec<T>& b = layers[l].b;
    if (!W.allFinite())
      for (Index i = 0; i < W.rows(); ++i)
        for (Index j = 0; j < W.cols(); ++j)
          if (!std::isfinite(W(i, j)))
            bad(weight_name(l), "[" + std::to_string(i) + ", " + std::to_string(j) + "]", W(i, j));
    for (Index i = 0; i < b.size(); ++i)
      if (!std::isfinite(b[i])) bad(bias_name(l), "[" + std::to_string(i) + "]", b[i]);
  }
}

/// Widths from the weight shapes, for files without sibp.layers.
std::vector<Index> infer_widths(const ParsedFile& f) {
  std::vector<Index> widths;
  for (std::size_t l = 0;; ++l) {
    const auto it = f.tensors.find(weight_name(l));
    if (it == f.tensors.end()) break;
    const TensorEntry& t = it->second;
    if (t.shape.size() != 2 || t.shape[0] == 0 || t.shape[1] == 0)
      fail(f.path, "tensor '" + t.name + "' has shape " + shape_string(t.shape) +
                       ", expected [d_out, d_in] with positive widths");
    if (l == 0) widths.push_back(static_cast<Index>(t.shape[1]));
    if (static_cast<std::uint64_t>(widths.back()) != t.shape[1])
      fail(f.path, "tensor '" + t.name + "' has shape " + shape_string(t.shape) + " but the previous layer outputs " +
                       std::to_string(widths.back()) + " features (no sibp.layers metadata, so widths are inferred)");
    widths.push_back(static_cast<Index>(t.shape[0]));
  }
  if (widths.empty())
    fail(f.path, "no sibp.layers metadata and no tensor 'layers.0.weight' to infer the architecture from");
  return widths;
}

NetworkSpec spec_from(const ParsedFile& f) {
  NetworkSpec spec;
  const auto meta = [&](const char* key) -> const std::string* {
    const auto it = f.metadata.find(key);
    return it == f.metadata.end() ? nullptr : &it->second;
  };
  // The parsers throw UsageError phrased for CLI options; in a file the
  // same text is a data problem, so it is reported with the file and key.
  const auto bad = [&](const char* key, const std::string& value, const std::string& why) {
    fail(f.path, "metadata " + std::string(key) + " = '" + value + "': " + why);
  };
  if (const std::string* v = meta(kMetaLayers)) {
    try {
      spec.widths = NetworkSpec::parse_widths(*v);
    } catch (const UsageError&) {
      bad(kMetaLayers, *v, "expected positive widths joined by '-', e.g. 784-500-10");
    }
  } else {
    spec.widths = infer_widths(f);
  }
  const std::pair<const char*, Activation*> acts[] = {{kMetaHidden, &spec.hidden}, {kMetaOutput, &spec.output}};
  for (const auto& [key, target] : acts) {
    if (const std::string* v = meta(key)) {
      try {
        *target = parse_activation(*v);
      } catch (const UsageError& e) {
        bad(key, *v, e.what());
      }
    }
  }
  if (const std::string* v = meta(kMetaLoss)) {
    try {
      spec.loss = parse_loss(*v);
    } catch (const UsageError& e) {
      bad(kMetaLoss, *v, e.what());
    }
  }
  return spec;
}

}  // namespace

template <typename T>
void save_safetensors(const Network<T>& net, const fs::path& path,
                      const std::map<std::string, std::string>& extra_metadata) {
  constexpr FileDType dtype = dtype_of<T>();
  const std::size_t esize = dtype_size(dtype);

  // ordered_json keeps __metadata__ first and layers in order, so the
  // header reads naturally with `head -c`.
  nlohmann::ordered_json header;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  const NetworkSpec& spec = net.spec();
  meta[kMetaLayers] = spec.widths_string();
  meta[kMetaHidden] = to_string(spec.hidden);
  meta[kMetaOutput] = to_string(spec.output);
  meta[kMetaLoss] = to_string(spec.loss);
  meta[kMetaVersion] = SIBP_VERSION;
  for (const auto& [key, value] : extra_metadata) {
    if (meta.contains(key))
      throw UsageError("save_safetensors: metadata key '" + key + "' is reserved for sibp, got value '" + value + "'");
    meta[key] = value;
  }
  header["__metadata__"] = std::move(meta);

  std::uint64_t offset = 0;
  const auto add = [&](const std::string& name, std::vector<std::uint64_t> shape, Index numel) {
    const std::uint64_t bytes = static_cast<std::uint64_t>(numel) * esize;
    header[name] = {{"dtype", dtype_name(dtype)}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  };
  for (std::size_t l = 0; l < net.num_layers(); ++l) {
    const Dense<T>& layer = net.layer(l);
    add(weight_name(l), {static_cast<std::uint64_t>(layer.W.rows()), static_cast<std::uint64_t>(layer.W.cols())},
        layer.W.size());
    add(bias_name(l), {static_cast<std::uint64_t>(layer.b.size())}, layer.b.size());
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("save_safetensors: metadata must be valid UTF-8 text: " + std::string(e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out(8 + text.size() + offset, '\0');
  store_le<std::uint64_t>(out.data(), text.size());
  std::memcpy(out.data() + 8, text.data(), text.size());
  char* p = out.data() + 8 + text.size();
  for (const Dense<T>& layer : net.layers()) {
    // Row-major for PyTorch: walk W by rows.
    for (Index i = 0; i < layer.W.rows(); ++i)
      for (Index j = 0; j < layer.W.cols(); ++j, p += esize) store_le<T>(p, layer.W(i, j));
    for (Index i = 0; i < layer.b.size(); ++i, p += esize) store_le<T>(p, layer.b[i]);
  }
  write_file_atomic(path, out);
}

template <typename T>
Network<T> load_network(const fs::path& path) {
  const ParsedFile f = parse_file(path);
  const NetworkSpec spec = spec_from(f);
  check_tensors(f, spec.widths);
  Network<T> net(spec);
  copy_parameters<T>(f, net.layers());
  return net;
}

template <typename T>
void load_parameters_into(Network<T>& net, const fs::path& path) {
  if (net.num_layers() == 0)
    throw UsageError("load_parameters_into: the network has no layers to load '" + path.string() + "' into");
  const ParsedFile f = parse_file(path);
  std::vector<Index> widths{net.input_size()};
  for (const Dense<T>& layer : net.layers()) widths.push_back(layer.out_features());
  check_tensors(f, widths);
  std::vector<Dense<T>> layers = net.layers();
  copy_parameters<T>(f, layers);
  check_finite(path, layers);
  net.layers() = std::move(layers);
}

template <typename T>
void require_finite_parameters(const Network<T>& net, const fs::path& path) {
  check_finite(path, net.layers());
}

std::map<std::string, std::string> read_safetensors_metadata(const fs::path& path) {
  return parse_file(path).metadata;
}

#define SIBP_INSTANTIATE(T)                                                                            \
  template void save_safetensors<T>(const Network<T>&, const fs::path&,                                \
                                    const std::map<std::string, std::string>&);                        \
  template Network<T> load_network<T>(const fs::path&);                                                \
  template void load_parameters_into<T>(Network<T>&, const fs::path&);                                  \
  template void require_finite_parameters<T>(const Network<T>&, const fs::path&);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
