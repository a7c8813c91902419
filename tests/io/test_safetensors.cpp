// Tests of the safetensors model files (src/io/safetensors.hpp).
#include "io/safetensors.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "expect_error.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

NetworkSpec small_spec(std::vector<Index> widths = {5, 7, 3}, Activation hidden = Activation::Tanh) {
  return NetworkSpec::mlp(widths, hidden, Loss::SquaredError, Activation::Sigmoid);
}

/// Normal init draws biases too, so every parameter is a distinct non-zero
/// value and a transposed or shifted read cannot go unnoticed.
template <typename T>
Network<T> random_net(const NetworkSpec& spec, std::uint64_t seed) {
  Initializer init;
  init.kind = Initializer::Kind::Normal;
  init.std = 0.5;
  Rng rng(seed);
  return Network<T>(spec, init, rng);
}

template <typename A, typename B>
bool same_bits(const A& a, const B& b) {
  static_assert(sizeof(typename A::Scalar) == sizeof(typename B::Scalar));
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(typename A::Scalar) * static_cast<std::size_t>(a.size())) == 0;
}

template <typename T>
void expect_same_network(const Network<T>& a, const Network<T>& b) {
  EXPECT_EQ(a.spec().arch_string(), b.spec().arch_string());
  EXPECT_EQ(a.spec().input, b.spec().input);
  EXPECT_EQ(a.spec().shapes, b.spec().shapes);
  EXPECT_EQ(a.spec().loss, b.spec().loss);
  ASSERT_EQ(a.num_layers(), b.num_layers());
  ASSERT_EQ(a.num_param_layers(), b.num_param_layers());
  for (std::size_t l = 0; l < a.num_param_layers(); ++l) {
    EXPECT_TRUE(same_bits(a.params(l).W, b.params(l).W)) << "layer " << l << " W";
    EXPECT_TRUE(same_bits(a.params(l).b, b.params(l).b)) << "layer " << l << " b";
    EXPECT_EQ(a.activation(l), b.activation(l)) << "layer " << l;
    EXPECT_EQ(a.layer_index(l), b.layer_index(l)) << "layer " << l;
  }
}

std::string u64_le(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

/// A safetensors file from a header text and a data area.
std::string st_bytes(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

std::string f32_bytes(const std::vector<float>& v) {
  std::string s(4 * v.size(), '\0');
  std::memcpy(s.data(), v.data(), s.size());  // the test host is little-endian (x86-64/arm64)
  return s;
}

/// A valid one-layer 3 -> 2 file without metadata: W row-major
/// [[1,2,3],[4,5,6]], b = [7, 8]. Malformed cases edit a copy of it.
json valid_header() {
  return json{{"layers.0.weight", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}},
              {"layers.0.bias", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {24, 32}}}}};
}
const std::string kValidData = f32_bytes({1, 2, 3, 4, 5, 6, 7, 8});

/// Loads `bytes` as a model file and expects a DataError whose message names
/// the file and contains `what`.
void expect_data_error(const std::string& bytes, const std::string& what) {
  TempDir dir;
  const fs::path path = dir / "bad-model.safetensors";
  write_bytes(path, bytes);
  try {
    (void)load_network<float>(path);
    ADD_FAILURE() << "no DataError; expected one mentioning: " << what;
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << "message does not name the file: " << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message lacks '" << what << "': " << msg;
  }
}

/// Same, for a file made of `header` and `data`. (A distinct name: json
/// converts implicitly to std::string, so an overload would be ambiguous.)
void expect_header_error(const json& header, const std::string& data, const std::string& what) {
  expect_data_error(st_bytes(header.dump(), data), what);
}

TEST(Safetensors, FloatRoundTripIsBitExact) {
  TempDir dir;
  const Network<float> net = random_net<float>(small_spec(), 11);
  save_safetensors(net, dir / "m.safetensors");
  expect_same_network(net, load_network<float>(dir / "m.safetensors"));
}

TEST(Safetensors, DoubleRoundTripIsBitExact) {
  TempDir dir;
  const NetworkSpec spec = NetworkSpec::mlp({4, 6, 5, 2}, Activation::LeakyReLU, Loss::SoftmaxCrossEntropy);
  Network<double> net = random_net<double>(spec, 12);
  // Values a decimal format would mangle survive too.
  net.params(0).W(1, 2) = std::nextafter(1.0, 2.0);
  net.params(1).b(0) = -0.0;
  net.params(2).W(0, 0) = std::numeric_limits<double>::denorm_min();
  save_safetensors(net, dir / "m.safetensors");
  expect_same_network(net, load_network<double>(dir / "m.safetensors"));
}

TEST(Safetensors, FileFollowsThePublishedLayout) {
  TempDir dir;
  const Network<float> net = random_net<float>(small_spec(), 13);
  save_safetensors(net, dir / "m.safetensors", {{"seed", "13"}, {"algorithm", "sibp"}});
  const std::string bytes = read_file(dir / "m.safetensors");
  ASSERT_GE(bytes.size(), 8u);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u) << "data area must start 8-byte aligned";
  const json header = json::parse(bytes.substr(8, n));
  EXPECT_EQ(bytes[8], '{');

  const json& meta = header.at("__metadata__");
  EXPECT_EQ(meta.at("sibp.arch"), "dense(7) tanh dense(3) sigmoid");
  EXPECT_EQ(meta.at("sibp.input"), "5");
  EXPECT_EQ(meta.at("sibp.loss"), "squared");
  // The fully connected keys of sibp 0.1 are read, no longer written.
  EXPECT_FALSE(meta.contains("sibp.layers"));
  EXPECT_FALSE(meta.contains("sibp.hidden"));
  EXPECT_FALSE(meta.contains("sibp.output"));
  EXPECT_EQ(meta.at("sibp.version"), SIBP_VERSION);
  EXPECT_EQ(meta.at("seed"), "13");
  EXPECT_EQ(meta.at("algorithm"), "sibp");
  EXPECT_EQ(header.size(), 5u) << "metadata + 2 layers x (weight, bias)";

  const json& w1 = header.at("layers.1.weight");
  EXPECT_EQ(w1.at("dtype"), "F32");
  EXPECT_EQ(w1.at("shape"), json({3, 7}));
  // Row-major: element (i, j) of W is number i*d_in + j of the tensor.
  const std::uint64_t begin = w1.at("data_offsets")[0];
  EXPECT_EQ(w1.at("data_offsets")[1].get<std::uint64_t>() - begin, 3u * 7u * 4u);
  const Mat<float>& W = net.params(1).W;
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 7; ++j) {
      float v;
      std::memcpy(&v, bytes.data() + 8 + n + begin + 4 * (i * 7 + j), 4);
      EXPECT_EQ(v, W(i, j)) << i << "," << j;
    }
  EXPECT_EQ(header.at("layers.1.bias").at("shape"), json({3}));

  const auto read_back = read_safetensors_metadata(dir / "m.safetensors");
  EXPECT_EQ(read_back.at("seed"), "13");
  EXPECT_EQ(read_back.at("sibp.arch"), "dense(7) tanh dense(3) sigmoid");
}

