#include "nn/architecture.hpp"

#include <cctype>
#include <charconv>
#include <limits>

#include "core/error.hpp"
#include "core/format.hpp"

namespace sibp {

namespace {

std::string trim(std::string_view s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

/// A whole non-negative decimal integer, or nullopt (no sign, no spaces, no overflow).
std::optional<Index> parse_index(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  Index v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

bool is_activation_name(std::string_view w) {
  return w == "relu" || w == "tanh" || w == "sigmoid" || w == "leaky_relu" || w == "leaky-relu" ||
         w == "identity";
}

std::string activation_word(Activation a) { return a == Activation::LeakyReLU ? "leaky_relu" : to_string(a); }

const char* kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::Dense: return "dense";
    case LayerKind::Conv2d: return "conv";
    case LayerKind::MaxPool2d: return "maxpool";
    case LayerKind::AvgPool2d: return "avgpool";
    case LayerKind::Flatten: return "flatten";
  }
  return "?";
}

/// a + b and a * b for non-negative counts, the largest Index instead of an
/// overflow: the size estimates of a huge network must stay huge (and be
/// refused) rather than wrap around to a small number that passes the checks.
constexpr Index kSaturated = std::numeric_limits<Index>::max();
Index sat_add(Index a, Index b) {
  Index r = 0;
  return __builtin_add_overflow(a, b, &r) ? kSaturated : r;
}
Index sat_mul(Index a, Index b) {
  Index r = 0;
  return __builtin_mul_overflow(a, b, &r) ? kSaturated : r;
}

/// Values per sample of shape (c, h, w) with every dimension >= 1, or nullopt
/// when that is more than kMaxSampleValues.
std::optional<Index> sample_values(Index c, Index h, Index w) {
  const Index n = sat_mul(sat_mul(c, h), w);
  if (n > kMaxSampleValues) return std::nullopt;
  return n;
}

/// Reports errors of one `--arch` text with its position. The text and the
/// word are echoed as bounded, printable excerpts (input_excerpt), and the
/// text only once when the word is all of it.
struct ArchError {
  std::string_view option, text;
  [[noreturn]] void operator()(std::size_t word, std::string_view w, const std::string& what) const {
    const std::string at = "word " + std::to_string(word) + " '" + input_excerpt(w) + "'";
    if (w == trim(text)) throw UsageError(std::string(option) + ": " + at + ": " + what);
    throw UsageError(std::string(option) + " '" + input_excerpt(text) + "': " + at + ": " + what);
  }
};

/// Splits into words; a word may contain spaces inside its parentheses.
std::vector<std::string> split_words(std::string_view text, const ArchError& err) {
  std::vector<std::string> words;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) err(words.size() + 1, cur + c, "')' without '('");
    if (depth == 0 && std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (depth != 0) err(words.size() + 1, cur, "'(' without ')'");
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

LayerSpec parse_layer_word(const std::string& w, std::size_t pos, const ArchError& err) {
  const std::size_t open = w.find('(');
  const std::string name = w.substr(0, open);
  std::vector<std::string> args;
  if (open != std::string::npos) {
    if (w.back() != ')') err(pos, w, "expected the word to end with ')'");
    const std::string inside = w.substr(open + 1, w.size() - open - 2);
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = inside.find(',', start);
      args.push_back(trim(std::string_view(inside).substr(start, comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  LayerSpec L;
  const std::string usage = name == "conv"      ? "conv(C,K[,stride=S][,pad=P])"
                            : name == "maxpool" ? "maxpool(K[,stride=S])"
                            : name == "avgpool" ? "avgpool(K[,stride=S])"
                            : name == "dense"   ? "dense(N)"
                                                : "";
  auto number = [&](const std::string& s, const char* what, Index lo, Index hi) {
    const auto v = parse_index(s);
    if (!v || *v < lo || *v > hi)
      err(pos, w, std::string(what) + " must be an integer from " + std::to_string(lo) + " to " +
                      std::to_string(hi) + ", got '" + input_excerpt(s, 40) + "' (expected " + usage + ")");
    return *v;
  };
  if (name == "flatten") {
    if (open != std::string::npos) err(pos, w, "flatten takes no arguments");
    L.kind = LayerKind::Flatten;
    return L;
  }
  if (name == "dense") {
    if (args.size() != 1) err(pos, w, "expected " + usage);
    L.kind = LayerKind::Dense;
    L.units = number(args[0], "the width N", 1, kMaxUnits);
    return L;
  }
  const bool conv = name == "conv";
  if (!conv && name != "maxpool" && name != "avgpool")
    err(pos, w,
        "unknown layer: expected conv(C,K[,stride=S][,pad=P]), maxpool(K[,stride=S]), avgpool(K[,stride=S]), "
        "flatten, dense(N) or an activation (relu, tanh, sigmoid, leaky_relu, identity)");
  L.kind = conv ? LayerKind::Conv2d : name == "maxpool" ? LayerKind::MaxPool2d : LayerKind::AvgPool2d;
  const std::size_t positional = conv ? 2 : 1;
  if (open == std::string::npos || args.size() < positional) err(pos, w, "expected " + usage);
  if (conv) L.units = number(args[0], "the channel count C", 1, kMaxUnits);
  L.kernel = number(args[positional - 1], "the kernel K", 1, kMaxKernel);
  L.stride = conv ? 1 : L.kernel;
  bool seen_stride = false, seen_pad = false;
  for (std::size_t i = positional; i < args.size(); ++i) {
    const std::size_t eq = args[i].find('=');
    const std::string key = trim(std::string_view(args[i]).substr(0, eq));
    const std::string value = eq == std::string::npos ? "" : trim(std::string_view(args[i]).substr(eq + 1));
    if (key == "stride" && eq != std::string::npos && !seen_stride) {
      L.stride = number(value, "stride", 1, kMaxKernel);
      seen_stride = true;
    } else if (conv && key == "pad" && eq != std::string::npos && !seen_pad) {
      L.pad = number(value, "pad", 0, kMaxKernel);
      seen_pad = true;
    } else {
      err(pos, w, "unexpected argument '" + input_excerpt(args[i], 40) + "' (expected " + usage + ", each keyword at most once)");
    }
  }
  return L;
}

}  // namespace

std::string LayerSpec::to_string() const {
  const std::string k = std::to_string(kernel);
  switch (kind) {
    case LayerKind::Dense: return "dense(" + std::to_string(units) + ")";
    case LayerKind::Flatten: return "flatten";
    case LayerKind::Conv2d: {
      std::string s = "conv(" + std::to_string(units) + "," + k;
      if (stride != 1) s += ",stride=" + std::to_string(stride);
      if (pad != 0) s += ",pad=" + std::to_string(pad);
      return s + ")";
    }
    case LayerKind::MaxPool2d:
    case LayerKind::AvgPool2d: {
      std::string s = std::string(kind_name(kind)) + "(" + k;
      if (stride != kernel) s += ",stride=" + std::to_string(stride);
      return s + ")";
    }
  }
  return "?";
}

Architecture Architecture::parse(std::string_view text, std::string_view option) {
  const ArchError err{option, text};
  const std::vector<std::string> words = split_words(text, err);
  if (words.empty())
    throw UsageError(std::string(option) + ": expected layers such as 'conv(32,5,pad=2) relu maxpool(2) dense(10)', got '" +
                     input_excerpt(text) + "'");
  Architecture arch;
  bool may_take_activation = false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (is_activation_name(w)) {
      if (!may_take_activation)
        err(i + 1, w,
            arch.layers.empty() || arch.layers.back().has_parameters()
                ? "an activation must follow a dense or conv layer, and only one per layer"
                : "an activation must follow a dense or conv layer, not " + arch.layers.back().to_string());
      arch.layers.back().act = parse_activation(w);
      may_take_activation = false;
      continue;
    }
    if (arch.layers.size() == static_cast<std::size_t>(kMaxLayers))
      err(i + 1, w, "more than " + std::to_string(kMaxLayers) + " layers (the limit of a network)");
    arch.layers.push_back(parse_layer_word(w, i + 1, err));
    may_take_activation = arch.layers.back().has_parameters();
  }
  return arch;
}

Architecture Architecture::from_widths(const std::vector<Index>& widths, Activation hidden, Activation output) {
  if (widths.size() < 2) throw UsageError("--layers: expected at least an input and an output width, e.g. 784-10");
  if (widths.size() - 1 > static_cast<std::size_t>(kMaxLayers))
    throw UsageError("--layers: " + std::to_string(widths.size() - 1) + " layers, more than " +
                     std::to_string(kMaxLayers) + " (the limit of a network)");
  Architecture arch;
  for (std::size_t l = 1; l < widths.size(); ++l) {
    if (widths[l] < 1 || widths[l] > kMaxUnits)
      throw UsageError("--layers: widths must be integers from 1 to " + std::to_string(kMaxUnits) + ", got " +
                       std::to_string(widths[l]));
    LayerSpec L;
    L.kind = LayerKind::Dense;
    L.units = widths[l];
    L.act = l + 1 == widths.size() ? output : hidden;
    arch.layers.push_back(L);
  }
  return arch;
}

std::string Architecture::to_string() const {
  std::string s;
  for (const LayerSpec& L : layers) {
    if (!s.empty()) s += ' ';
    s += L.to_string();
    if (L.has_parameters() && L.act != Activation::Identity) s += ' ' + activation_word(L.act);
  }
  return s;
}

std::vector<Index> parse_widths(std::string_view text, std::string_view option) {
  std::vector<Index> widths;
  std::size_t start = 0;
  while (true) {
    const std::size_t dash = text.find('-', start);
    const std::string_view part = text.substr(start, dash == std::string_view::npos ? dash : dash - start);
    const auto v = parse_index(part);
    if (!v || *v < 1 || *v > kMaxUnits)
      throw UsageError(std::string(option) + " '" + input_excerpt(text) +
                       "': expected widths like 784-500-10 (integers from 1 to " + std::to_string(kMaxUnits) +
                       " joined by '-'), got '" + input_excerpt(part, 40) + "'");
    widths.push_back(*v);
    if (widths.size() > static_cast<std::size_t>(kMaxLayers) + 1)
      throw UsageError(std::string(option) + " '" + input_excerpt(text) + "': more than " +
                       std::to_string(kMaxLayers) + " layers (the limit of a network)");
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (widths.size() < 2)
    throw UsageError(std::string(option) + " '" + input_excerpt(text) +
                     "': expected at least an input and an output width, e.g. 784-10");
  return widths;
}

NetworkSpec NetworkSpec::build(const Architecture& arch, Shape input, Loss loss, std::optional<Index> classes) {
  if (arch.layers.empty()) throw UsageError("network: the architecture has no layers");
  if (arch.layers.size() > static_cast<std::size_t>(kMaxLayers))
    throw UsageError("network: " + std::to_string(arch.layers.size()) + " layers, more than " +
                     std::to_string(kMaxLayers) + " (the limit of a network)");
  if (input.channels < 1 || input.height < 1 || input.width < 1)
    throw UsageError("network: the input shape " + input.to_string() + " is empty");
  if (!sample_values(input.channels, input.height, input.width))
    throw UsageError("network: the input shape " + std::to_string(input.channels) + "x" +
                     std::to_string(input.height) + "x" + std::to_string(input.width) + " has more than " +
                     std::to_string(kMaxSampleValues) + " values per sample");
  NetworkSpec spec;
  spec.input = input;
  spec.loss = loss;
  Shape s = input;
  // A tensor in image layout (the output of conv or pooling) must be flattened
  // before a dense layer; the network's own input is delivered as vectors.
  bool image_layout = false;
  std::size_t position = 0;
  auto where = [&](const LayerSpec& L) {
    return "layer " + std::to_string(position) + " '" + L.to_string() + "'";
  };
  for (const LayerSpec& given : arch.layers) {
    ++position;
    if (given.kind == LayerKind::Dense && image_layout && !s.is_vector()) {
      LayerSpec flatten;
      flatten.kind = LayerKind::Flatten;
      spec.layers.push_back(flatten);
      spec.shapes.push_back(s);
      s = {s.size(), 1, 1};
      image_layout = false;
    }
    spec.layers.push_back(given);
    spec.shapes.push_back(s);
    switch (given.kind) {
      case LayerKind::Dense: s = {given.units, 1, 1}; break;
      case LayerKind::Flatten:
        s = {s.size(), 1, 1};
        image_layout = false;
        break;
      case LayerKind::Conv2d:
      case LayerKind::MaxPool2d:
      case LayerKind::AvgPool2d: {
        const Index pad = given.kind == LayerKind::Conv2d ? given.pad : 0;
        const Index h = s.height + 2 * pad, w = s.width + 2 * pad;
        if (given.kernel > h || given.kernel > w)
          throw UsageError("--arch: " + where(given) + ": the kernel " + std::to_string(given.kernel) +
                           " is larger than its input " + s.dims_string() +
                           (pad ? " padded to " + std::to_string(h) + "x" + std::to_string(w) : std::string()));
        const Index channels = given.kind == LayerKind::Conv2d ? given.units : s.channels;
        const Index out_h = (h - given.kernel) / given.stride + 1, out_w = (w - given.kernel) / given.stride + 1;
        if (!sample_values(channels, out_h, out_w))
          throw UsageError("--arch: " + where(given) + ": its output " + std::to_string(channels) + "x" +
                           std::to_string(out_h) + "x" + std::to_string(out_w) + " has more than " +
                           std::to_string(kMaxSampleValues) + " values per sample; use fewer channels or less padding");
        s = {channels, out_h, out_w};
        image_layout = true;
        break;
      }
    }
  }
  spec.shapes.push_back(s);
  const LayerSpec& last = arch.layers.back();
  if (!s.is_vector())
    throw UsageError("--arch: the network's output is " + s.dims_string() + " (" + where(last) +
                     "); it must be a vector of class scores (end with dense(N))");
  if (classes && s.size() != *classes)
    throw UsageError("--arch: " + where(last) + " outputs " + std::to_string(s.size()) +
                     " values, but the data has " + std::to_string(*classes) + " classes");
  if (spec.num_param_layers() == 0)
    throw UsageError("--arch: the network has no layer with parameters (dense or conv)");
  return spec;
}

NetworkSpec NetworkSpec::mlp(const std::vector<Index>& widths, Activation hidden, Loss loss, Activation output) {
  if (widths.empty()) throw UsageError("network: needs at least two widths (input and output)");
  return build(Architecture::from_widths(widths, hidden, output), {widths[0], 1, 1}, loss);
}

std::string NetworkSpec::arch_string() const { return architecture().to_string(); }

std::size_t NetworkSpec::num_param_layers() const {
  std::size_t n = 0;
  for (const LayerSpec& L : layers) n += L.has_parameters();
  return n;
}

std::pair<Index, Index> NetworkSpec::weight_shape(std::size_t k) const {
  const LayerSpec& L = layers.at(k);
  const Shape& in = shapes.at(k);
  if (L.kind == LayerKind::Dense) return {L.units, in.size()};
  if (L.kind == LayerKind::Conv2d) return {L.units, in.channels * L.kernel * L.kernel};  // < 2^31 · 2^20
  throw std::invalid_argument("NetworkSpec::weight_shape: layer " + std::to_string(k) + " has no parameters");
}

Index NetworkSpec::num_parameters() const {
  Index n = 0;
  for (std::size_t k = 0; k < layers.size(); ++k)
    if (layers[k].has_parameters()) {
      const auto [r, c] = weight_shape(k);
      n = sat_add(n, sat_add(sat_mul(r, c), r));
    }
  return n;
}

Index NetworkSpec::activation_floats_per_sample() const {
  // Every shape is within kMaxSampleValues (build() checks), but a patch
  // matrix (c_in·K² rows × output pixels) and the sums need not fit 64 bits.
  Index n = input.size();
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const Index out = shapes[k + 1].size();
    n = sat_add(n, 2 * out);  // F and G
    if (layers[k].kind == LayerKind::Conv2d)
      n = sat_add(n, sat_mul(weight_shape(k).second, shapes[k + 1].pixels()));  // patches
    if (layers[k].kind == LayerKind::MaxPool2d) n = sat_add(n, 2 * out);  // arg-max indices (64-bit)
  }
  return sat_mul(2, n);  // the backward pass holds as much again (differences, targets, solver work)
}

}  // namespace sibp
