#pragma once
/// The typed description of a network: its layers, the shape of one sample at
/// every point, and the `--arch` syntax that writes it down (ALGORITHMS.md §1, §5).
///
///     conv(32,5,pad=2) relu maxpool(2) conv(64,5,pad=2) relu maxpool(2) flatten dense(1024) relu dense(10)
///
/// Layers are separated by spaces: `conv(C,K[,stride=S][,pad=P])`, `maxpool(K[,stride=S])`,
/// `avgpool(K[,stride=S])`, `flatten`, `dense(N)`; an activation name (`relu`, `tanh`,
/// `sigmoid`, `leaky_relu`, `identity`) after a dense or conv layer is that layer's σ
/// (identity when none is given). A `flatten` is implied before a dense layer whose
/// input is an image (after a convolution or pooling). `--layers 784-500-10 --act relu`
/// is shorthand for `dense(500) relu dense(10)` on a 784-feature input.
///
/// Batch layout (how m samples of shape (C, H, W) sit in a column-major matrix):
/// - image layout (C, m·H·W): a column per pixel of a sample, columns ordered by
///   sample, then row, then column; rows are channels. Convolution and pooling read
///   and write this layout: a pixel's channels are contiguous, which is what im2col
///   and pooling walk along.
/// - vector layout (C·H·W, m): a column per sample in PyTorch's (C, H, W) order. Data
///   sets deliver batches in it, and dense layers read and write it.
/// For H = W = 1 the two layouts are the same matrix.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.hpp"
#include "core/types.hpp"
#include "nn/activation.hpp"
#include "nn/loss.hpp"

namespace sibp {

enum class LayerKind { Dense, Conv2d, MaxPool2d, AvgPool2d, Flatten };

/// One layer as the user wrote it (before shapes are known).
struct LayerSpec {
  LayerKind kind = LayerKind::Dense;
  Index units = 0;   ///< dense: output width; conv: output channels
  Index kernel = 0;  ///< conv and pooling: kernel height = width
  Index stride = 1;  ///< conv: 1 unless given; pooling: the kernel unless given
  Index pad = 0;     ///< conv: zero padding on every side
  Activation act = Activation::Identity;  ///< σ of a dense or conv layer

  bool has_parameters() const { return kind == LayerKind::Dense || kind == LayerKind::Conv2d; }
  /// The layer in `--arch` syntax, without its activation: "conv(32,5,pad=2)".
  std::string to_string() const;
  bool operator==(const LayerSpec&) const = default;
};

/// A sequence of layers: what `--arch` (or `--layers` with `--act`) describes.
struct Architecture {
  std::vector<LayerSpec> layers;

  /// Parses the `--arch` syntax above. Throws UsageError naming `option`, the
  /// position (1-based word number) and the word for unknown names, malformed or
  /// out-of-range numbers, an activation not after a dense/conv layer, two
  /// activations in a row, or an empty text.
  static Architecture parse(std::string_view text, std::string_view option = "--arch");
  /// The shorthand `--layers 784-500-10 --act relu`: dense layers of the given
  /// widths after the first (the input width), `hidden` after each but the last,
  /// whose σ is `output`.
  static Architecture from_widths(const std::vector<Index>& widths, Activation hidden,
                                  Activation output = Activation::Identity);
  /// Canonical `--arch` text: parse(to_string()) == *this.
  std::string to_string() const;
  bool operator==(const Architecture&) const = default;
};

/// Parses "784-500-10" (widths from the input to the classes). Throws UsageError
/// naming `option` unless it is at least two positive integers joined by single '-'.
std::vector<Index> parse_widths(std::string_view text, std::string_view option = "--layers");

/// Upper bounds that keep a typo from asking for terabytes: a usage error names the
/// limit before anything is allocated.
inline constexpr Index kMaxUnits = 1 << 20;   ///< dense width or conv channels
inline constexpr Index kMaxKernel = 1024;     ///< kernel, stride, padding
/// Most layers of a network (activations not counted, implied flattens not
/// counted): deeper than any network sibp trains well, and a 10^6-layer typo is
/// refused at once instead of running for minutes. The parsers of `--arch` and
/// `--layers` and NetworkSpec::build check it, so the CLI and Python share it.
inline constexpr Index kMaxLayers = 1000;
/// Most values one sample may have at any layer (as Shape::parse allows for an
/// input): NetworkSpec::build refuses a layer whose output is larger, so no
/// shape's size overflows 64 bits, however many padded convolutions follow.
inline constexpr Index kMaxSampleValues = (Index(1) << 31) - 1;

/// An architecture applied to an input shape: every layer with the shapes it
/// reads and writes, implied flattens made explicit, ready to build a network.
///
/// Ensures (after build()): layers[k] maps shapes[k] to shapes[k+1]; the output
/// shape is a vector.
struct NetworkSpec {
  Shape input;                    ///< one sample's shape (from the data)
  std::vector<LayerSpec> layers;  ///< with implied flattens inserted
  std::vector<Shape> shapes;      ///< shapes[k]: input of layers[k]; shapes.back(): the output
  Loss loss = Loss::SoftmaxCrossEntropy;

  /// Resolves `arch` on `input`. With `classes`, the output must be a vector of
  /// that many entries. Throws UsageError naming the layer (its position and text)
  /// and the shapes for a kernel larger than its padded input, a stride or window
  /// that leaves no output, an input or a layer output of more than
  /// kMaxSampleValues values per sample, a network without layers, an output that
  /// is not a vector, or an output width different from `classes`.
  static NetworkSpec build(const Architecture& arch, Shape input, Loss loss,
                           std::optional<Index> classes = std::nullopt);
  /// A fully connected network: widths d_0 (input) .. d_L (classes), σ `hidden`
  /// on layers 1..L-1 and `output` on layer L (tests and benchmarks).
  static NetworkSpec mlp(const std::vector<Index>& widths, Activation hidden = Activation::ReLU,
                         Loss loss = Loss::SoftmaxCrossEntropy, Activation output = Activation::Identity);

  /// The architecture as `--arch` text (implied flattens included).
  std::string arch_string() const;
  Architecture architecture() const { return {layers}; }
  Index input_size() const { return input.size(); }
  Index output_size() const { return shapes.back().size(); }
  std::size_t num_param_layers() const;
  /// Number of weights and biases; saturates at the largest Index (a network
  /// that large is refused by the memory check, never allocated).
  Index num_parameters() const;
  /// Floats a training step keeps per sample of the batch (layer outputs,
  /// pre-activations, patch matrices, and the same again for the backward pass):
  /// an estimate for refusing runs that cannot fit in memory. Saturates at the
  /// largest Index rather than wrapping around to a small or negative count.
  Index activation_floats_per_sample() const;
  /// The weight matrix of layer k as (rows, cols): dense (units, d_in); conv
  /// (channels, c_in·kernel²). Requires: layers[k] has parameters.
  std::pair<Index, Index> weight_shape(std::size_t k) const;
};

}  // namespace sibp
