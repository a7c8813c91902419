#include "io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
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

enum class FileDType { F32, F64, I64 };

std::size_t dtype_size(FileDType d) { return d == FileDType::F32 ? 4 : 8; }
const char* dtype_name(FileDType d) { return d == FileDType::F32 ? "F32" : d == FileDType::F64 ? "F64" : "I64"; }

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
  if (dtype == FileDType::I64) return static_cast<T>(load_le<std::int64_t>(base + 8 * k));
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
  else if (dtype == "I64")
    t.dtype = FileDType::I64;
  else
    fail(path, who + " has unsupported dtype '" + dtype + "' (sibp reads F32, F64 and I64)");

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

/// The file's shape of parametrised layer i's weight: [out, in] for dense,
/// [out, in, k, k] for conv (PyTorch's nn.Linear / nn.Conv2d).
std::vector<std::uint64_t> weight_file_shape(const NetworkSpec& spec, std::size_t k) {
  const LayerSpec& L = spec.layers[k];
  const auto [rows, cols] = spec.weight_shape(k);
  if (L.kind == LayerKind::Conv2d)
    return {static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(spec.shapes[k].channels),
            static_cast<std::uint64_t>(L.kernel), static_cast<std::uint64_t>(L.kernel)};
  return {static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols)};
}

/// Checks that the file holds exactly the tensors of `spec`, with matching
/// shapes. Runs before anything is allocated for the network, so absurd sizes in
/// the metadata cannot cause a huge allocation.
void check_tensors(const ParsedFile& f, const NetworkSpec& spec) {
  const std::size_t L = spec.num_param_layers();
  const std::string net = "'" + spec.arch_string() + "' on " + spec.input.to_string();
  const std::string layout = "the network " + net + " has tensors layers.0 .. layers." + std::to_string(L - 1) +
                             ", each with weight and bias";
  for (const auto& [name, t] : f.tensors) {
    bool known = false;
    for (std::size_t i = 0; i < L && !known; ++i) known = (name == weight_name(i) || name == bias_name(i));
    if (!known) fail(f.path, "unexpected tensor '" + name + "' (" + layout + ")");
  }
  const auto check = [&](const std::string& name, const std::vector<std::uint64_t>& expected) {
    const auto it = f.tensors.find(name);
    if (it == f.tensors.end()) fail(f.path, "missing tensor '" + name + "' (" + layout + ")");
    if (it->second.shape != expected)
      fail(f.path, "tensor '" + name + "' has shape " + shape_string(it->second.shape) + ", expected " +
                       shape_string(expected) + " for the network " + net);
    if (it->second.dtype == FileDType::I64)
      fail(f.path, "tensor '" + name + "' is I64; network parameters must be F32 or F64");
  };
  std::size_t i = 0;
  for (std::size_t k = 0; k < spec.layers.size(); ++k) {
    if (!spec.layers[k].has_parameters()) continue;
    const std::vector<std::uint64_t> w = weight_file_shape(spec, k);
    check(weight_name(i), w);
    check(bias_name(i), {w[0]});
    ++i;
  }
}

/// Copies the file's tensors into `net`.
/// Requires: check_tensors passed for net.spec().
template <typename T>
void copy_parameters(const ParsedFile& f, Network<T>& net) {
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    Mat<T>& W = net.params(i).W;
    Vec<T>& b = net.params(i).b;
    const TensorEntry& tw = f.tensors.at(weight_name(i));
    const TensorEntry& tb = f.tensors.at(bias_name(i));
    // Row-major [d_out, d_in] (or [d_out, c_in, k, k], the same bytes) in the file; W is column-major.
    const auto d_in = static_cast<std::uint64_t>(W.cols());
    const char* pw = f.data(tw);
    for (Index r = 0; r < W.rows(); ++r)
      for (Index c = 0; c < W.cols(); ++c)
        W(r, c) = element<T>(pw, tw.dtype, static_cast<std::uint64_t>(r) * d_in + static_cast<std::uint64_t>(c));
    const char* pb = f.data(tb);
    for (Index r = 0; r < b.size(); ++r) b[r] = element<T>(pb, tb.dtype, static_cast<std::uint64_t>(r));
  }
}