TEST(Safetensors, DoubleNetworkIsStoredAsF64) {
  TempDir dir;
  save_safetensors(random_net<double>(small_spec(), 14), dir / "m.safetensors");
  const std::string bytes = read_file(dir / "m.safetensors");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  const json header = json::parse(bytes.substr(8, n));
  EXPECT_EQ(header.at("layers.0.weight").at("dtype"), "F64");
  EXPECT_EQ(header.at("layers.0.bias").at("dtype"), "F64");
}

TEST(Safetensors, LoadsAcrossPrecisions) {
  TempDir dir;
  const Network<double> d = random_net<double>(small_spec(), 15);
  save_safetensors(d, dir / "d.safetensors");
  // F64 -> float rounds each value to nearest, exactly as Network::cast does.
  expect_same_network(d.cast<float>(), load_network<float>(dir / "d.safetensors"));

  const Network<float> f = random_net<float>(small_spec(), 16);
  save_safetensors(f, dir / "f.safetensors");
  // F32 -> double is exact.
  expect_same_network(f.cast<double>(), load_network<double>(dir / "f.safetensors"));
}

TEST(Safetensors, ReservedMetadataKeysAreRefused) {
  TempDir dir;
  const Network<float> net = random_net<float>(small_spec(), 17);
  for (const char* key : {kMetaArch, kMetaInput, kMetaLoss, kMetaVersion}) {
    EXPECT_THROW(save_safetensors(net, dir / "m.safetensors", {{key, "1-1"}}), UsageError) << key;
    EXPECT_FALSE(fs::exists(dir / "m.safetensors")) << key;
  }
}

TEST(Safetensors, WriteIsAtomicAndLeavesNoTemporaryFiles) {
  TempDir dir;
  const Network<float> a = random_net<float>(small_spec(), 18);
  const Network<float> b = random_net<float>(small_spec(), 19);
  save_safetensors(a, dir / "m.safetensors");
  save_safetensors(b, dir / "m.safetensors");  // replaces the first file
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"m.safetensors"});
  expect_same_network(b, load_network<float>(dir / "m.safetensors"));
  // An unwritable destination is a DataError naming it, not a crash.
  EXPECT_THROW(save_safetensors(a, dir / "no-such-folder" / "m.safetensors"), DataError);
}

TEST(Safetensors, WithoutMetadataTheArchitectureIsInferred) {
  TempDir dir;
  write_bytes(dir / "plain.safetensors", st_bytes(valid_header().dump(), kValidData));
  const Network<double> net = load_network<double>(dir / "plain.safetensors");
  EXPECT_EQ(net.spec().arch_string(), "dense(2)");
  EXPECT_EQ(net.spec().input, (Shape{3, 1, 1}));
  EXPECT_EQ(net.activation(0), Activation::Identity);
  EXPECT_EQ(net.spec().loss, Loss::SoftmaxCrossEntropy);
  Mat<double> W(2, 3);
  W << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(net.params(0).W, W);
  EXPECT_EQ(net.params(0).b, Vec<double>((Vec<double>(2) << 7, 8).finished()));
}

TEST(Safetensors, InferredWidthsMustChain) {
  // layers.1.weight expects 3 inputs but layers.0 outputs 2.
  json h = valid_header();
  h["layers.1.weight"] = {{"dtype", "F32"}, {"shape", {1, 3}}, {"data_offsets", {32, 44}}};
  h["layers.1.bias"] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {44, 48}}};
  expect_header_error(h, kValidData + f32_bytes({1, 2, 3, 4}), "previous layer outputs 2");
}

TEST(Safetensors, NonFiniteValuesLoadAndAreDetectable) {
  TempDir dir;
  const std::string data = f32_bytes({1, std::numeric_limits<float>::quiet_NaN(), 3, 4, 5, 6, 7,
                                      std::numeric_limits<float>::infinity()});
  write_bytes(dir / "nan.safetensors", st_bytes(valid_header().dump(), data));
  const Network<float> net = load_network<float>(dir / "nan.safetensors");
  EXPECT_TRUE(std::isnan(net.params(0).W(0, 1)));
  EXPECT_TRUE(std::isinf(net.params(0).b(1)));
  EXPECT_FALSE(net.all_finite());
}

// ---- malformed files: every one is a DataError naming the file ----

TEST(SafetensorsMalformed, ShortFiles) {
  expect_data_error("", "shorter than the 8-byte header length");
  expect_data_error("abc", "shorter than the 8-byte header length");
  expect_data_error(std::string(7, '\0'), "shorter than the 8-byte header length");
}

