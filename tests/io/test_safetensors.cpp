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

using json = nlohmann::json;
using sibp::testing::TempDir;
using sibp::testing::write_bytes;
namespace fs = std::filesystem;

NetworkSpec small_spec() {
  NetworkSpec spec;
  spec.widths = {5, 7, 3};
  spec.hidden = Activation::Tanh;
  spec.output = Activation::Sigmoid;
  spec.loss = Loss::SquaredError;
  return spec;
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
  EXPECT_EQ(a.spec().widths, b.spec().widths);
  EXPECT_EQ(a.spec().hidden, b.spec().hidden);
  EXPECT_EQ(a.spec().output, b.spec().output);
  EXPECT_EQ(a.spec().loss, b.spec().loss);
  ASSERT_EQ(a.num_layers(), b.num_layers());
  for (std::size_t l = 0; l < a.num_layers(); ++l) {
    EXPECT_TRUE(same_bits(a.layer(l).W, b.layer(l).W)) << "layer " << l << " W";
    EXPECT_TRUE(same_bits(a.layer(l).b, b.layer(l).b)) << "layer " << l << " b";
    EXPECT_EQ(a.layer(l).act, b.layer(l).act) << "layer " << l;
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
  NetworkSpec spec = small_spec();
  spec.widths = {4, 6, 5, 2};
  spec.hidden = Activation::LeakyReLU;
  spec.output = Activation::Identity;
  spec.loss = Loss::SoftmaxCrossEntropy;
  Network<double> net = random_net<double>(spec, 12);
  // Values a decimal format would mangle survive too.
  net.layer(0).W(1, 2) = std::nextafter(1.0, 2.0);
  net.layer(1).b(0) = -0.0;
  net.layer(2).W(0, 0) = std::numeric_limits<double>::denorm_min();
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
  EXPECT_EQ(meta.at("sibp.layers"), "5-7-3");
  EXPECT_EQ(meta.at("sibp.hidden"), "tanh");
  EXPECT_EQ(meta.at("sibp.output"), "sigmoid");
  EXPECT_EQ(meta.at("sibp.loss"), "squared");
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
  const Mat<float>& W = net.layer(1).W;
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 7; ++j) {
      float v;
      std::memcpy(&v, bytes.data() + 8 + n + begin + 4 * (i * 7 + j), 4);
      EXPECT_EQ(v, W(i, j)) << i << "," << j;
    }
  EXPECT_EQ(header.at("layers.1.bias").at("shape"), json({3}));

  const auto read_back = read_safetensors_metadata(dir / "m.safetensors");
  EXPECT_EQ(read_back.at("seed"), "13");
  EXPECT_EQ(read_back.at("sibp.layers"), "5-7-3");
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
  EXPECT_THROW(save_safetensors(net, dir / "m.safetensors", {{"sibp.layers", "1-1"}}), UsageError);
  EXPECT_FALSE(fs::exists(dir / "m.safetensors"));
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
  EXPECT_EQ(net.spec().widths, (std::vector<Index>{3, 2}));
  EXPECT_EQ(net.spec().hidden, Activation::ReLU);
  EXPECT_EQ(net.spec().output, Activation::Identity);
  EXPECT_EQ(net.spec().loss, Loss::SoftmaxCrossEntropy);
  Mat<double> W(2, 3);
  W << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(net.layer(0).W, W);
  EXPECT_EQ(net.layer(0).b, Vec<double>((Vec<double>(2) << 7, 8).finished()));
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
  EXPECT_TRUE(std::isnan(net.layer(0).W(0, 1)));
  EXPECT_TRUE(std::isinf(net.layer(0).b(1)));
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
  // Widths that disagree with the tensors are refused before anything of
  // that size is allocated (this one would need ~3 TB).
  h["__metadata__"] = {{"sibp.layers", "3-999999999999"}};
  expect_header_error(h, kValidData, "tensor 'layers.0.weight' has shape [2, 3], expected [999999999999, 3]");
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
  NetworkSpec spec = small_spec();
  spec.hidden = Activation::ReLU;  // --init-from keeps the run's own choices
  Network<float> target = random_net<float>(spec, 22);
  load_parameters_into(target, dir / "m.safetensors");
  const Network<float> expected = source.cast<float>();
  for (std::size_t l = 0; l < target.num_layers(); ++l) {
    EXPECT_TRUE(same_bits(target.layer(l).W, expected.layer(l).W));
    EXPECT_TRUE(same_bits(target.layer(l).b, expected.layer(l).b));
  }
  EXPECT_EQ(target.spec().hidden, Activation::ReLU);
  EXPECT_EQ(target.layer(0).act, Activation::ReLU);
}

