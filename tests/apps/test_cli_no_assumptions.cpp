// Issue 21: `sibp eval` and `--init-from` assume nothing a file does not say,
// and messages about a huge or binary `--arch` stay short and whole.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

/// A safetensors file of a 4 -> 5 -> 3 MLP without metadata (weights as a
/// PyTorch export writes them under sibp's names): nothing says its activations.
fs::path write_bare_weights(const fs::path& path) {
  const nlohmann::json header = {
      {"layers.0.weight", {{"dtype", "F32"}, {"shape", {5, 4}}, {"data_offsets", {0, 80}}}},
      {"layers.0.bias", {{"dtype", "F32"}, {"shape", {5}}, {"data_offsets", {80, 100}}}},
      {"layers.1.weight", {{"dtype", "F32"}, {"shape", {3, 5}}, {"data_offsets", {100, 160}}}},
      {"layers.1.bias", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {160, 172}}}}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<float> values(43);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  std::string bytes(8, '\0');
  const std::uint64_t n = text.size();
  std::memcpy(bytes.data(), &n, 8);  // little-endian host
  bytes += text;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  testing::write_bytes(path, bytes);
  return path;
}

class CliNoAssumptions : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = write_blob_split(dir_, 60, 30);
  }
  TempDir dir_;
  std::string data_;
};

TEST_F(CliNoAssumptions, EvalOfBareWeightsNeedsArch) {
  // It assumed ReLU hidden layers and printed metrics of that guess.
  const fs::path model = write_bare_weights(dir_ / "bare.safetensors");
  const auto r = run_sibp("eval --model " + q(model) + " --data " + q(data_ + ":test"));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(model.string() + "' records no architecture"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--arch"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("accuracy"), std::string::npos) << r.out;
  const auto ok = run_sibp("eval --model " + q(model) + " --data " + q(data_ + ":test") +
                           " --arch 'dense(5) sigmoid dense(3)'");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("accuracy"), std::string::npos) << ok.out;
}

TEST_F(CliNoAssumptions, InitFromRefusesAnotherActivationNamingBoth) {
  // The file's sigmoid was ignored: its weights went on under ReLU.
  const std::string common = "train --data " + q(data_) + " --layers 4-6-3 --epochs 1 --batch 20 --out ";
  ASSERT_EQ(run_sibp(common + q(dir_ / "a") + " --act sigmoid").exit_code, 0);
  const std::string from = " --init-from " + q(dir_ / "a" / "model.safetensors");
  const auto r = run_sibp(common + q(dir_ / "b") + " --act relu" + from);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  for (const std::string part : {"--init-from", "records the network 'dense(6) sigmoid dense(3)'",
                                 "this run's is 'dense(6) relu dense(3)'"})
    EXPECT_NE(r.err.find(part), std::string::npos) << part << " not in: " << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "b" / "model.safetensors"));
  const auto arch = run_sibp(common + q(dir_ / "c") + " --layers 4-6-6-3 --act sigmoid" + from);
  EXPECT_EQ(arch.exit_code, 2) << arch.err;
  EXPECT_NE(arch.err.find("this run's is 'dense(6) sigmoid dense(6) sigmoid dense(3)'"), std::string::npos)
      << arch.err;
  EXPECT_EQ(run_sibp(common + q(dir_ / "d") + " --act sigmoid" + from).exit_code, 0);  // the same: accepted
}

TEST_F(CliNoAssumptions, AHugeArchIsEchoedBoundedOnce) {
  // A 200 KB --arch (from a configuration file: the command line takes at most
  // 128 KB per argument) was echoed twice in a 400 KB message.
  const std::string arch = "dense(10) " + std::string(200000, 'q') + " dense(3)";
  testing::write_bytes(dir_ / "c.json", nlohmann::json{{"arch", arch}, {"data", data_}}.dump());
  const auto r = run_sibp("train --config " + q(dir_ / "c.json") + " --out " + q(dir_ / "o"));
  EXPECT_EQ(r.exit_code, 2) << r.err.substr(0, 400);
  EXPECT_LT(r.err.size(), 1000u) << r.err.substr(0, 400);
  EXPECT_NE(r.err.find("word 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bytes in all"), std::string::npos) << r.err;
}

TEST_F(CliNoAssumptions, ANulInArchIsEscapedNotEndingTheMessage) {
  // The message ended at the NUL: "error: arch: ... 'dense(3)" and nothing after it.
  testing::write_bytes(dir_ / "c.json", "{\"arch\": \"dense(3)\\u0000zz\", \"data\": " + nlohmann::json(data_).dump() + "}");
  const auto r = run_sibp("train --config " + q(dir_ / "c.json") + " --out " + q(dir_ / "o"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("dense(3)\\x00zz"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("expected the word to end with ')'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\0'), std::string::npos);
}

}  // namespace
}  // namespace sibp