/// Throws DataError naming the file, tensor and element of the first NaN or
/// infinite parameter of `net`.
template <typename T>
void check_finite(const fs::path& path, const Network<T>& net) {
  const auto bad = [&](const std::string& name, const std::string& at, T value) {
    fail(path, "tensor '" + name + "' element " + at + " is " + std::to_string(value) +
                   "; expected finite parameters (a diverged run's model?)");
  };
  for (std::size_t l = 0; l < net.num_param_layers(); ++l) {
    const Mat<T>& W = net.params(l).W;
    const Vec<T>& b = net.params(l).b;
    if (!W.allFinite())
      for (Index i = 0; i < W.rows(); ++i)
        for (Index j = 0; j < W.cols(); ++j)
          if (!std::isfinite(W(i, j)))
            bad(weight_name(l), "[" + std::to_string(i) + ", " + std::to_string(j) + "]", W(i, j));
    for (Index i = 0; i < b.size(); ++i)
      if (!std::isfinite(b[i])) bad(bias_name(l), "[" + std::to_string(i) + "]", b[i]);
  }
}

/// Widths from the weight shapes, for files of fully connected networks without
/// architecture metadata.
std::vector<Index> infer_widths(const ParsedFile& f) {
  std::vector<Index> widths;
  for (std::size_t l = 0;; ++l) {
    const auto it = f.tensors.find(weight_name(l));
    if (it == f.tensors.end()) break;
    const TensorEntry& t = it->second;
    if (t.shape.size() == 4)
      fail(f.path, "tensor '" + t.name + "' is a convolution kernel " + shape_string(t.shape) +
                       " and the file has no sibp.arch metadata: give the architecture (--arch)");
    if (t.shape.size() != 2 || t.shape[0] == 0 || t.shape[1] == 0 || t.shape[0] > kMaxUnits ||
        t.shape[1] > kMaxUnits * 16)
      fail(f.path, "tensor '" + t.name + "' has shape " + shape_string(t.shape) +
                       ", expected [d_out, d_in] with positive widths");
    if (l == 0) widths.push_back(static_cast<Index>(t.shape[1]));
    if (static_cast<std::uint64_t>(widths.back()) != t.shape[1])
      fail(f.path, "tensor '" + t.name + "' has shape " + shape_string(t.shape) + " but the previous layer outputs " +
                       std::to_string(widths.back()) + " features (no architecture metadata, so widths are inferred)");
    widths.push_back(static_cast<Index>(t.shape[0]));
  }
  if (widths.empty())
    fail(f.path, "no sibp.arch metadata and no tensor 'layers.0.weight' to infer the architecture from");
  return widths;
}