TEST(SafetensorsMalformed, MissingFile) {
  TempDir dir;
  try {
    (void)load_network<float>(dir / "absent.safetensors");
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.safetensors"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsMalformed, HeaderLength) {
  expect_data_error(u64_le(1000) + "{}", "exceeds");
  expect_data_error(u64_le(1ull << 60) + "{}", "absurd");
  expect_data_error(u64_le(~0ull) + "{}", "absurd");
  expect_data_error(u64_le(0) + "{}", "header length is 0");
}

TEST(SafetensorsMalformed, HeaderNotJsonObject) {
  expect_data_error(st_bytes("{\"layers.0.weight\": ", ""), "not valid JSON");
  expect_data_error(st_bytes("\xff\xfe{}", ""), "not valid JSON");
  expect_data_error(st_bytes("[1, 2]", ""), "must be a JSON object");
  expect_data_error(st_bytes("42", ""), "must be a JSON object");
}

TEST(SafetensorsMalformed, DeepNestingIsACleanErrorNotACrash) {
  // Printing a 100 000-level value for a message (parse_entry, __metadata__)
  // recursed once per level and overflowed the stack.
  const std::string deep_array = std::string(100000, '[') + std::string(100000, ']');
  std::string deep_object;
  for (int i = 0; i < 100000; ++i) deep_object += "{\"a\":";
  deep_object += "1" + std::string(100000, '}');
  expect_data_error(st_bytes(deep_array, ""), "nested too deeply");
  expect_data_error(st_bytes("{\"layers.0.weight\": " + deep_array + "}", ""), "nested too deeply");
  expect_data_error(st_bytes("{\"__metadata__\": " + deep_array + "}", ""), "nested too deeply");
  expect_data_error(st_bytes(deep_object, ""), "nested too deeply");
}

TEST(SafetensorsMalformed, NumberOverflowNamesTheFileNotTheLibrary) {
  TempDir dir;
  const fs::path path = dir / "m.safetensors";
  write_bytes(path, st_bytes("{\"layers.0.weight\": {\"dtype\": \"F32\", \"shape\": [1e400]}}", ""));
  try {
    (void)load_network<float>(path);
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("1e400"), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("json.exception"), std::string::npos) << msg;
  }
}

TEST(SafetensorsMalformed, AFolderOrAFifoIsNamedAsSuch) {
  TempDir dir;
  const std::string msg =
      sibp::testing::error_message<DataError>([&] { (void)load_network<float>(dir.path()); });
  sibp::testing::expect_mentions(msg, {"'" + dir.path().string() + "': is a directory"});
  sibp::testing::expect_fifo_refused(dir / "model.safetensors",
                                     [&] { (void)load_network<float>(dir / "model.safetensors"); });
}

TEST(SafetensorsMalformed, EntryFieldsMissingOrMistyped) {
  const auto edit = [](const std::string& field, const json& value) {
    json h = valid_header();
    if (value.is_discarded())
      h["layers.0.weight"].erase(field);
    else
      h["layers.0.weight"][field] = value;
    return h;
  };
  const json erase = json::value_t::discarded;
  expect_header_error(edit("dtype", erase), kValidData, "tensor 'layers.0.weight' has no \"dtype\"");
  expect_header_error(edit("shape", erase), kValidData, "tensor 'layers.0.weight' has no \"shape\"");
  expect_header_error(edit("data_offsets", erase), kValidData, "tensor 'layers.0.weight' has no \"data_offsets\"");
  expect_header_error(edit("dtype", 5), kValidData, "\"dtype\" must be a string");
  expect_header_error(edit("shape", "2x3"), kValidData, "\"shape\" must be an array");
  expect_header_error(edit("shape", {2, -3}), kValidData, "\"shape\" must be an array of non-negative integers");
  expect_header_error(edit("shape", {2, 3.0}), kValidData, "\"shape\" must be an array of non-negative integers");
  expect_header_error(edit("data_offsets", {0}), kValidData, "\"data_offsets\" must be [begin, end]");
  expect_header_error(edit("data_offsets", {0, 24, 32}), kValidData, "\"data_offsets\" must be [begin, end]");
  expect_header_error(edit("data_offsets", "0-24"), kValidData, "\"data_offsets\" must be [begin, end]");
  expect_header_error(edit("data_offsets", {0, -24}), kValidData, "\"data_offsets\" must be [begin, end]");

  json h = valid_header();
  h["layers.0.weight"] = "F32";
  expect_header_error(h, kValidData, "tensor 'layers.0.weight': expected an object");
}

TEST(SafetensorsMalformed, UnsupportedDtypeIsNamed) {
  json h = valid_header();
  h["layers.0.weight"]["dtype"] = "BF16";
  h["layers.0.weight"]["data_offsets"] = {0, 12};
  h["layers.0.bias"]["data_offsets"] = {12, 20};
  expect_header_error(h, kValidData.substr(0, 20), "unsupported dtype 'BF16'");
}

TEST(SafetensorsMalformed, BadOffsets) {
  json h = valid_header();
  h["layers.0.weight"]["data_offsets"] = {24, 0};
  expect_header_error(h, kValidData, "reversed data_offsets [24, 0]");

  h = valid_header();
  h["layers.0.weight"]["data_offsets"] = {0, 20};
  expect_header_error(h, kValidData, "needs 24 bytes, but data_offsets [0, 20] span 20");

  h = valid_header();
  h["layers.0.bias"]["data_offsets"] = {32, 40};
  expect_header_error(h, kValidData, "extend past the 32-byte data area");

  // Shape whose byte size wraps around 2^64 to a small number.
  h = valid_header();
  h["layers.0.weight"]["shape"] = {1ull << 62, 1ull << 62};
  expect_header_error(h, kValidData, "overflows");

  h = valid_header();
  h["layers.0.bias"]["data_offsets"] = {16, 24};
  expect_header_error(h, kValidData.substr(0, 24), "overlap");

  h = valid_header();
  h["layers.0.bias"]["data_offsets"] = {0, 8};
  h["layers.0.weight"]["data_offsets"] = {12, 36};
  expect_header_error(h, kValidData + "pad!", "bytes [8, 12) of the data area belong to no tensor");

  expect_header_error(valid_header(), kValidData + "junk", "trailing bytes");
}

