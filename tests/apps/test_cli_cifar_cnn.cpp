// End to end: the shipped experiments/paper-cifar10.json (a CNN comparison)
// runs through `sibp compare` on a tiny generated folder in CIFAR-10's binary
// format. Only the data, the schedule and the seeds are reduced, so that it
// takes seconds; the network and every run of the file are kept.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace sibp {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_sibp;
using testing::slurp;
using testing::TempDir;

/// n CIFAR-10 records (label byte, then 3×32×32 pixels as R, G, B planes):
/// record r has label (r + first) % 10 and pixels that depend on it, so the
/// classes differ and a run has something to fit.
std::string cifar_records(int n, int first) {
  std::string s;
  for (int r = 0; r < n; ++r) {
    const int label = (r + first) % 10;
    s.push_back(static_cast<char>(label));
    for (int k = 0; k < 3072; ++k) s.push_back(static_cast<char>((label * 25 + (k % 32) * 3 + r) % 256));
  }
  return s;
}

TEST(CliCifarCnn, ShippedExperimentRunsOnGeneratedCifarFolder) {
  const fs::path file = fs::path(SIBP_SOURCE_DIR) / "experiments" / "paper-cifar10.json";
  const json shipped = json::parse(slurp(file));
  ASSERT_TRUE(shipped.contains("base") && shipped["base"].contains("arch")) << file << " has no base.arch";
  const std::string arch = shipped["base"]["arch"].get<std::string>();
  EXPECT_NE(arch.find("conv("), std::string::npos) << "paper-cifar10.json is meant to compare CNNs: " << arch;

  TempDir dir;
  const fs::path cifar = dir / "cifar-10-batches-bin";
  fs::create_directories(cifar);
  for (int b = 1; b <= 5; ++b)
    testing::write_bytes(cifar / ("data_batch_" + std::to_string(b) + ".bin"), cifar_records(4, b));
  testing::write_bytes(cifar / "test_batch.bin", cifar_records(10, 0));

  // 20 training images, batches of 10, one epoch, one seed: two steps per run.
  json reduced = shipped;
  reduced["base"]["data"] = "cifar10:" + cifar.string();
  reduced["base"]["epochs"] = 1;
  reduced["base"]["batch"] = 10;
  reduced["base"]["threads"] = 1;
  reduced["seeds"] = {1};
  testing::write_bytes(dir / "cifar.json", reduced.dump(2));
  ASSERT_EQ(reduced["base"]["arch"], shipped["base"]["arch"]);
  ASSERT_EQ(reduced["runs"], shipped["runs"]);

  const auto r = run_sibp("compare '" + (dir / "cifar.json").string() + "' --out '" + (dir / "out").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::size_t runs = shipped["runs"].size();
  EXPECT_NE(r.out.find(std::to_string(runs) + " runs: " + std::to_string(runs) + " trained now (0 diverged)"),
            std::string::npos)
      << r.out;
  for (const json& run : shipped["runs"]) {
    const fs::path folder = dir / "out" / run["label"].get<std::string>() / "seed-1";
    SCOPED_TRACE(folder.string());
    const json config = json::parse(slurp(folder / "config.json"));
    EXPECT_EQ(config["arch"], arch);  // the file's CNN, as given
    EXPECT_EQ(config["algo"], run["algo"]);
    EXPECT_EQ(config["data_shape"]["input"], "3x32x32");
    const json result = json::parse(slurp(folder / "result.json"));
    EXPECT_EQ(result["status"], "completed") << result.dump();
  }
  EXPECT_TRUE(fs::exists(dir / "out" / "report.md"));
  EXPECT_TRUE(fs::exists(dir / "out" / "summary.csv"));
}

}  // namespace
}  // namespace sibp
