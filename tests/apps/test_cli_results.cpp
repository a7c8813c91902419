// `sibp results pack|unpack|regenerate` end to end: a tiny comparison is
// trained, packed into a bundle, and its report, plots and a document's
// table are regenerated from the bundle alone; --check passes, then fails
// on a hand edit; a corrupt bundle is an error naming the file.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "experiment/generated_blocks.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
using namespace testing::names;

TEST(CliResults, PackRegenerateAndCheck) {
  TempDir dir;
  testing::write_blobs(dir / "train.csv", 90, 1);
  testing::write_blobs(dir / "test.csv", 30, 2);
  const json experiment = {
      {"name", "cli-results"},
      {"kind", "compare"},
      {"base",
       {{"data", "csv:" + (dir / "train.csv").string() + "," + (dir / "test.csv").string()},
        {"layers", "4-6-3"},
        {"epochs", 2},
        {"batch", 10},
        {"threads", 1}}},
      {"seeds", {1}},
      {"runs", {{{"label", "sgd"}, {"algo", "sgd"}, {"lr", 0.5}}, {{"label", "sibp"}, {"algo", "sibp"}}}}};
  testing::write_bytes(dir / "e.json", experiment.dump());
  auto r = run_sibp("compare " + q(dir / "e.json") + " --out " + q(dir / "out"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const fs::path root = dir / "repo";
  const fs::path bundle = root / "docs" / "data" / "results" / "tiny.json.gz";
  fs::create_directories(bundle.parent_path());
  r = run_sibp("results pack " + q(dir / "out") + " " + q(bundle));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("packed 2 of 2 planned runs"), std::string::npos) << r.out;
  EXPECT_LT(fs::file_size(bundle), 20000u);

  r = run_sibp("results regenerate --root " + q(root));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path report = root / "docs" / "results" / "tiny" / "report.md";
  const auto tables = markdown_tables(slurp(report));
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_NE(r.out.find("tables tiny/" + tables[0].id), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(root / "docs" / "results" / "tiny" / "summary.csv"));
  EXPECT_TRUE(fs::exists(root / "docs" / "results" / "tiny" / "plots" / "test_acc_vs_epoch.png"));
  EXPECT_TRUE(fs::exists(root / "docs" / "results" / "tiny" / "plots" / "test_acc_vs_epoch.svg"));
  // The report equals the one of the results folder, apart from the note saying where it came from.
  EXPECT_EQ(markdown_tables(slurp(dir / "out" / "report.md"))[0].text, tables[0].text);

  // A document showing the table: regenerate fills it in, and --check then passes.
  const fs::path doc = root / "README.md";
  testing::write_bytes(doc, "# R\n<!-- generated: tiny/" + tables[0].id + " | run | final test acc (%) -->\n"
                            "<!-- end generated -->\n");
  ASSERT_EQ(run_sibp("results regenerate --no-plots --root " + q(root)).exit_code, 0);
  EXPECT_NE(slurp(doc).find("| sgd | "), std::string::npos) << slurp(doc);
  r = run_sibp("results regenerate --check --root " + q(root));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 bundles, 1 generated blocks: all current"), std::string::npos) << r.out;

  std::string text = slurp(doc);
  text.replace(text.find("| sgd | "), 8, "| SGD | ");
  testing::write_bytes(doc, text);
  r = run_sibp("results regenerate --check --root " + q(root));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stale: README.md:2: generated block tiny/" + tables[0].id), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("committed '| SGD | "), std::string::npos) << r.err;
  EXPECT_EQ(slurp(doc), text);

  // Unpacked, the bundle is a results folder again.
  r = run_sibp("results unpack " + q(bundle) + " " + q(dir / "unpacked"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(dir / "unpacked" / "sibp" / "seed-1" / "metrics.csv"), slurp(dir / "out" / "sibp" / "seed-1" / "metrics.csv"));

  const std::string gz = slurp(bundle);
  testing::write_bytes(bundle, gz.substr(0, gz.size() - 20));
  r = run_sibp("results regenerate --check --root " + q(root));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bundle.string() + ": corrupt gzip data"), std::string::npos) << r.err;
}

TEST(CliResults, PackRefusesAFolderWithoutResults) {
  TempDir dir;
  const auto r = run_sibp("results pack " + q(dir.path()) + " " + q(dir / "b.json.gz"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("holds no experiment.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "b.json.gz"));
}

}  // namespace
}  // namespace sibp