TEST(SafetensorsMalformed, TruncatedData) {
  TempDir dir;
  save_safetensors(random_net<float>(small_spec(), 20), dir / "m.safetensors");
  const std::string full = read_file(dir / "m.safetensors");
  expect_data_error(full.substr(0, full.size() - 4), "extend past");
  expect_data_error(full.substr(0, 60), "exceeds");
}

TEST(SafetensorsMalformed, BadMetadata) {
  json h = valid_header();
  h["__metadata__"] = {"sibp.layers", "3-2"};
  expect_header_error(h, kValidData, "\"__metadata__\" must be an object");
  h["__metadata__"] = {{"sibp.layers", 32}};
  expect_header_error(h, kValidData, "\"__metadata__\" entry 'sibp.layers' must be a string");
  h["__metadata__"] = {{"sibp.layers", "3-2"}, {"sibp.hidden", "swish"}};
  expect_header_error(h, kValidData, "metadata sibp.hidden = 'swish'");
  h["__metadata__"] = {{"sibp.layers", "3-2"}, {"sibp.loss", "hinge"}};
  expect_header_error(h, kValidData, "metadata sibp.loss = 'hinge'");
  h["__metadata__"] = {{"sibp.layers", "3-x"}};
  expect_header_error(h, kValidData, "metadata sibp.layers = '3-x'");
  // Widths beyond the parser's limit are refused as such ...
  h["__metadata__"] = {{"sibp.layers", "3-999999999999"}};
  expect_header_error(h, kValidData, "metadata sibp.layers = '3-999999999999'");
  // ... and widths within it that disagree with the tensors are refused before
  // anything of that size is allocated (this one would need ~8 TB).
  h["__metadata__"] = {{"sibp.layers", "1000000-1000000"}};
  expect_header_error(h, kValidData, "tensor 'layers.0.weight' has shape [2, 3], expected [1000000, 1000000]");
}

TEST(SafetensorsMalformed, MissingAndUnexpectedTensors) {
  json h = valid_header();
  h.erase("layers.0.bias");
  expect_header_error(h, kValidData.substr(0, 24), "missing tensor 'layers.0.bias'");

  h = valid_header();
  h["head.weight"] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {32, 36}}};
  expect_header_error(h, kValidData + f32_bytes({9}), "unexpected tensor 'head.weight'");

  expect_data_error(st_bytes("{}", ""), "no tensor 'layers.0.weight'");
}

// ---- load_parameters_into (--init-from) ----

TEST(SafetensorsInitFrom, CopiesParametersAndKeepsActivations) {
  TempDir dir;
  const Network<double> source = random_net<double>(small_spec(), 21);
  save_safetensors(source, dir / "m.safetensors");
  // --init-from keeps the run's own choices
  const NetworkSpec spec = small_spec({5, 7, 3}, Activation::ReLU);
  Network<float> target = random_net<float>(spec, 22);
  load_parameters_into(target, dir / "m.safetensors");
  const Network<float> expected = source.cast<float>();
  for (std::size_t l = 0; l < target.num_param_layers(); ++l) {
    EXPECT_TRUE(same_bits(target.params(l).W, expected.params(l).W));
    EXPECT_TRUE(same_bits(target.params(l).b, expected.params(l).b));
  }
  EXPECT_EQ(target.spec().arch_string(), "dense(7) relu dense(3) sigmoid");
  EXPECT_EQ(target.activation(0), Activation::ReLU);
}

