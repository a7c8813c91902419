// The `--arch` and `--layers` syntaxes (nn/architecture.hpp) and the network
// they describe on an input shape. The first three bytes choose the shape a
// data set would give (channels 1-8, height and width 1-64); the rest is the
// option text, given to Architecture::parse and to parse_widths.
// fuzz-link: sibp_nn
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "nn/architecture.hpp"

namespace {

using namespace sibp;

[[noreturn]] void fail(const char* what, const std::string& text) {
  std::fprintf(stderr, "fuzz_arch: %s (text '%s')\n", what, text.c_str());
  std::abort();
}

/// What training code relies on for a parsed layer: every number within the
/// limits that keep allocations small (checked before anything is allocated).
void check_limits(const Architecture& arch, const std::string& text) {
  if (arch.layers.empty()) fail("parsed an architecture without layers", text);
  for (const LayerSpec& L : arch.layers) {
    if (L.has_parameters() && (L.units < 1 || L.units > kMaxUnits)) fail("units outside [1, kMaxUnits]", text);
    if (L.kind != LayerKind::Dense && L.kind != LayerKind::Flatten) {
      if (L.kernel < 1 || L.kernel > kMaxKernel) fail("kernel outside [1, kMaxKernel]", text);
      if (L.stride < 1 || L.stride > kMaxKernel) fail("stride outside [1, kMaxKernel]", text);
      if (L.pad < 0 || L.pad > kMaxKernel) fail("pad outside [0, kMaxKernel]", text);
    }
    if (!L.has_parameters() && L.act != Activation::Identity) fail("an activation on a layer without parameters", text);
  }
}

/// What a built network promises: one shape per layer boundary, every one
/// non-empty, a vector at the end, and the size estimates the memory check
/// uses are positive (UBSan reports any overflow on the way).
void check_network(const NetworkSpec& spec, const std::string& text) {
  if (spec.shapes.size() != spec.layers.size() + 1) fail("shapes and layers disagree", text);
  for (const Shape& s : spec.shapes)
    if (s.channels < 1 || s.height < 1 || s.width < 1) fail("an empty shape in a built network", text);
  if (!spec.shapes.back().is_vector()) fail("the output is not a vector", text);
  if (spec.num_param_layers() == 0) fail("a network without parameters", text);
  if (spec.num_parameters() < 1) fail("num_parameters() < 1", text);
  if (spec.activation_floats_per_sample() < 1) fail("activation_floats_per_sample() < 1", text);
  // The text written into config.json and model metadata reads back as the same network.
  const Architecture again = Architecture::parse(spec.arch_string());
  if (!(again == spec.architecture())) fail("arch_string() does not parse back to the network's layers", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const Shape input{1 + data[0] % 8, 1 + data[1] % 64, 1 + data[2] % 64};
  const std::string text(reinterpret_cast<const char*>(data) + 3, size - 3);
  std::optional<Index> classes;
  if (data[0] >= 128) classes = 1 + data[1] % 16;

  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const Architecture arch = Architecture::parse(text);
    check_limits(arch, text);
    // Printing is canonical: the text parses back to the same layers, and
    // printing that gives the same text.
    const std::string printed = arch.to_string();
    const Architecture back = Architecture::parse(printed);
    if (!(back == arch)) fail("to_string() does not parse back to the same architecture", text);
    if (back.to_string() != printed) fail("to_string() is not canonical", text);
    check_network(NetworkSpec::build(arch, input, Loss::SoftmaxCrossEntropy, classes), text);
  });

  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const std::vector<Index> widths = parse_widths(text);
    if (widths.size() < 2) fail("parse_widths gave fewer than two widths", text);
    for (Index w : widths)
      if (w < 1 || w > kMaxUnits) fail("a width outside [1, kMaxUnits]", text);
    const NetworkSpec spec = NetworkSpec::mlp(widths, Activation::ReLU);
    check_network(spec, text);
    if (spec.input_size() != widths.front() || spec.output_size() != widths.back())
      fail("an MLP's input or output width differs from --layers", text);
  });
  return 0;
}
