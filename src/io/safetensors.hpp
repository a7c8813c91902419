#pragma once
/// Model files in the safetensors format, readable by PyTorch and the
/// Hugging Face `safetensors` package.
///
/// Layout (https://github.com/huggingface/safetensors, "Format"):
///   8 bytes   N, the header length, unsigned 64-bit little-endian
///   N bytes   a UTF-8 JSON object: for every tensor
///             "name": {"dtype": "F32", "shape": [d_out, d_in],
///                      "data_offsets": [begin, end]},
///             and optionally "__metadata__": {string: string}
///   rest      the data area: raw little-endian tensor bytes, C order
///             (row-major); offsets are relative to the start of this area
///             and the tensors cover it exactly, without holes or overlap.
///
/// sibp names the tensors as a PyTorch module with an `nn.ModuleList` called
/// `layers` of its parametrised layers would: `layers.<i>.weight` and
/// `layers.<i>.bias` for i = 0 .. (number of dense and conv layers) - 1, in
/// order. A dense weight is [d_out, d_in] (nn.Linear), a convolution kernel
/// [c_out, c_in, k, k] (nn.Conv2d). Our W is column-major, so the writer
/// transposes it into PyTorch's row-major order and the reader transposes back
/// (a kernel's last three dimensions are W's columns, in that order). The
/// header is padded with spaces so the data area starts at a multiple of 8
/// bytes (so a reader may memory-map the tensors in place).
///
/// `__metadata__` records the architecture, so a model file alone rebuilds
/// the network:
///   sibp.arch     the `--arch` text (NetworkSpec::arch_string), e.g.
///                 "conv(16,5,pad=2) relu maxpool(2) flatten dense(10)"
///   sibp.input    the input shape, e.g. "1x28x28" or "784" (Shape::to_string)
///   sibp.loss     loss, e.g. "cross-entropy" (to_string(Loss))
///   sibp.version  the sibp version that wrote the file (SIBP_VERSION)
/// plus any entries the caller adds (configuration, seed, algorithm, ...).
/// Files of fully connected networks written by sibp 0.1 (sibp.layers,
/// sibp.hidden, sibp.output) still load.
#include <filesystem>
#include <map>
#include <cstdint>
#include <optional>
#include <string>

#include "nn/network.hpp"