TEST(SafetensorsInitFrom, ShapeMismatchNamesFileTensorAndShapesAndLeavesNetworkUnchanged) {
  TempDir dir;
  save_safetensors(random_net<float>(small_spec(), 23), dir / "m.safetensors");  // 5-7-3
  Network<float> target = random_net<float>(small_spec({5, 8, 3}), 24);
  const Network<float> before = target;
  try {
    load_parameters_into(target, dir / "m.safetensors");
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((dir / "m.safetensors").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("'layers.0.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("has shape [7, 5], expected [8, 5]"), std::string::npos) << msg;
  }
  expect_same_network(before, target);
}

TEST(SafetensorsInitFrom, LayerCountMismatch) {
  TempDir dir;
  save_safetensors(random_net<float>(small_spec(), 25), dir / "m.safetensors");  // 2 layers
  Network<float> target3(small_spec({5, 7, 3, 3}));
  EXPECT_THROW(load_parameters_into(target3, dir / "m.safetensors"), DataError);
  Network<float> target1(small_spec({5, 7}));
  try {
    load_parameters_into(target1, dir / "m.safetensors");
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected tensor 'layers.1."), std::string::npos) << e.what();
  }
}

// ---- convolutional networks ----

const char* kCnnArch =
    "conv(4,3,stride=2,pad=1) relu maxpool(2) conv(3,2) tanh avgpool(2,stride=1) dense(5) leaky_relu dense(3)";

NetworkSpec cnn_spec(const std::string& arch = kCnnArch, const std::string& input = "2x12x12",
                     Loss loss = Loss::SoftmaxCrossEntropy) {
  return NetworkSpec::build(Architecture::parse(arch), Shape::parse(input), loss);
}

/// The same file without its "__metadata__" (a file PyTorch tools would write).
std::string without_metadata(const std::string& bytes) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  json h = json::parse(bytes.substr(8, n));
  h.erase("__metadata__");
  std::string text = h.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return u64_le(text.size()) + text + bytes.substr(8 + n);
}

template <typename T>
void check_cnn_round_trip(std::uint64_t seed) {
  TempDir dir;
  Network<T> net = random_net<T>(cnn_spec(), seed);
  if constexpr (std::is_same_v<T, double>) {
    net.params(0).W(1, 2) = std::nextafter(1.0, 2.0);
    net.params(1).b(0) = -0.0;
    net.params(2).W(0, 0) = std::numeric_limits<double>::denorm_min();
  }
  save_safetensors(net, dir / "cnn.safetensors");
  const Network<T> back = load_network<T>(dir / "cnn.safetensors");
  expect_same_network(net, back);
  ASSERT_EQ(back.num_layers(), 6u);
  // The same outputs, bit for bit.
  Rng rng(seed + 1);
  Mat<T> X(net.input_size(), 3);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = static_cast<T>(rng.normal());
  Tape<T> ta, tb;
  EXPECT_TRUE(same_bits(net.predict(X, ta), back.predict(X, tb)));
}

TEST(SafetensorsCnn, FloatRoundTripIsBitExact) { check_cnn_round_trip<float>(41); }
TEST(SafetensorsCnn, DoubleRoundTripIsBitExact) { check_cnn_round_trip<double>(42); }

TEST(SafetensorsCnn, MetadataRecordsArchitectureAndInputAndKernelsArePyTorchsLayout) {
  TempDir dir;
  // dense(3) after max pooling: the flatten is implied, and recorded explicitly.
  const Network<float> net = random_net<float>(cnn_spec("conv(4,3,pad=1) relu maxpool(2) dense(3)", "2x6x6"), 43);
  save_safetensors(net, dir / "m.safetensors");
  const auto meta = read_safetensors_metadata(dir / "m.safetensors");
  EXPECT_EQ(meta.at(kMetaArch), "conv(4,3,pad=1) relu maxpool(2) flatten dense(3)");
  EXPECT_EQ(meta.at(kMetaInput), "2x6x6");
  EXPECT_EQ(meta.at(kMetaLoss), "cross-entropy");
  EXPECT_EQ(meta.at(kMetaVersion), SIBP_VERSION);
  EXPECT_EQ(meta.count("sibp.layers"), 0u);

  const std::string bytes = read_file(dir / "m.safetensors");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  const json header = json::parse(bytes.substr(8, n));
  EXPECT_EQ(header.size(), 5u) << "metadata + 2 parametrised layers x (weight, bias)";
  EXPECT_EQ(header.at("layers.0.weight").at("shape"), json({4, 2, 3, 3}));
  EXPECT_EQ(header.at("layers.0.bias").at("shape"), json({4}));
  EXPECT_EQ(header.at("layers.1.weight").at("shape"), json({3, 36}));
  EXPECT_EQ(header.at("layers.1.bias").at("shape"), json({3}));
  // Kernel entry [o, c, ki, kj] is number ((o·c_in + c)·k + ki)·k + kj of the
  // row-major tensor and W(o, (c·k + ki)·k + kj) in sibp.
  const std::uint64_t begin = header.at("layers.0.weight").at("data_offsets")[0];
  const Mat<float>& W = net.params(0).W;
  for (Index o = 0; o < 4; ++o)
    for (Index c = 0; c < 2; ++c)
      for (Index ki = 0; ki < 3; ++ki)
        for (Index kj = 0; kj < 3; ++kj) {
          float v;
          std::memcpy(&v, bytes.data() + 8 + n + begin + 4 * (((o * 2 + c) * 3 + ki) * 3 + kj), 4);
          EXPECT_EQ(v, W(o, (c * 3 + ki) * 3 + kj)) << o << "," << c << "," << ki << "," << kj;
        }
}

TEST(SafetensorsCnn, FileWithoutMetadataLoadsWithTheArchitectureGiven) {
  TempDir dir;
  const Network<double> net = random_net<double>(cnn_spec(), 44);
  save_safetensors(net, dir / "m.safetensors");
  write_bytes(dir / "plain.safetensors", without_metadata(read_file(dir / "m.safetensors")));
  EXPECT_TRUE(read_safetensors_metadata(dir / "plain.safetensors").empty());

  // Without an architecture a kernel cannot be read: the error says what to give.
  const std::string msg = error_message<DataError>([&] { (void)load_network<double>(dir / "plain.safetensors"); });
  EXPECT_NE(msg.find("plain.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("convolution kernel [4, 2, 3, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--arch"), std::string::npos) << msg;

  // The architecture alone does not give the input shape.
  ModelFileOptions arch_only;
  arch_only.arch = Architecture::parse(kCnnArch);
  const std::string no_input =
      error_message<DataError>([&] { (void)load_network<double>(dir / "plain.safetensors", arch_only); });
  EXPECT_NE(no_input.find("no sibp.input"), std::string::npos) << no_input;

  ModelFileOptions o = arch_only;
  o.input = Shape{2, 12, 12};
  expect_same_network(net, load_network<double>(dir / "plain.safetensors", o));
}

TEST(SafetensorsCnn, OptionsThatAgreeWithTheFileAreAccepted) {
  // `sibp eval --arch` with the text the model was trained with: the file
  // records the implied flatten explicitly, but it is the same network.
  TempDir dir;
  const std::string arch = "conv(4,3,pad=1) relu maxpool(2) dense(3)";
  const Network<float> net = random_net<float>(cnn_spec(arch, "2x6x6"), 45);
  save_safetensors(net, dir / "m.safetensors");
  ModelFileOptions canonical;
  canonical.arch = Architecture::parse(net.spec().arch_string());
  canonical.input = Shape{2, 6, 6};
  expect_same_network(net, load_network<float>(dir / "m.safetensors", canonical));
  ModelFileOptions as_written;
  as_written.arch = Architecture::parse(arch);
  as_written.input = Shape{2, 6, 6};
  EXPECT_NO_THROW((void)load_network<float>(dir / "m.safetensors", as_written))
      << "the architecture the network was built from, without the flatten that "
         "NetworkSpec::build implies, was refused (src/io/safetensors.cpp, spec_from compares "
         "Architecture objects instead of the resolved layers)";
  // The data's samples as plain vectors of the same size: accepted, the file's image shape is kept.
  ModelFileOptions vectors;
  vectors.input = Shape{72, 1, 1};
  EXPECT_EQ(load_network<float>(dir / "m.safetensors", vectors).spec().input, (Shape{2, 6, 6}));
}

TEST(SafetensorsCnn, OptionsThatDisagreeWithTheFileAreUsageErrors) {
  TempDir dir;
  save_safetensors(random_net<float>(cnn_spec(), 46), dir / "m.safetensors");
  ModelFileOptions other_arch;
  other_arch.arch = Architecture::parse("conv(5,3,stride=2,pad=1) relu maxpool(2) dense(3)");
  const std::string a =
      error_message<UsageError>([&] { (void)load_network<float>(dir / "m.safetensors", other_arch); });
  EXPECT_NE(a.find("conv(5,3,stride=2,pad=1)"), std::string::npos) << a;
  EXPECT_NE(a.find("conv(4,3,stride=2,pad=1)"), std::string::npos) << a;
  EXPECT_NE(a.find("m.safetensors"), std::string::npos) << a;

  ModelFileOptions other_input;
  other_input.input = Shape{1, 12, 12};
  const std::string b =
      error_message<UsageError>([&] { (void)load_network<float>(dir / "m.safetensors", other_input); });
  EXPECT_NE(b.find("1x12x12"), std::string::npos) << b;
  EXPECT_NE(b.find("2x12x12"), std::string::npos) << b;
}

TEST(SafetensorsCnn, ArchitecturesThatDoNotFitTheTensorsOrTheInputAreDataErrors) {
  TempDir dir;
  save_safetensors(random_net<float>(cnn_spec("conv(4,3,pad=1) relu maxpool(2) dense(3)", "2x6x6"), 47),
                   dir / "m.safetensors");
  write_bytes(dir / "plain.safetensors", without_metadata(read_file(dir / "m.safetensors")));
  // A kernel size the tensors do not have: named with both shapes.
  ModelFileOptions o;
  o.arch = Architecture::parse("conv(4,5,pad=2) relu maxpool(2) dense(3)");
  o.input = Shape{2, 6, 6};
  const std::string msg = error_message<DataError>([&] { (void)load_network<float>(dir / "plain.safetensors", o); });
  EXPECT_NE(msg.find("'layers.0.weight' has shape [4, 2, 3, 3], expected [4, 2, 5, 5]"), std::string::npos) << msg;
  // Recorded metadata that cannot be built (a kernel larger than the recorded input).
  std::string bytes = read_file(dir / "m.safetensors");
  const std::string recorded = "\"sibp.input\":\"2x6x6\"";
  const std::size_t at = bytes.find(recorded);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, recorded.size(), "\"sibp.input\":\"2x1x1\"");  // same length: the header size stays
  write_bytes(dir / "small.safetensors", bytes);
  const std::string small = error_message<DataError>([&] { (void)load_network<float>(dir / "small.safetensors"); });
  EXPECT_NE(small.find("does not fit its input"), std::string::npos) << small;
  EXPECT_NE(small.find("small.safetensors"), std::string::npos) << small;
  // Unparsable recorded architecture and input.
  bytes = read_file(dir / "m.safetensors");
  const std::string arch = "\"sibp.arch\":\"conv(4,3,pad=1)";
  bytes.replace(bytes.find(arch), arch.size(), "\"sibp.arch\":\"conv(4,3,pad=x)");
  write_bytes(dir / "bad.safetensors", bytes);
  const std::string bad = error_message<DataError>([&] { (void)load_network<float>(dir / "bad.safetensors"); });
  EXPECT_NE(bad.find("metadata sibp.arch = 'conv(4,3,pad=x)"), std::string::npos) << bad;
}

TEST(SafetensorsCnn, FilesOfSibp01WithLayersHiddenOutputStillLoad) {
  // The metadata sibp 0.1 wrote for fully connected networks.
  TempDir dir;
  json h = {{"__metadata__", {{"sibp.layers", "3-4-2"}, {"sibp.hidden", "leaky-relu"}, {"sibp.output", "sigmoid"},
                              {"sibp.loss", "squared"}, {"sibp.version", "0.1.0"}}},
            {"layers.0.weight", {{"dtype", "F32"}, {"shape", {4, 3}}, {"data_offsets", {0, 48}}}},
            {"layers.0.bias", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {48, 64}}}},
            {"layers.1.weight", {{"dtype", "F32"}, {"shape", {2, 4}}, {"data_offsets", {64, 96}}}},
            {"layers.1.bias", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {96, 104}}}}};
  std::vector<float> values(26);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) - 10.5f;
  write_bytes(dir / "old.safetensors", st_bytes(h.dump(), f32_bytes(values)));
  const Network<double> net = load_network<double>(dir / "old.safetensors");
  EXPECT_EQ(net.spec().arch_string(), "dense(4) leaky_relu dense(2) sigmoid");
  EXPECT_EQ(net.spec().input, (Shape{3, 1, 1}));
  EXPECT_EQ(net.loss(), Loss::SquaredError);
  EXPECT_EQ(net.params(0).W(1, 2), static_cast<double>(values[5]));  // row-major [4, 3]: entry (1, 2) is number 5
  EXPECT_EQ(net.params(0).b(3), static_cast<double>(values[15]));
  EXPECT_EQ(net.params(1).W(1, 0), static_cast<double>(values[16 + 4]));
  EXPECT_EQ(net.params(1).b(1), static_cast<double>(values[25]));
  // Without sibp.hidden the hidden layers are ReLU, as 0.1 defaulted.
  h["__metadata__"].erase("sibp.hidden");
  write_bytes(dir / "old2.safetensors", st_bytes(h.dump(), f32_bytes(values)));
  EXPECT_EQ(load_network<float>(dir / "old2.safetensors").spec().arch_string(), "dense(4) relu dense(2) sigmoid");
  // The data's image shape is adopted when its size is the input width ...
  ModelFileOptions image;
  image.input = Shape{1, 3, 1};
  EXPECT_EQ(load_network<float>(dir / "old.safetensors", image).spec().input, (Shape{1, 3, 1}));
  // ... and refused otherwise.
  image.input = Shape{1, 2, 2};
  EXPECT_NE(error_message<UsageError>([&] { (void)load_network<float>(dir / "old.safetensors", image); }), "");
}

