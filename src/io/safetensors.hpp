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
/// `layers` of `nn.Linear` would: `layers.<l>.weight` of shape [d_out, d_in]
/// and `layers.<l>.bias` of shape [d_out], for l = 0 .. L-1. Our W is
/// column-major, so the writer transposes it into PyTorch's row-major order
/// and the reader transposes back. The header is padded with spaces so the
/// data area starts at a multiple of 8 bytes (so a reader may memory-map the
/// tensors in place).
///
/// `__metadata__` records the architecture, so a model file alone rebuilds
/// the network:
///   sibp.layers   widths, e.g. "784-500-10" (NetworkSpec::widths_string)
///   sibp.hidden   hidden activation, e.g. "relu" (to_string(Activation))
///   sibp.output   output activation, e.g. "identity"
///   sibp.loss     loss, e.g. "cross-entropy" (to_string(Loss))
///   sibp.version  the sibp version that wrote the file (SIBP_VERSION)
/// plus any entries the caller adds (configuration, seed, algorithm, ...).
#include <filesystem>
#include <map>
#include <string>

#include "nn/network.hpp"

namespace sibp {

/// Metadata keys sibp itself writes; callers may not supply these.
inline constexpr const char* kMetaLayers = "sibp.layers";
inline constexpr const char* kMetaHidden = "sibp.hidden";
inline constexpr const char* kMetaOutput = "sibp.output";
inline constexpr const char* kMetaLoss = "sibp.loss";
inline constexpr const char* kMetaVersion = "sibp.version";

/// Writes `net` to `path` as a safetensors file, atomically (a reader never
/// sees a half-written file; see write_file_atomic).
///
/// Tensors are stored as "F32" for Network<float> and "F64" for
/// Network<double>, so a round trip is bit-exact.
/// Requires: `extra_metadata` does not use one of the five sibp.* keys above
///   (throws UsageError naming the key otherwise).
/// Throws DataError naming `path` if the file cannot be written.
template <typename T>
void save_safetensors(const Network<T>& net, const std::filesystem::path& path,
                      const std::map<std::string, std::string>& extra_metadata = {});

/// Rebuilds a network from a safetensors file alone.
///
/// The architecture comes from the sibp.* metadata. A file written by other
/// software may lack it: then each missing key falls back independently —
/// widths are inferred from the `layers.<l>.weight` shapes (which must
/// chain: d_in of layer l equals d_out of layer l-1), hidden activation
/// relu, output activation identity, loss cross-entropy. When sibp.layers is
/// present the tensor shapes must agree with it.
/// F32 and F64 tensors both load into either precision (F64 into float
/// rounds to nearest). Non-finite values load as they are; callers that care
/// check Network::all_finite().
/// Throws DataError naming `path` and what is wrong for any malformed file,
/// missing or unexpected tensor, or unparsable metadata value.
template <typename T>
Network<T> load_network(const std::filesystem::path& path);

/// Overwrites the parameters of `net` with those in the file (for
/// `--init-from`). Only parameters are read: the activations and loss of
/// `net` are kept even if the file's metadata says otherwise.
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

/// Checks that every parameter of `net`, read from `path`, is finite.
/// Throws DataError naming `path`, the tensor (layers.<l>.weight or
/// layers.<l>.bias), the element ([row, column] in the file's [d_out, d_in]
/// order) and the value otherwise.
template <typename T>
void require_finite_parameters(const Network<T>& net, const std::filesystem::path& path);

/// The `__metadata__` map of a safetensors file (empty if it has none),
/// after validating the whole file as load_network does.
/// Throws DataError naming `path` for a malformed file.
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path);

}  // namespace sibp