TEST(SafetensorsInitFrom, ShapeMismatchNamesFileTensorAndShapesAndLeavesNetworkUnchanged) {
  TempDir dir;
  save_safetensors(random_net<float>(small_spec(), 23), dir / "m.safetensors");  // 5-7-3
  NetworkSpec spec = small_spec();
  spec.widths = {5, 8, 3};
  Network<float> target = random_net<float>(spec, 24);
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
  NetworkSpec deeper = small_spec();
  deeper.widths = {5, 7, 3, 3};
  Network<float> target3(deeper);
  EXPECT_THROW(load_parameters_into(target3, dir / "m.safetensors"), DataError);
  NetworkSpec shallower = small_spec();
  shallower.widths = {5, 7};
  Network<float> target1(shallower);
  try {
    load_parameters_into(target1, dir / "m.safetensors");
    ADD_FAILURE() << "no DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected tensor 'layers.1."), std::string::npos) << e.what();
  }
}

TEST(SafetensorsInitFrom, NonFiniteParameterNamesFileAndTensorAndLeavesNetworkUnchanged) {
  // --init-from a diverged run's weights would train from NaN.
  TempDir dir;
  const fs::path path = dir / "nan.safetensors";
  write_bytes(path, st_bytes(valid_header().dump(),
                             f32_bytes({1, 2, 3, 4, 5, std::numeric_limits<float>::quiet_NaN(), 7, 8})));
  NetworkSpec spec;
  spec.widths = {3, 2};
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
  NetworkSpec spec;
  spec.widths = {3, 2, 1};
  Network<double> net = random_net<double>(spec, 28);
  EXPECT_NO_THROW(require_finite_parameters(net, "m.safetensors"));
  net.layer(1).W(0, 1) = -std::numeric_limits<double>::infinity();
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

/// Saves `net`, runs scripts/check_safetensors.py on it with /usr/bin/python3
/// (Debian's python3-torch), and compares PyTorch's outputs with ours.
template <typename T>
void check_against_pytorch(const Network<T>& net, double tolerance) {
  const char* python = "/usr/bin/python3";
  // Fails, not skips: CI installs python3-torch and this check must run there.
  ASSERT_EQ(::access(python, X_OK), 0) << python << " not found: install python3 and python3-torch to run "
                                       << "the PyTorch compatibility check";
  const std::string script = std::string(SIBP_SOURCE_DIR) + "/scripts/check_safetensors.py";
  ASSERT_TRUE(fs::exists(script)) << script;

  TempDir dir;
  save_safetensors(net, dir / "model.safetensors");
  Rng rng(99);
  const Index m = 6;
  Mat<T> X(net.input_size(), m);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = static_cast<T>(2.0 * rng.normal());
  json samples = json::array();
  for (Index j = 0; j < m; ++j) {
    json s = json::array();
    // Written as doubles with 17 digits, so PyTorch sees exactly X.
    for (Index i = 0; i < X.rows(); ++i) s.push_back(static_cast<double>(X(i, j)));
    samples.push_back(s);
  }
  write_bytes(dir / "input.json", samples.dump());

  const ProcessResult r = run_command(std::string(python) + " '" + script + "' '" +
                                          (dir / "model.safetensors").string() + "' --input '" +
                                          (dir / "input.json").string() + "'",
                                      dir);
  ASSERT_NE(r.exit_code, 3) << "torch is not importable by " << python
                            << " (install python3-torch): " << r.err;
  ASSERT_EQ(r.exit_code, 0) << "check_safetensors.py failed:\n" << r.err;
  const json result = json::parse(r.out);
  EXPECT_EQ(result.at("dtype"), (std::is_same_v<T, float> ? "F32" : "F64"));
  EXPECT_EQ(result.at("layers"), net.spec().widths_string());

  Mat<T> ours, scratch;
  net.predict(X, ours, scratch);
  const json& theirs = result.at("outputs");
  ASSERT_EQ(theirs.size(), static_cast<std::size_t>(m));
  for (Index j = 0; j < m; ++j) {
    ASSERT_EQ(theirs[j].size(), static_cast<std::size_t>(ours.rows()));
    for (Index i = 0; i < ours.rows(); ++i)
      EXPECT_NEAR(theirs[j][i].get<double>(), static_cast<double>(ours(i, j)), tolerance)
          << "sample " << j << " output " << i;
  }
}

NetworkSpec torch_spec() {
  NetworkSpec spec;
  spec.widths = {13, 17, 11, 4};  // non-square, so a transposed W cannot load or would give other outputs
  spec.hidden = Activation::Tanh;
  spec.output = Activation::Identity;
  return spec;
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
  NetworkSpec spec = torch_spec();
  spec.hidden = Activation::ReLU;
  check_against_pytorch(random_net<double>(spec, 32), 1e-12);
}

}  // namespace
}  // namespace sibp