TEST(SafetensorsCnn, InitFromCopiesKernelsAndRefusesOtherShapes) {
  TempDir dir;
  const Network<double> source = random_net<double>(cnn_spec(), 48);
  save_safetensors(source, dir / "m.safetensors");
  Network<double> target = random_net<double>(cnn_spec(), 49);
  load_parameters_into(target, dir / "m.safetensors");
  expect_same_network(source, target);
  // Another kernel size: refused naming the tensor and both shapes; target unchanged.
  Network<double> other = random_net<double>(
      cnn_spec("conv(4,5,stride=2,pad=1) relu maxpool(2) conv(3,1) tanh avgpool(2,stride=1) dense(5) leaky_relu "
               "dense(3)"),
      50);
  const Network<double> before = other;
  const std::string msg = error_message<DataError>([&] { load_parameters_into(other, dir / "m.safetensors"); });
  EXPECT_NE(msg.find("'layers.0.weight' has shape [4, 2, 3, 3], expected [4, 2, 5, 5]"), std::string::npos) << msg;
  expect_same_network(before, other);
}

TEST(SafetensorsInitFrom, NonFiniteParameterNamesFileAndTensorAndLeavesNetworkUnchanged) {
  // --init-from a diverged run's weights would train from NaN.
  TempDir dir;
  const fs::path path = dir / "nan.safetensors";
  write_bytes(path, st_bytes(valid_header().dump(),
                             f32_bytes({1, 2, 3, 4, 5, std::numeric_limits<float>::quiet_NaN(), 7, 8})));
  const NetworkSpec spec = NetworkSpec::mlp({3, 2}, Activation::ReLU, Loss::SoftmaxCrossEntropy);
  Network<float> target = random_net<float>(spec, 26);
  const Network<float> before = target;
  try {
    load_parameters_into(target, path);
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("'layers.0.weight' element [1, 2] is nan"), std::string::npos) << msg;
  }
  expect_same_network(before, target);
  // Infinite bias; and an F64 value beyond float range becomes infinite in float.
  write_bytes(path, st_bytes(valid_header().dump(),
                             f32_bytes({1, 2, 3, 4, 5, 6, 7, std::numeric_limits<float>::infinity()})));
  try {
    load_parameters_into(target, path);
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("'layers.0.bias' element [1] is inf"), std::string::npos) << e.what();
  }
  Network<double> as_double = random_net<double>(spec, 27);
  EXPECT_THROW(load_parameters_into(as_double, path), DataError);
}