NetworkSpec spec_from(const ParsedFile& f, const ModelFileOptions& options) {
  const auto meta = [&](const char* key) -> const std::string* {
    const auto it = f.metadata.find(key);
    return it == f.metadata.end() ? nullptr : &it->second;
  };
  // The parsers throw UsageError phrased for CLI options; in a file the
  // same text is a data problem, so it is reported with the file and key.
  const auto parse = [&](const char* key, auto&& fn) {
    const std::string* v = meta(key);
    try {
      return fn(*v);
    } catch (const UsageError& e) {
      fail(f.path, "metadata " + std::string(key) + " = '" + input_excerpt(*v) + "': " + e.what());
    }
  };
  Loss loss = Loss::SoftmaxCrossEntropy;
  if (meta(kMetaLoss)) loss = parse(kMetaLoss, [](const std::string& v) { return parse_loss(v); });

  std::optional<Architecture> arch;
  std::optional<Shape> input;
  if (meta(kMetaInput)) input = parse(kMetaInput, [](const std::string& v) { return Shape::parse(v, "input shape"); });
  if (meta(kMetaArch)) {
    arch = parse(kMetaArch, [](const std::string& v) { return Architecture::parse(v, "architecture"); });
    // Compared as resolved networks: the recorded text spells out the flattens
    // that the user's may leave implied.
    if (options.arch) {
      const Shape on = input ? *input : options.input ? *options.input : Shape{};
      std::string given, recorded;
      try {
        given = NetworkSpec::build(*options.arch, on, loss).arch_string();
        recorded = NetworkSpec::build(*arch, on, loss).arch_string();
      } catch (const UsageError&) {
        given = options.arch->to_string();
        recorded = arch->to_string();
      }
      if (given != recorded)
        throw UsageError("--arch '" + options.arch->to_string() + "' disagrees with the architecture '" +
                         arch->to_string() + "' recorded in '" + f.path.string() + "'");
    }
  } else if (options.arch) {
    arch = options.arch;
  }
  if (options.input) {
    if (input && input->size() != options.input->size())
      throw UsageError("the data's samples are " + options.input->to_string() + " but '" + f.path.string() +
                       "' was trained on " + input->to_string());
    if (!input || input->is_vector()) input = options.input;
  }
  if (!arch && options.require_architecture && !(meta(kMetaLayers) && meta(kMetaHidden)))
    throw UsageError("'" + f.path.string() + "' records no architecture (no " + kMetaArch +
                     " in its metadata): give it (--arch 'dense(500) relu dense(10)', or arch= in Python); "
                     "the weights' shapes do not tell the activations");
  if (!arch) {
    // An MLP: sibp's older metadata (widths and activations), or the weight shapes alone.
    std::vector<Index> widths;
    if (meta(kMetaLayers))
      widths = parse(kMetaLayers, [](const std::string& v) { return parse_widths(v, "layers"); });
    else
      widths = infer_widths(f);
    const auto act = [&](const char* key, Activation fallback) {
      return meta(key) ? parse(key, [](const std::string& v) { return parse_activation(v); }) : fallback;
    };
    arch = Architecture::from_widths(widths, act(kMetaHidden, Activation::ReLU), act(kMetaOutput, Activation::Identity));
    if (!input) input = Shape{widths[0], 1, 1};
    if (input->size() != widths[0])
      throw UsageError("'" + f.path.string() + "' holds a network for " + std::to_string(widths[0]) +
                       " input features, but the data's samples have " + std::to_string(input->size()));
  }
  if (!input) fail(f.path, "no sibp.input metadata: the input shape is unknown (evaluate it on data)");
  try {
    return NetworkSpec::build(*arch, *input, loss);
  } catch (const UsageError& e) {
    fail(f.path, std::string("the recorded architecture does not fit its input: ") + e.what());
  }
}

}  // namespace