namespace sibp {

/// Metadata keys sibp itself writes; callers may not supply these.
inline constexpr const char* kMetaArch = "sibp.arch";
inline constexpr const char* kMetaInput = "sibp.input";
inline constexpr const char* kMetaLoss = "sibp.loss";
inline constexpr const char* kMetaVersion = "sibp.version";
/// Read from files of sibp 0.1 (fully connected networks) only.
inline constexpr const char* kMetaLayers = "sibp.layers";
inline constexpr const char* kMetaHidden = "sibp.hidden";
inline constexpr const char* kMetaOutput = "sibp.output";

/// What a caller knows about a model file beyond its contents.
struct ModelFileOptions {
  /// The architecture (`sibp eval --arch`): used when the file records none, and
  /// must equal the recorded one when it does (UsageError otherwise).
  std::optional<Architecture> arch;
  /// The shape of the data's samples: used when the file records no input shape;
  /// when it does, its size must agree (UsageError otherwise).
  std::optional<Shape> input;
  /// Refuse (UsageError) a file whose metadata records no architecture (no
  /// sibp.arch, nor sibp.layers with sibp.hidden) when `arch` is not given,
  /// instead of reading its weights as an MLP with ReLU: the weights' shapes
  /// do not tell the activations (`sibp eval`, sibp.Network.load).
  bool require_architecture = false;
};

/// Writes `net` to `path` as a safetensors file, atomically (a reader never
/// sees a half-written file; see write_file_atomic).
///
/// Tensors are stored as "F32" for Network<float> and "F64" for
/// Network<double>, so a round trip is bit-exact.
/// Requires: `extra_metadata` does not use one of the sibp.* keys above
///   (throws UsageError naming the key otherwise).
/// Throws DataError naming `path` if the file cannot be written.
template <typename T>
void save_safetensors(const Network<T>& net, const std::filesystem::path& path,
                      const std::map<std::string, std::string>& extra_metadata = {});

/// The bytes save_safetensors writes (for callers that commit several files together).
template <typename T>
std::string encode_network(const Network<T>& net, const std::map<std::string, std::string>& extra_metadata = {});

/// Named tensors of any meaning (checkpoints): matrices stored as row-major
/// [rows, cols] tensors of T's dtype, integer vectors as 1-D I64 tensors.
template <typename T>
struct TensorSet {
  std::map<std::string, Mat<T>> matrices;
  std::map<std::string, std::vector<std::int64_t>> integers;
  std::map<std::string, std::string> metadata;
};
/// The safetensors bytes of `set`.
template <typename T>
std::string encode_tensor_set(const TensorSet<T>& set);
/// Reads a file of encode_tensor_set, bit-exactly. Throws DataError naming the path
/// for a malformed file, or a tensor that is neither a matrix of T's dtype nor a 1-D I64.
template <typename T>
TensorSet<T> read_tensor_set(const std::filesystem::path& path);

/// Rebuilds a network from a safetensors file.
///
/// The architecture comes from sibp.arch and sibp.input, else from
/// `options` (a file exported from PyTorch with our tensor names). A file
/// without either is taken as a fully connected network: widths from sibp.layers
/// or inferred from the `layers.<i>.weight` shapes (which must chain), hidden
/// activation sibp.hidden or relu, output activation sibp.output or identity;
/// the loss is sibp.loss or cross-entropy.
/// F32 and F64 tensors both load into either precision (F64 into float rounds
/// to nearest). Non-finite values load as they are; callers that care check
/// Network::all_finite().
/// Throws DataError naming `path` and what is wrong for any malformed file,
/// missing or unexpected tensor, unparsable metadata value, or a convolution
/// kernel without an architecture; UsageError when `options` contradict the file.
template <typename T>
Network<T> load_network(const std::filesystem::path& path, const ModelFileOptions& options = {});

/// Overwrites the parameters of `net` with those in the file (for
/// `--init-from`). Only parameters are read: the activations, loss and
/// precision (nn/bf16.hpp) of `net` are kept even if the file's metadata says
/// otherwise.
///
/// Requires: the file holds exactly the tensors layers.<l>.weight and
///   layers.<l>.bias for every layer of `net`, with the same shapes, and
///   every value is finite (after conversion to T).
/// Ensures: on any error `net` is unchanged (strong guarantee).
/// Throws DataError naming the file, the tensor, the expected and the found
/// shape on a mismatch, naming the file, the tensor and the element for a
/// NaN or infinite value, and for every malformed file as load_network does.
template <typename T>
void load_parameters_into(Network<T>& net, const std::filesystem::path& path);

/// For `--init-from`: throws UsageError naming `what` (the option), `path`
/// and both architectures when the file records an architecture (sibp.arch,
/// or sibp.layers with sibp.hidden) that differs from `spec`'s, activations
/// included (load_parameters_into checks only the tensors' shapes). A file
/// without one (weights exported from PyTorch) passes. DataError for a
/// malformed file, as load_network.
void check_recorded_architecture(const std::filesystem::path& path, const NetworkSpec& spec, const std::string& what);

/// Checks that every parameter of `net`, read from `path`, is finite.
/// Throws DataError naming `path`, the tensor (layers.<l>.weight or
/// layers.<l>.bias), the element ([row, column] in the file's [d_out, d_in]
/// order) and the value otherwise.
template <typename T>
void require_finite_parameters(const Network<T>& net, const std::filesystem::path& path);

/// The precision a model file's parameters are stored in: F64 when every
/// layers.<i>.weight / bias tensor is F64, else F32 (so load_network<T> of it
/// is exact). Throws DataError naming `path` for a malformed file.
DType model_file_dtype(const std::filesystem::path& path);

/// The `__metadata__` map of a safetensors file (empty if it has none),
/// after validating the whole file as load_network does.
/// Throws DataError naming `path` for a malformed file.
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path);

}  // namespace sibp
