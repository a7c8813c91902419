// The typed network description (src/nn/architecture.hpp): the `--arch`
// parser and its canonical text, `--layers` widths, and NetworkSpec::build's
// shapes and errors (ALGORITHMS.md §1, §5).
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/shape.hpp"
#include "nn/architecture.hpp"
#include "expect_error.hpp"

namespace sibp {
namespace {

using testing::error_message;

/// Expects Architecture::parse(text) to throw a UsageError whose message contains
/// every one of `parts` (the option, the position, the word, what is wrong).
void expect_parse_error(const std::string& text, const std::vector<std::string>& parts) {
  const std::string msg = error_message<UsageError>([&] { (void)Architecture::parse(text); });
  ASSERT_FALSE(msg.empty()) << "'" << text << "' was accepted";
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

Shape shape(Index c, Index h, Index w) { return Shape{c, h, w}; }

// ---------------------------------------------------------------- parser ----

TEST(ArchitectureParse, LayersArgumentsAndActivations) {
  const Architecture a =
      Architecture::parse("conv(32,5,pad=2) relu maxpool(2) conv(8,3,stride=2) avgpool(3,stride=1) flatten "
                          "dense(100) tanh dense(10)");
  ASSERT_EQ(a.layers.size(), 7u);
  const LayerSpec& c = a.layers[0];
  EXPECT_EQ(c.kind, LayerKind::Conv2d);
  EXPECT_EQ(c.units, 32);
  EXPECT_EQ(c.kernel, 5);
  EXPECT_EQ(c.stride, 1);  // conv: 1 unless given
  EXPECT_EQ(c.pad, 2);
  EXPECT_EQ(c.act, Activation::ReLU);
  EXPECT_EQ(a.layers[1].kind, LayerKind::MaxPool2d);
  EXPECT_EQ(a.layers[1].kernel, 2);
  EXPECT_EQ(a.layers[1].stride, 2);  // pooling: the kernel unless given
  EXPECT_EQ(a.layers[2].stride, 2);
  EXPECT_EQ(a.layers[2].act, Activation::Identity);  // identity when none is given
  EXPECT_EQ(a.layers[3].kind, LayerKind::AvgPool2d);
  EXPECT_EQ(a.layers[3].kernel, 3);
  EXPECT_EQ(a.layers[3].stride, 1);
  EXPECT_EQ(a.layers[4].kind, LayerKind::Flatten);
  EXPECT_EQ(a.layers[5].kind, LayerKind::Dense);
  EXPECT_EQ(a.layers[5].units, 100);
  EXPECT_EQ(a.layers[5].act, Activation::Tanh);
  EXPECT_EQ(a.layers[6].act, Activation::Identity);
  EXPECT_TRUE(a.layers[0].has_parameters());
  EXPECT_FALSE(a.layers[1].has_parameters());
  EXPECT_FALSE(a.layers[4].has_parameters());
  EXPECT_TRUE(a.layers[5].has_parameters());
}

TEST(ArchitectureParse, EveryActivationName) {
  const std::vector<std::pair<std::string, Activation>> names = {
      {"relu", Activation::ReLU},         {"tanh", Activation::Tanh},
      {"sigmoid", Activation::Sigmoid},   {"leaky_relu", Activation::LeakyReLU},
      {"leaky-relu", Activation::LeakyReLU}, {"identity", Activation::Identity}};
  for (const auto& [name, act] : names) {
    EXPECT_EQ(Architecture::parse("dense(3) " + name).layers.at(0).act, act) << name;
    EXPECT_EQ(Architecture::parse("conv(3,1) " + name).layers.at(0).act, act) << name;
  }
}

TEST(ArchitectureParse, CanonicalTextRoundTrips) {
  // (given, canonical): spaces inside parentheses and around '=' go, default
  // strides and zero padding are left out, identity is implicit, leaky-relu is
  // written leaky_relu, and a pooling stride is written only when it differs from the kernel.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"conv(32,5,pad=2) relu maxpool(2) dense(10)", "conv(32,5,pad=2) relu maxpool(2) dense(10)"},
      {"  conv( 32 , 5 , pad = 2 )   relu  maxpool(2, stride=2)\tdense(10) identity ",
       "conv(32,5,pad=2) relu maxpool(2) dense(10)"},
      {"conv(8,3,stride=1,pad=0) leaky-relu", "conv(8,3) leaky_relu"},
      {"conv(8,3,pad=1,stride=2)", "conv(8,3,stride=2,pad=1)"},
      {"avgpool(3,stride=2) flatten dense(4) sigmoid dense(2)",
       "avgpool(3,stride=2) flatten dense(4) sigmoid dense(2)"},
      {"maxpool(2,stride=1) conv(1,1) tanh", "maxpool(2,stride=1) conv(1,1) tanh"},
      {"dense(1048576)", "dense(1048576)"},
  };
  for (const auto& [given, canonical] : cases) {
    SCOPED_TRACE(given);
    const Architecture a = Architecture::parse(given);
    EXPECT_EQ(a.to_string(), canonical);
    EXPECT_EQ(Architecture::parse(a.to_string()), a);
    EXPECT_EQ(Architecture::parse(canonical), a);
  }
}

TEST(ArchitectureParse, LayerSpecTextLeavesOutTheActivation) {
  const Architecture a = Architecture::parse("conv(4,3,stride=2,pad=1) tanh avgpool(2) dense(3) relu");
  EXPECT_EQ(a.layers[0].to_string(), "conv(4,3,stride=2,pad=1)");
  EXPECT_EQ(a.layers[1].to_string(), "avgpool(2)");
  EXPECT_EQ(a.layers[2].to_string(), "dense(3)");
}

TEST(ArchitectureParse, FromWidthsIsTheDenseShorthand) {
  const Architecture a = Architecture::from_widths({784, 500, 10}, Activation::ReLU);
  EXPECT_EQ(a.to_string(), "dense(500) relu dense(10)");
  EXPECT_EQ(a, Architecture::parse("dense(500) relu dense(10)"));
  EXPECT_EQ(Architecture::from_widths({4, 3}, Activation::Tanh, Activation::Sigmoid).to_string(), "dense(3) sigmoid");
  EXPECT_FALSE(error_message<UsageError>([] { (void)Architecture::from_widths({784}, Activation::ReLU); }).empty());
  EXPECT_FALSE(
      error_message<UsageError>([] { (void)Architecture::from_widths({784, 0, 10}, Activation::ReLU); }).empty());
}

TEST(ArchitectureParseErrors, UnknownWord) {
  expect_parse_error("conv(8,3) relu pool(2) dense(10)", {"--arch", "word 3", "'pool(2)'", "unknown layer"});
  expect_parse_error("conv2d(8,3)", {"word 1", "'conv2d(8,3)'", "unknown layer"});
  expect_parse_error("dense(10) softmax", {"word 2", "'softmax'", "unknown layer"});
  expect_parse_error("Dense(10)", {"word 1", "'Dense(10)'"});
  // The option name is the caller's.
  const std::string msg = error_message<UsageError>([] { (void)Architecture::parse("bogus", "--model"); });
  EXPECT_NE(msg.find("--model"), std::string::npos) << msg;
}

TEST(ArchitectureParseErrors, BadZeroAndOutOfRangeNumbers) {
  expect_parse_error("conv(x,3)", {"word 1", "'conv(x,3)'", "channel count", "'x'"});
  expect_parse_error("conv(8,3) relu conv(0,3)", {"word 3", "'conv(0,3)'", "channel count", "from 1"});
  expect_parse_error("conv(8,0)", {"word 1", "kernel", "'0'"});
  expect_parse_error("conv(8,3,stride=0)", {"word 1", "stride", "'0'"});
  expect_parse_error("conv(8,3,pad=-1)", {"word 1", "pad", "'-1'"});
  expect_parse_error("conv(8,3,pad=1025)", {"word 1", "pad", "1024", "'1025'"});
  expect_parse_error("conv(8,1025)", {"word 1", "kernel", "1024"});
  expect_parse_error("conv(2000000,3)", {"word 1", "channel count", "1048576"});
  expect_parse_error("maxpool(0)", {"word 1", "'maxpool(0)'", "kernel"});
  expect_parse_error("avgpool(2,stride=1.5)", {"word 1", "stride", "'1.5'"});
  expect_parse_error("dense(0)", {"word 1", "'dense(0)'", "width"});
  expect_parse_error("dense(-5)", {"word 1", "width", "'-5'"});
  expect_parse_error("dense(+5)", {"word 1", "width", "'+5'"});
  expect_parse_error("dense(1048577)", {"word 1", "width", "1048576"});
  expect_parse_error("dense(99999999999999999999999)", {"word 1", "width"});
  expect_parse_error("dense(1e3)", {"word 1", "width", "'1e3'"});
  expect_parse_error("dense()", {"word 1", "'dense()'"});
}

TEST(ArchitectureParseErrors, WrongArgumentLists) {
  expect_parse_error("conv(8)", {"word 1", "'conv(8)'", "conv(C,K[,stride=S][,pad=P])"});
  expect_parse_error("conv", {"word 1", "'conv'", "conv(C,K"});
  expect_parse_error("dense(10,3)", {"word 1", "dense(N)"});
  expect_parse_error("dense", {"word 1", "dense(N)"});
  expect_parse_error("flatten(2)", {"word 1", "flatten takes no arguments"});
  expect_parse_error("maxpool(2,pad=1)", {"word 1", "unexpected argument 'pad=1'"});
  expect_parse_error("conv(8,3,stride=2,stride=2)", {"word 1", "unexpected argument 'stride=2'"});
  expect_parse_error("conv(8,3,2)", {"word 1", "unexpected argument '2'"});
  expect_parse_error("conv(8,3,dilation=2)", {"word 1", "unexpected argument 'dilation=2'"});
  expect_parse_error("dense(10)relu", {"word 1", "'dense(10)relu'", "end with ')'"});
}

TEST(ArchitectureParseErrors, ActivationNotAfterADenseOrConvLayer) {
  expect_parse_error("relu dense(10)", {"word 1", "'relu'", "must follow a dense or conv layer"});
  expect_parse_error("conv(8,3) maxpool(2) relu dense(10)", {"word 3", "'relu'", "not maxpool(2)"});
  expect_parse_error("conv(8,3) flatten tanh dense(10)", {"word 3", "'tanh'", "not flatten"});
  expect_parse_error("avgpool(2,stride=1) sigmoid", {"word 2", "not avgpool(2,stride=1)"});
}

TEST(ArchitectureParseErrors, TwoActivationsInARow) {
  expect_parse_error("dense(10) relu relu", {"word 3", "'relu'", "only one per layer"});
  expect_parse_error("conv(8,3) tanh identity dense(2)", {"word 3", "'identity'", "only one per layer"});
}

TEST(ArchitectureParseErrors, UnbalancedParentheses) {
  expect_parse_error("conv(8,3 relu dense(10)", {"word 1", "'(' without ')'"});
  expect_parse_error("conv(8,3) relu dense(10", {"word 3", "'dense(10'", "'(' without ')'"});
  expect_parse_error("dense(10))", {"word 1", "')' without '('"});
  expect_parse_error("conv(8,3) )relu", {"word 2", "')' without '('"});
}

TEST(ArchitectureParseErrors, EmptyText) {
  for (const std::string text : {"", "   ", "\t\n"}) {
    const std::string msg = error_message<UsageError>([&] { (void)Architecture::parse(text); });
    ASSERT_FALSE(msg.empty()) << "'" << text << "' was accepted";
    EXPECT_NE(msg.find("--arch"), std::string::npos) << msg;
    EXPECT_NE(msg.find("got '" + text + "'"), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------- widths ----

TEST(ParseWidths, AcceptsPositiveIntegersJoinedByDashes) {
  EXPECT_EQ(parse_widths("784-500-10"), (std::vector<Index>{784, 500, 10}));
  EXPECT_EQ(parse_widths("3-1"), (std::vector<Index>{3, 1}));
  EXPECT_EQ(parse_widths("1048576-1"), (std::vector<Index>{1048576, 1}));
}

TEST(ParseWidths, RejectsMalformedTextNamingTheOption) {
  for (const std::string bad : {"784-16-10-", "-784", "784--10", "784", "", "784-x-10", "784-16.5-10", "784- 16",
                                "+784-10", "784-0-10", "784-1048577", "784-99999999999999999999", "784_10",
                                "784-10 "}) {
    const std::string msg = error_message<UsageError>([&] { (void)parse_widths(bad, "--layers"); });
    EXPECT_FALSE(msg.empty()) << "'" << bad << "' was accepted";
    EXPECT_NE(msg.find("--layers"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'" + bad + "'"), std::string::npos) << msg;
  }
}

// ------------------------------------------------------------------ build ----

TEST(NetworkSpecBuild, ReferenceCnnOnMnist) {
  const NetworkSpec s = NetworkSpec::build(
      Architecture::parse(
          "conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) dense(128) relu dense(10)"),
      shape(1, 28, 28), Loss::SoftmaxCrossEntropy, 10);
  // The flatten before dense(128) is implied and made explicit.
  EXPECT_EQ(s.arch_string(),
            "conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) flatten dense(128) relu dense(10)");
  ASSERT_EQ(s.layers.size(), 7u);
  EXPECT_EQ(s.layers[4].kind, LayerKind::Flatten);
  const std::vector<Shape> expected = {shape(1, 28, 28), shape(16, 28, 28), shape(16, 14, 14), shape(32, 14, 14),
                                       shape(32, 7, 7),  shape(1568, 1, 1),  shape(128, 1, 1),  shape(10, 1, 1)};
  EXPECT_EQ(s.shapes, expected);
  EXPECT_EQ(s.input, shape(1, 28, 28));
  EXPECT_EQ(s.input_size(), 784);
  EXPECT_EQ(s.output_size(), 10);
  EXPECT_EQ(s.num_param_layers(), 4u);
  EXPECT_EQ(s.weight_shape(0), (std::pair<Index, Index>{16, 25}));
  EXPECT_EQ(s.weight_shape(2), (std::pair<Index, Index>{32, 400}));
  EXPECT_EQ(s.weight_shape(5), (std::pair<Index, Index>{128, 1568}));
  EXPECT_EQ(s.weight_shape(6), (std::pair<Index, Index>{10, 128}));
  EXPECT_THROW((void)s.weight_shape(1), std::invalid_argument);
  EXPECT_EQ(s.num_parameters(), (16 * 25 + 16) + (32 * 400 + 32) + (128 * 1568 + 128) + (10 * 128 + 10));
  // The spec re-parses to itself: a model file's sibp.arch rebuilds the same network.
  const NetworkSpec again = NetworkSpec::build(Architecture::parse(s.arch_string()), s.input, s.loss, 10);
  EXPECT_EQ(again.layers, s.layers);
  EXPECT_EQ(again.shapes, s.shapes);
}

TEST(NetworkSpecBuild, CifarLikeNetWithStrideAndNoPadding) {
  // 32 → conv 5: 28 → maxpool 2: 14 → conv 3 stride 2: ⌊(14−3)/2⌋+1 = 6 → avgpool 3 stride 2: ⌊(6−3)/2⌋+1 = 2;
  // conv 4 stride 3 on 32: ⌊28/3⌋+1 = 10 (PyTorch's floor when the stride does not divide).
  const NetworkSpec s = NetworkSpec::build(
      Architecture::parse("conv(16,5) relu maxpool(2) conv(32,3,stride=2) tanh avgpool(3,stride=2) dense(64) relu "
                          "dense(10)"),
      shape(3, 32, 32), Loss::SoftmaxCrossEntropy, 10);
  const std::vector<Shape> expected = {shape(3, 32, 32), shape(16, 28, 28), shape(16, 14, 14), shape(32, 6, 6),
                                       shape(32, 2, 2),  shape(128, 1, 1),  shape(64, 1, 1),   shape(10, 1, 1)};
  EXPECT_EQ(s.shapes, expected);
  EXPECT_EQ(s.weight_shape(0), (std::pair<Index, Index>{16, 75}));
  EXPECT_EQ(s.weight_shape(2), (std::pair<Index, Index>{32, 144}));
  const NetworkSpec t =
      NetworkSpec::build(Architecture::parse("conv(8,4,stride=3) flatten dense(10)"), shape(3, 32, 32),
                         Loss::SoftmaxCrossEntropy);
  EXPECT_EQ(t.shapes[1], shape(8, 10, 10));
  EXPECT_EQ(t.shapes[2], shape(800, 1, 1));
}

TEST(NetworkSpecBuild, ImpliedFlattenOnlyWhereNeeded) {
  // After a convolution or pooling: implied.
  EXPECT_EQ(NetworkSpec::build(Architecture::parse("conv(4,3) relu dense(2)"), shape(1, 5, 5),
                               Loss::SoftmaxCrossEntropy)
                .arch_string(),
            "conv(4,3) relu flatten dense(2)");
  EXPECT_EQ(NetworkSpec::build(Architecture::parse("avgpool(2) dense(2)"), shape(2, 4, 4), Loss::SoftmaxCrossEntropy)
                .arch_string(),
            "avgpool(2) flatten dense(2)");
  // An explicit flatten is not doubled.
  EXPECT_EQ(NetworkSpec::build(Architecture::parse("conv(4,3) flatten dense(2)"), shape(1, 5, 5),
                               Loss::SoftmaxCrossEntropy)
                .layers.size(),
            3u);
  // A dense layer reading the data directly reads vectors: nothing implied.
  const NetworkSpec d =
      NetworkSpec::build(Architecture::parse("dense(6) relu dense(3)"), shape(2, 3, 3), Loss::SoftmaxCrossEntropy);
  EXPECT_EQ(d.arch_string(), "dense(6) relu dense(3)");
  EXPECT_EQ(d.weight_shape(0), (std::pair<Index, Index>{6, 18}));
  // A 1x1 image is already a vector.
  const NetworkSpec v =
      NetworkSpec::build(Architecture::parse("conv(4,3) relu dense(2)"), shape(1, 3, 3), Loss::SoftmaxCrossEntropy);
  EXPECT_EQ(v.shapes[1], shape(4, 1, 1));
  EXPECT_EQ(v.weight_shape(v.layers.size() - 1), (std::pair<Index, Index>{2, 4}));
}

TEST(NetworkSpecBuild, MlpIsTheDenseShorthand) {
  const NetworkSpec s = NetworkSpec::mlp({784, 500, 10}, Activation::Tanh, Loss::SquaredError, Activation::Sigmoid);
  EXPECT_EQ(s.arch_string(), "dense(500) tanh dense(10) sigmoid");
  EXPECT_EQ(s.input, shape(784, 1, 1));
  EXPECT_EQ(s.loss, Loss::SquaredError);
  EXPECT_EQ(s.shapes, (std::vector<Shape>{shape(784, 1, 1), shape(500, 1, 1), shape(10, 1, 1)}));
  EXPECT_EQ(s.num_parameters(), 784 * 500 + 500 + 500 * 10 + 10);
}

/// Expects NetworkSpec::build to throw a UsageError containing every one of `parts`.
void expect_build_error(const std::string& arch, Shape in, std::optional<Index> classes,
                        const std::vector<std::string>& parts) {
  const std::string msg = error_message<UsageError>(
      [&] { (void)NetworkSpec::build(Architecture::parse(arch), in, Loss::SoftmaxCrossEntropy, classes); });
  ASSERT_FALSE(msg.empty()) << "'" << arch << "' on " << in.to_string() << " was accepted";
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

TEST(NetworkSpecBuildErrors, KernelLargerThanItsPaddedInputNamesLayerAndShapes) {
  expect_build_error("conv(4,7) dense(2)", shape(1, 5, 5), {}, {"layer 1", "'conv(4,7)'", "kernel 7", "1x5x5"});
  expect_build_error("conv(4,9,pad=1) dense(2)", shape(1, 5, 5), {}, {"layer 1", "kernel 9", "1x5x5", "padded to 7x7"});
  expect_build_error("conv(4,3) relu maxpool(4) dense(2)", shape(1, 5, 5), {},
                     {"layer 2", "'maxpool(4)'", "kernel 4", "4x3x3"});
  // Only one dimension too small.
  expect_build_error("conv(2,3) dense(2)", shape(1, 2, 8), {}, {"layer 1", "kernel 3", "1x2x8"});
  // Every window fits exactly: allowed (a 1x1 output).
  EXPECT_NO_THROW(NetworkSpec::build(Architecture::parse("conv(2,5) dense(2)"), shape(1, 5, 5), Loss::SquaredError));
}

TEST(NetworkSpecBuildErrors, OutputMustBeAVectorOfTheClasses) {
  // The last layer is named as the kernel errors name theirs (position and text).
  expect_build_error("conv(4,3) relu maxpool(2)", shape(1, 6, 6), {},
                     {"output is 4x2x2", "vector", "dense(N)", "layer 2 'maxpool(2)'"});
  expect_build_error("dense(7)", shape(5, 1, 1), 10, {"outputs 7 values", "10 classes", "layer 1 'dense(7)'"});
  expect_build_error("conv(4,3) flatten dense(3)", shape(2, 4, 4), 2, {"outputs 3", "2 classes", "layer 3 'dense(3)'"});
  EXPECT_NO_THROW(NetworkSpec::build(Architecture::parse("dense(10)"), shape(5, 1, 1), Loss::SoftmaxCrossEntropy, 10));
}

TEST(NetworkSpecBuildErrors, NoParametrisedLayer) {
  expect_build_error("maxpool(2) flatten", shape(1, 4, 4), {}, {"no layer with parameters"});
  expect_build_error("flatten", shape(3, 1, 1), {}, {"no layer with parameters"});
  const std::string msg = error_message<UsageError>(
      [] { (void)NetworkSpec::build(Architecture{}, shape(1, 4, 4), Loss::SoftmaxCrossEntropy); });
  EXPECT_NE(msg.find("no layers"), std::string::npos) << msg;
}

// Found writing fuzz/fuzz_arch.cpp: a padded convolution with many channels gave a
// per-sample output of 10^12 values, accepted, and a few more layers made the
// shapes' sizes wrap around 64 bits. Refused as Shape::parse refuses an input.
TEST(NetworkSpecBuildErrors, LayerOutputAboveTheSampleLimitNamesLayerAndLimit) {
  expect_build_error("conv(1048576,1024,pad=1024) dense(10)", shape(1, 28, 28), {},
                     {"layer 1", "'conv(1048576,1024,pad=1024)'", "1048576x1053x1053", "2147483647 values per sample"});
  expect_build_error("dense(10)", shape(65536, 65536, 2), {}, {"input shape", "2147483647 values per sample"});
  // Just inside the limit: accepted.
  EXPECT_NO_THROW(NetworkSpec::build(Architecture::parse("conv(2000,1024,pad=1024) dense(2)"), shape(1, 1, 1),
                                     Loss::SquaredError));
}

// Found writing fuzz/fuzz_arch.cpp (corpus/arch/regress-*-overflow; UBSan reports the overflow): the size estimates the memory check uses wrapped
// around (to a small or negative count, so a network of 2^63 weights passed the
// check) instead of staying huge.
TEST(NetworkSpecBuild, SizeEstimatesSaturateInsteadOfWrapping) {
  constexpr Index kMax = std::numeric_limits<Index>::max();
  // Eight convolutions of 2^20 channels with 2^20 input channels and 1024x1024
  // kernels: 2^60 weights each.
  std::string weights = "conv(1048576,1)";
  for (int i = 0; i < 8; ++i) weights += " conv(1048576,1024,stride=1024,pad=1024)";
  const NetworkSpec big = NetworkSpec::build(Architecture::parse(weights + " dense(2)"), shape(1, 1, 1),
                                             Loss::SquaredError);
  EXPECT_EQ(big.num_parameters(), kMax);
  // Five patch matrices of 2^40 rows (2^20 channels x 1024^2) by 1026^2 pixels.
  std::string patches;
  for (int i = 0; i < 5; ++i) patches += "conv(1048576,1) conv(1,1024,pad=1024) maxpool(1024) ";
  const NetworkSpec wide = NetworkSpec::build(Architecture::parse(patches + "dense(2)"), shape(1, 1, 1),
                                              Loss::SquaredError);
  EXPECT_EQ(wide.activation_floats_per_sample(), kMax);
  EXPECT_LT(wide.num_parameters(), kMax);
  // Ordinary networks are counted exactly: 784*500+500 + 500*10+10.
  EXPECT_EQ(NetworkSpec::mlp({784, 500, 10}).num_parameters(), 397510);
}

TEST(NetworkSpecBuildErrors, MlpShorthandRejectsTooFewWidths) {
  EXPECT_FALSE(error_message<UsageError>([] { (void)NetworkSpec::mlp({}); }).empty());
  EXPECT_FALSE(error_message<UsageError>([] { (void)NetworkSpec::mlp({784}); }).empty());
}

}  // namespace
}  // namespace sibp