namespace {

/// One tensor to write: its header entry and a writer of its little-endian bytes.
struct OutTensor {
  std::string name;
  FileDType dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t numel;
  std::function<void(char*)> write;
};

/// A (rows, cols) column-major matrix as a row-major [rows, cols] tensor (or,
/// with `shape` given, the same bytes under another row-major shape).
template <typename T>
OutTensor matrix_tensor(std::string name, const Mat<T>& M, std::vector<std::uint64_t> shape = {}) {
  if (shape.empty()) shape = {static_cast<std::uint64_t>(M.rows()), static_cast<std::uint64_t>(M.cols())};
  return {std::move(name), dtype_of<T>(), std::move(shape), static_cast<std::uint64_t>(M.size()), [&M](char* p) {
            for (Index r = 0; r < M.rows(); ++r)
              for (Index c = 0; c < M.cols(); ++c, p += sizeof(T)) store_le<T>(p, M(r, c));
          }};
}

std::string encode(const std::map<std::string, std::string>& metadata, const std::vector<OutTensor>& tensors) {
  // ordered_json keeps __metadata__ first and tensors in order, so the
  // header reads naturally with `head -c`.
  nlohmann::ordered_json header;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metadata) meta[key] = value;
  header["__metadata__"] = std::move(meta);
  std::uint64_t offset = 0;
  for (const OutTensor& t : tensors) {
    const std::uint64_t bytes = t.numel * dtype_size(t.dtype);
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("safetensors: metadata must be valid UTF-8 text: " + std::string(e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8 + text.size() + offset, '\0');
  store_le<std::uint64_t>(out.data(), text.size());
  std::memcpy(out.data() + 8, text.data(), text.size());
  char* p = out.data() + 8 + text.size();
  for (const OutTensor& t : tensors) {
    t.write(p);
    p += t.numel * dtype_size(t.dtype);
  }
  return out;
}

}  // namespace

template <typename T>
std::string encode_network(const Network<T>& net, const std::map<std::string, std::string>& extra_metadata) {
  std::map<std::string, std::string> meta;
  const NetworkSpec& spec = net.spec();
  meta[kMetaArch] = spec.arch_string();
  meta[kMetaInput] = spec.input.to_string();
  meta[kMetaLoss] = to_string(spec.loss);
  meta[kMetaVersion] = SIBP_VERSION;
  for (const auto& [key, value] : extra_metadata) {
    if (meta.count(key) || key == kMetaLayers || key == kMetaHidden || key == kMetaOutput)
      throw UsageError("save_safetensors: metadata key '" + key + "' is reserved for sibp, got value '" + value + "'");
    meta[key] = value;
  }
  std::vector<Mat<T>> biases;  // b as (d_out, 1) matrices, kept alive for the writers
  biases.reserve(net.num_param_layers());
  std::vector<OutTensor> tensors;
  for (std::size_t i = 0; i < net.num_param_layers(); ++i) {
    const Params<T>& p = net.params(i);
    // A conv kernel's [in, k, k] are W's columns: W row-major is [out, in, k, k] row-major.
    tensors.push_back(matrix_tensor<T>(weight_name(i), p.W, weight_file_shape(spec, net.layer_index(i))));
    biases.push_back(Mat<T>(p.b));
    tensors.push_back(matrix_tensor<T>(bias_name(i), biases.back(), {static_cast<std::uint64_t>(p.b.size())}));
  }
  return encode(meta, tensors);
}

template <typename T>
void save_safetensors(const Network<T>& net, const fs::path& path,
                      const std::map<std::string, std::string>& extra_metadata) {
  write_file_atomic(path, encode_network(net, extra_metadata));
}

template <typename T>
std::string encode_tensor_set(const TensorSet<T>& set) {
  std::vector<OutTensor> tensors;
  for (const auto& [name, M] : set.matrices) tensors.push_back(matrix_tensor<T>(name, M));
  // A named reference, not a structured binding: clang 14 (the fuzz and
  // sanitizer builds) cannot capture a binding in a lambda.
  for (const auto& entry : set.integers) {
    const std::string& name = entry.first;
    const auto& v = entry.second;
    tensors.push_back({name, FileDType::I64, {static_cast<std::uint64_t>(v.size())}, v.size(), [&v](char* p) {
                         for (std::int64_t x : v) {
                           store_le<std::int64_t>(p, x);
                           p += 8;
                         }
                       }});
  }
  return encode(set.metadata, tensors);
}

template <typename T>
TensorSet<T> read_tensor_set(const fs::path& path) {
  const ParsedFile f = parse_file(path);
  TensorSet<T> set;
  set.metadata = f.metadata;
  for (const auto& [name, t] : f.tensors) {
    const char* data = f.data(t);
    if (t.dtype == FileDType::I64) {
      if (t.shape.size() != 1) fail(path, "tensor '" + name + "': I64 tensors must be 1-D, found " + shape_string(t.shape));
      std::vector<std::int64_t> v(t.shape[0]);
      for (std::size_t k = 0; k < v.size(); ++k) v[k] = load_le<std::int64_t>(data + 8 * k);
      set.integers[name] = std::move(v);
      continue;
    }
    // Checkpoint values must come back bit for bit: no F64 → float rounding.
    if (t.dtype != dtype_of<T>() || t.shape.size() != 2)
      fail(path, "tensor '" + name + "' is " + dtype_name(t.dtype) + " " + shape_string(t.shape) + ", expected a " +
                     dtype_name(dtype_of<T>()) + " matrix");
    Mat<T> M(static_cast<Index>(t.shape[0]), static_cast<Index>(t.shape[1]));
    for (Index r = 0; r < M.rows(); ++r)
      for (Index c = 0; c < M.cols(); ++c)
        M(r, c) = element<T>(data, t.dtype, static_cast<std::uint64_t>(r) * t.shape[1] + static_cast<std::uint64_t>(c));
    set.matrices[name] = std::move(M);
  }
  return set;
}

template <typename T>
Network<T> load_network(const fs::path& path, const ModelFileOptions& options) {
  const ParsedFile f = parse_file(path);
  const NetworkSpec spec = spec_from(f, options);
  check_tensors(f, spec);
  Network<T> net(spec);
  copy_parameters<T>(f, net);
  return net;
}

template <typename T>
void load_parameters_into(Network<T>& net, const fs::path& path) {
  if (net.num_layers() == 0)
    throw UsageError("load_parameters_into: the network has no layers to load '" + path.string() + "' into");
  const ParsedFile f = parse_file(path);
  check_tensors(f, net.spec());
  Network<T> loaded(net.spec());
  copy_parameters<T>(f, loaded);
  check_finite(path, loaded);
  // The parameters change, not how the network computes (a resumed bf16 run
  // must go on in bf16).
  loaded.set_precision(net.precision());
  net = std::move(loaded);
}

void check_recorded_architecture(const fs::path& path, const NetworkSpec& spec, const std::string& what) {
  const ParsedFile f = parse_file(path);
  const auto has = [&](const char* key) { return f.metadata.count(key) > 0; };
  // Weights alone (a PyTorch export) record nothing to compare: their shapes are checked when loaded.
  if (!has(kMetaArch) && !(has(kMetaLayers) && has(kMetaHidden))) return;
  ModelFileOptions options;
  options.input = spec.input;
  const std::string recorded = spec_from(f, options).arch_string(), wanted = spec.arch_string();
  if (recorded != wanted)
    throw UsageError(what + " '" + path.string() + "' records the network '" + input_excerpt(recorded, 200) +
                     "', but this run's is '" + input_excerpt(wanted, 200) +
                     "': the architecture and the activations must be the same");
}

template <typename T>
void require_finite_parameters(const Network<T>& net, const fs::path& path) {
  check_finite(path, net);
}

DType model_file_dtype(const fs::path& path) {
  const ParsedFile f = parse_file(path);
  bool any = false;
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("layers.", 0) != 0) continue;
    if (t.dtype != FileDType::F64) return DType::F32;
    any = true;
  }
  return any ? DType::F64 : DType::F32;
}

std::map<std::string, std::string> read_safetensors_metadata(const fs::path& path) {
  return parse_file(path).metadata;
}

#define SIBP_INSTANTIATE(T)                                                                            \
  template void save_safetensors<T>(const Network<T>&, const fs::path&,                                \
                                    const std::map<std::string, std::string>&);                        \
  template std::string encode_network<T>(const Network<T>&, const std::map<std::string, std::string>&); \
  template std::string encode_tensor_set<T>(const TensorSet<T>&);                                      \
  template TensorSet<T> read_tensor_set<T>(const fs::path&);                                           \
  template Network<T> load_network<T>(const fs::path&, const ModelFileOptions&);                       \
  template void load_parameters_into<T>(Network<T>&, const fs::path&);                                  \
  template void require_finite_parameters<T>(const Network<T>&, const fs::path&);
SIBP_INSTANTIATE(float)
SIBP_INSTANTIATE(double)
#undef SIBP_INSTANTIATE

}  // namespace sibp
