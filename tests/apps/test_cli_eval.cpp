// `sibp eval` on inputs it must refuse: an empty split, a model with a
// non-finite parameter, unreadable standardisation metadata (exit 1, the
// message naming the file and what is wrong).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

#include "io/safetensors.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

/// An idx:DIR folder of 2x2 images: `train` training samples, `test` test samples.
void write_idx_dir(const fs::path& dir, std::uint32_t train, std::uint32_t test) {
  fs::create_directories(dir);
  for (const auto& [prefix, n] : {std::pair{"train", train}, std::pair{"t10k", test}}) {
    testing::write_bytes(dir / (std::string(prefix) + "-images-idx3-ubyte"),
                         be32(0x803) + be32(n) + be32(2) + be32(2) + std::string(4 * n, '\x10'));
    testing::write_bytes(dir / (std::string(prefix) + "-labels-idx1-ubyte"), be32(0x801) + be32(n) + std::string(n, '\1'));
  }
}

/// A 4-3 model file; `poison` sets weight (1, 2) to it.
fs::path write_model(const fs::path& path, double poison = 0.5,
                     const std::map<std::string, std::string>& metadata = {}) {
  Network<float> net(testing::spec_of({4, 3}, Activation::ReLU, Loss::SoftmaxCrossEntropy));
  net.params(0).W.setConstant(0.1f);
  net.params(0).W(1, 2) = static_cast<float>(poison);
  save_safetensors(net, path, metadata);
  return path;
}

TEST(CliEval, AnEmptySplitIsExit1NamingItsFiles) {
  // It printed "loss 0, accuracy 0" and exited 0.
  TempDir dir;
  write_idx_dir(dir / "d", 3, 0);
  const auto r = run_sibp("eval --model " + q(write_model(dir / "m.safetensors")) + " --data " +
                          q("idx:" + (dir / "d").string() + ":test"));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("t10k-images-idx3-ubyte"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0 samples"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("accuracy"), std::string::npos) << r.out;
}

TEST(CliEval, ANonFiniteParameterIsExit1NamingTheTensor) {
  TempDir dir;
  write_idx_dir(dir / "d", 3, 2);
  const fs::path model = write_model(dir / "m.safetensors", std::numeric_limits<double>::quiet_NaN());
  const auto r = run_sibp("eval --model " + q(model) + " --data " + q("idx:" + (dir / "d").string()));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find(model.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'layers.0.weight' element [1, 2] is nan"), std::string::npos) << r.err;
  // The same data and a finite model evaluate.
  const auto ok = run_sibp("eval --model " + q(write_model(dir / "ok.safetensors")) + " --data " +
                           q("idx:" + (dir / "d").string()));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("(2 samples)"), std::string::npos) << ok.out;
}

TEST(CliEval, BadStandardisationMetadataNamesTheModelAndKey) {
  TempDir dir;
  write_idx_dir(dir / "d", 3, 2);
  const std::string data = " --data " + q("idx:" + (dir / "d").string());
  const fs::path overflow = write_model(dir / "o.safetensors", 0.5,
                                        {{"sibp.norm.mean", "[1e400, 0, 0, 0]"}, {"sibp.norm.inv_std", "[1, 1, 1, 1]"}});
  auto r = run_sibp("eval --model " + q(overflow) + data);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(overflow.string() + ": metadata sibp.norm.mean"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1e400"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;

  const fs::path deep = write_model(dir / "d.safetensors", 0.5,
                                    {{"sibp.norm.mean", std::string(100000, '[') + std::string(100000, ']')},
                                     {"sibp.norm.inv_std", "[1, 1, 1, 1]"}});
  r = run_sibp("eval --model " + q(deep) + data);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("nested too deeply"), std::string::npos) << r.err;

  const fs::path text = write_model(dir / "t.safetensors", 0.5,
                                    {{"sibp.norm.mean", "[0, \"x\", 0, 0]"}, {"sibp.norm.inv_std", "[1, 1, 1, 1]"}});
  r = run_sibp("eval --model " + q(text) + data);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("expected a list of finite numbers, found \"x\" at index 1"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sibp