TEST(Safetensors, RequireFiniteParametersNamesTheTensor) {
  const NetworkSpec spec = NetworkSpec::mlp({3, 2, 1}, Activation::ReLU, Loss::SoftmaxCrossEntropy);
  Network<double> net = random_net<double>(spec, 28);
  EXPECT_NO_THROW(require_finite_parameters(net, "m.safetensors"));
  net.params(1).W(0, 1) = -std::numeric_limits<double>::infinity();
  try {
    require_finite_parameters(net, "m.safetensors");
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'m.safetensors'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'layers.1.weight' element [0, 1] is -inf"), std::string::npos) << msg;
  }
}

// ---- PyTorch compatibility, checked by an independent reader ----

struct ProcessResult {
  int exit_code = -1;
  std::string out, err;
};

ProcessResult run_command(const std::string& cmd, const TempDir& dir) {
  const std::string full = cmd + " >'" + (dir / "stdout").string() + "' 2>'" + (dir / "stderr").string() + "'";
  const int status = std::system(full.c_str());
  ProcessResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(dir / "stdout");
  r.err = read_file(dir / "stderr");
  return r;
}

const char* kPython = "/usr/bin/python3";

std::string check_script() { return std::string(SIBP_SOURCE_DIR) + "/scripts/check_safetensors.py"; }

/// Writes the columns of X as a JSON list of samples, each as doubles with 17
/// digits, so PyTorch sees exactly X.
template <typename T>
void write_samples(const Mat<T>& X, const fs::path& path) {
  json samples = json::array();
  for (Index j = 0; j < X.cols(); ++j) {
    json s = json::array();
    for (Index i = 0; i < X.rows(); ++i) s.push_back(static_cast<double>(X(i, j)));
    samples.push_back(s);
  }
  write_bytes(path, samples.dump());
}

/// Runs scripts/check_safetensors.py with `args` under /usr/bin/python3
/// (Debian's python3-torch) and returns its JSON answer.
json run_check_script(const std::string& args, const TempDir& dir) {
  // Fails, not skips: CI installs python3-torch and this check must run there.
  EXPECT_EQ(::access(kPython, X_OK), 0) << kPython << " not found: install python3 and python3-torch to run "
                                        << "the PyTorch compatibility check";
  EXPECT_TRUE(fs::exists(check_script())) << check_script();
  const ProcessResult r = run_command(std::string(kPython) + " '" + check_script() + "' " + args, dir);
  if (r.exit_code == 3)
    ADD_FAILURE() << "torch is not importable by " << kPython << " (install python3-torch): " << r.err;
  if (r.exit_code != 0) {
    ADD_FAILURE() << "check_safetensors.py failed (" << r.exit_code << "):\n" << r.err;
    return json();
  }
  return json::parse(r.out);
}

/// Expects PyTorch's outputs (one list per sample) to equal ours within `tolerance`.
template <typename T>
void expect_same_outputs(const json& theirs, const Mat<T>& ours, double tolerance) {
  ASSERT_EQ(theirs.size(), static_cast<std::size_t>(ours.cols()));
  for (Index j = 0; j < ours.cols(); ++j) {
    ASSERT_EQ(theirs[j].size(), static_cast<std::size_t>(ours.rows()));
    for (Index i = 0; i < ours.rows(); ++i)
      EXPECT_NEAR(theirs[j][i].get<double>(), static_cast<double>(ours(i, j)), tolerance)
          << "sample " << j << " output " << i;
  }
}

template <typename T>
Mat<T> random_inputs(Index rows, Index m, std::uint64_t seed) {
  Rng rng(seed);
  return testing::random_normal<T>(rows, m, rng, 2.0);
}

/// Saves `net`, has scripts/check_safetensors.py load it into an nn.Sequential
/// of the same layers (strict load_state_dict after renaming the keys), and
/// compares PyTorch's outputs with ours.
template <typename T>
void check_against_pytorch(const Network<T>& net, double tolerance) {
  TempDir dir;
  save_safetensors(net, dir / "model.safetensors");
  const Index m = 6;
  const Mat<T> X = random_inputs<T>(net.input_size(), m, 99);
  write_samples(X, dir / "input.json");
  const json result = run_check_script("'" + (dir / "model.safetensors").string() + "' --input '" +
                                           (dir / "input.json").string() + "'",
                                       dir);
  ASSERT_FALSE(result.is_null());
  EXPECT_EQ(result.at("dtype"), (std::is_same_v<T, float> ? "F32" : "F64"));
  EXPECT_EQ(result.at("arch"), net.spec().arch_string());
  EXPECT_EQ(result.at("input"), net.spec().input.to_string());
  Tape<T> work;
  expect_same_outputs(result.at("outputs"), net.predict(X, work), tolerance);
}

/// Has scripts/check_safetensors.py build `arch` on `input` in PyTorch, save its
/// state dict under sibp's names without sibp metadata, and compares the
/// outputs of the network sibp loads from it (told the architecture) with PyTorch's.
template <typename T>
void check_from_pytorch(const std::string& arch, const std::string& input, double tolerance) {
  TempDir dir;
  const Shape shape = Shape::parse(input);
  const Index m = 5;
  const Mat<T> X = random_inputs<T>(shape.size(), m, 98);
  write_samples(X, dir / "input.json");
  const json result = run_check_script("--export '" + (dir / "torch.safetensors").string() + "' --arch '" + arch +
                                           "' --input-shape " + input + " --dtype " +
                                           (std::is_same_v<T, float> ? "F32" : "F64") + " --seed 7 --input '" +
                                           (dir / "input.json").string() + "'",
                                       dir);
  ASSERT_FALSE(result.is_null());
  EXPECT_TRUE(read_safetensors_metadata(dir / "torch.safetensors").count(kMetaArch) == 0);
  ModelFileOptions o;
  o.arch = Architecture::parse(arch);
  o.input = shape;
  const Network<T> net = load_network<T>(dir / "torch.safetensors", o);
  EXPECT_EQ(net.spec().input, shape);
  Tape<T> work;
  expect_same_outputs(result.at("outputs"), net.predict(X, work), tolerance);
}

NetworkSpec torch_spec(Activation hidden = Activation::Tanh) {
  // Non-square, so a transposed W cannot load or would give other outputs.
  return NetworkSpec::mlp({13, 17, 11, 4}, hidden);
}

// Tolerances: the two forward passes differ only in the summation order of
// dot products of length <= 17 (PyTorch's BLAS vs Eigen). Outputs are O(1)
// (weights ~ N(0, 0.25), tanh hidden); the rounding bound n·eps·Σ|w x| per
// layer is below 1e-5 in float and 1e-14 in double. A layout bug (transposed
// or shifted weights) changes the outputs by O(0.1) or more.
TEST(SafetensorsPyTorch, FloatModelGivesTheSameOutputsInPyTorch) {
  check_against_pytorch(random_net<float>(torch_spec(), 31), 1e-4);
}

TEST(SafetensorsPyTorch, DoubleModelGivesTheSameOutputsInPyTorch) {
  check_against_pytorch(random_net<double>(torch_spec(Activation::ReLU), 32), 1e-12);
}

// Convolutions: the kernels are [out, in, kh, kw] as nn.Conv2d's, so PyTorch
// loads them strictly into an nn.Sequential of the same modules. The outputs
// differ only in summation order (PyTorch's convolution vs our im2col GEMM,
// dot products of ≤ 18 terms per layer, 5 layers deep; outputs O(1)): below
// 1e-5 in float, 1e-13 in double. A kernel read in the wrong order or a
// flatten in the wrong order changes outputs by O(0.1).
TEST(SafetensorsPyTorch, FloatCnnGivesTheSameOutputsInPyTorch) {
  check_against_pytorch(random_net<float>(cnn_spec(), 33), 1e-4);
}

TEST(SafetensorsPyTorch, DoubleCnnWithImpliedFlattenGivesTheSameOutputsInPyTorch) {
  check_against_pytorch(
      random_net<double>(cnn_spec("conv(3,3,stride=2) sigmoid avgpool(3,stride=2) conv(4,2,pad=2) relu dense(4)",
                                  "3x15x13"),
                         34),
      1e-12);
}

TEST(SafetensorsPyTorch, FloatCnnSavedByPyTorchLoadsIntoSibp) {
  check_from_pytorch<float>("conv(4,3,pad=1) relu maxpool(2) conv(2,3,stride=2) sigmoid dense(3)", "2x10x10", 1e-4);
}

TEST(SafetensorsPyTorch, DoubleCnnSavedByPyTorchLoadsIntoSibp) {
  check_from_pytorch<double>(kCnnArch, "2x12x12", 1e-12);
  check_from_pytorch<double>("avgpool(2,stride=1) conv(3,2,stride=2,pad=1) tanh flatten dense(5) relu dense(2)",
                             "3x7x7", 1e-12);
}

}  // namespace
}  // namespace sibp
