// Results bundles and generated document tables: pack a results folder,
// read it back, regenerate the report and the documents' tables from it,
// and the check that fails when a committed table differs. The results
// folder is written by hand (no training), so these run in milliseconds.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "experiment/generated_blocks.hpp"
#include "experiment/results_bundle.hpp"
#include "experiment/results_docs.hpp"
#include "io/metrics_file.hpp"
#include "test_support.hpp"

namespace sibp {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::slurp;
using testing::TempDir;
using testing::write_bytes;

/// A finished two-label, two-seed comparison, as `sibp compare` leaves it
/// (without models): metrics that differ per run, so every table cell depends
/// on the data.
void write_results_folder(const fs::path& dir) {
  const json experiment = {{"name", "tiny"},
                           {"kind", "compare"},
                           {"base", {{"data", "csv:train.csv,test.csv"}, {"layers", "4-8-3"}, {"epochs", 2}}},
                           {"seeds", {1, 2}},
                           {"target_accuracy", 0.8},
                           {"runs",
                            {{{"label", "sgd"}, {"algo", "sgd"}, {"lr", 0.5}},
                             {{"label", "adam"}, {"algo", "adam"}, {"lr", 0.01}}}}};
  fs::create_directories(dir);
  write_bytes(dir / "experiment.json", experiment.dump(2));
  int k = 0;
  for (const std::string label : {"sgd", "adam"})
    for (int seed : {1, 2}) {
      const fs::path run = dir / label / ("seed-" + std::to_string(seed));
      fs::create_directories(run);
      ++k;
      std::vector<MetricsRow> rows;
      for (int e = 1; e <= 2; ++e) {
        MetricsRow r;
        r.epoch = e;
        r.iteration = 10 * e;
        r.seconds = 0.25 * e + 0.01 * k;
        r.train_loss = 1.0 / (e + k);
        r.train_acc = 0.7 + 0.05 * e + 0.01 * k;
        r.test_acc = 0.68 + 0.05 * e + 0.01 * k;
        rows.push_back(r);
      }
      write_metrics(run, rows);
      write_bytes(run / "config.json", json({{"algo", label}, {"seed", seed}}).dump());
      write_bytes(run / "result.json",
                  json({{"status", "completed"}, {"message", ""}, {"seconds_per_epoch", 0.25 + 0.01 * k}}).dump());
      write_bytes(run / "model.safetensors", "not packed");
    }
}

class ResultsBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_results_folder(tmp_ / "results");
    fs::create_directories(root() / kBundleFolder);
    write_bundle(bundle(), pack_results(tmp_ / "results", "experiments/tiny.json"));
  }
  fs::path root() const { return tmp_ / "repo"; }
  fs::path bundle() const { return root() / kBundleFolder / "tiny.json.gz"; }
  fs::path doc() const { return root() / "docs" / "results.md"; }

  RegenerateResult regenerate(bool check) {
    RegenerateOptions o;
    o.root = root();
    o.check = check;
    o.plots = false;  // the CLI test draws them; here only the tables matter
    return regenerate_results(o);
  }
  /// The id of the regenerated report's comparison table.
  std::string comparison_id() {
    const auto tables = markdown_tables(slurp(root() / kBundleReportFolder / "tiny" / "report.md"));
    EXPECT_EQ(tables.size(), 1u);
    return tables.empty() ? "" : tables[0].id;
  }
  /// A document showing the comparison table (all or some columns).
  void write_doc(const std::string& marker_tail = "") {
    regenerate(false);
    write_bytes(doc(), "# Results\n\nIntro.\n\n<!-- generated: tiny/" + comparison_id() + marker_tail +
                           " -->\nhand-typed, to be replaced\n<!-- end generated -->\n\nAfter.\n");
  }

  TempDir tmp_;
};

TEST_F(ResultsBundleTest, PackKeepsOptionsResultsAndMetricsButNoModels) {
  const ResultsBundle b = read_bundle(bundle());
  EXPECT_EQ(b.source, "experiments/tiny.json");
  EXPECT_EQ(b.planned, 4);
  ASSERT_EQ(b.runs.size(), 4u);
  EXPECT_EQ(b.runs[0].dir, "sgd/seed-1");
  EXPECT_EQ(b.runs[3].dir, "adam/seed-2");
  EXPECT_EQ(b.runs[1].metrics_csv, slurp(tmp_ / "results" / "sgd" / "seed-2" / "metrics.csv"));
  EXPECT_EQ(b.runs[2].config, json::parse(slurp(tmp_ / "results" / "adam" / "seed-1" / "config.json")));
  EXPECT_EQ(slurp(bundle()).find("not packed"), std::string::npos);

  // Same results, same bytes: re-packing leaves a committed bundle unchanged.
  write_bundle(tmp_ / "again.json.gz", pack_results(tmp_ / "results", "experiments/tiny.json"));
  EXPECT_EQ(slurp(bundle()), slurp(tmp_ / "again.json.gz"));
}

TEST_F(ResultsBundleTest, UnpackGivesTheFolderBack) {
  unpack_bundle(read_bundle(bundle()), tmp_ / "unpacked");
  for (const char* f : {"sgd/seed-1/metrics.csv", "adam/seed-2/metrics.csv"})
    EXPECT_EQ(slurp(tmp_ / "unpacked" / f), slurp(tmp_ / "results" / f)) << f;
  EXPECT_EQ(json::parse(slurp(tmp_ / "unpacked" / "experiment.json")),
            json::parse(slurp(tmp_ / "results" / "experiment.json")));
  EXPECT_FALSE(fs::exists(tmp_ / "unpacked" / "sgd" / "seed-1" / "model.safetensors"));
}

TEST_F(ResultsBundleTest, UnfinishedRunsAreLeftOut) {
  fs::remove(tmp_ / "results" / "adam" / "seed-2" / "result.json");
  const ResultsBundle b = pack_results(tmp_ / "results", "x");
  EXPECT_EQ(b.runs.size(), 3u);
  EXPECT_EQ(b.planned, 4);
}

TEST_F(ResultsBundleTest, RegenerateWritesTheReportAndSplicesTheDocument) {
  write_doc();
  const RegenerateResult r = regenerate(false);
  EXPECT_EQ(r.bundles, 1);
  EXPECT_EQ(r.blocks, 1);
  const std::string report = slurp(root() / kBundleReportFolder / "tiny" / "report.md");
  EXPECT_NE(report.find("experiments/tiny.json"), std::string::npos);
  EXPECT_NE(report.find("docs/data/results/tiny.json.gz"), std::string::npos);
  EXPECT_TRUE(fs::exists(root() / kBundleReportFolder / "tiny" / "summary.csv"));

  // The document now shows exactly the report's table, and keeps its own text.
  const std::string table = markdown_tables(report)[0].text;
  const std::string text = slurp(doc());
  EXPECT_NE(text.find("Intro.\n\n<!-- generated: tiny/" + comparison_id() + " -->\n" + table +
                      "<!-- end generated -->\n\nAfter.\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("hand-typed"), std::string::npos);
  EXPECT_NE(table.find("| sgd |"), std::string::npos);

  EXPECT_TRUE(regenerate(true).stale.empty());
  regenerate(false);
  EXPECT_EQ(slurp(doc()), text);  // regenerating again changes nothing
}

TEST_F(ResultsBundleTest, ABlockCanShowSomeColumns) {
  write_doc(" | run | final test acc (%)");
  regenerate(false);
  const std::string text = slurp(doc());
  EXPECT_NE(text.find("| run | final test acc (%) |\n| --- | --- |\n| sgd | "), std::string::npos) << text;
  EXPECT_EQ(text.find("s/epoch"), std::string::npos);
  EXPECT_TRUE(regenerate(true).stale.empty());
}

TEST_F(ResultsBundleTest, CheckNamesTheDocumentBlockAndFirstDifferingLine) {
  write_doc();
  regenerate(false);
  std::string text = slurp(doc());
  const std::size_t row = text.find("| adam |");
  ASSERT_NE(row, std::string::npos);
  text.replace(row, 8, "| Adam |");  // a hand edit
  write_bytes(doc(), text);

  const RegenerateResult r = regenerate(true);
  ASSERT_EQ(r.stale.size(), 1u);
  const std::string& m = r.stale[0];
  EXPECT_NE(m.find("docs/results.md:5: generated block tiny/" + comparison_id()), std::string::npos) << m;
  EXPECT_NE(m.find("at line 4: committed '| Adam |"), std::string::npos) << m;
  EXPECT_NE(m.find("regenerated '| adam |"), std::string::npos) << m;
  EXPECT_EQ(slurp(doc()), text);  // the check writes nothing
}

TEST_F(ResultsBundleTest, CheckFailsWhenTheDataChanged) {
  write_doc();
  regenerate(false);
  // New results packed but the docs not regenerated: every committed table is stale.
  fs::remove(tmp_ / "results" / "adam" / "seed-2" / "result.json");
  write_bundle(bundle(), pack_results(tmp_ / "results", "experiments/tiny.json"));
  const RegenerateResult r = regenerate(true);
  ASSERT_EQ(r.stale.size(), 3u);  // summary.csv, report.md's table, the document's block
  EXPECT_NE(r.stale[0].find("docs/results/tiny/summary.csv differs"), std::string::npos) << r.stale[0];
  EXPECT_NE(r.stale[1].find("docs/results/tiny/report.md table"), std::string::npos) << r.stale[1];
  EXPECT_NE(r.stale[2].find("docs/results.md:5"), std::string::npos) << r.stale[2];
}

TEST_F(ResultsBundleTest, CheckFailsWhenTheReportIsMissing) {
  const RegenerateResult r = regenerate(true);
  ASSERT_EQ(r.stale.size(), 2u);
  EXPECT_NE(r.stale[0].find("docs/results/tiny/summary.csv is missing"), std::string::npos) << r.stale[0];
}

TEST_F(ResultsBundleTest, BadBlocksAreErrorsNamingTheDocumentLine) {
  regenerate(false);
  const auto fails = [&](const std::string& doc_text, const std::string& expected) {
    write_bytes(doc(), doc_text);
    try {
      regenerate(true);
      ADD_FAILURE() << "no error for " << doc_text;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  };
  const std::string id = comparison_id();
  fails("x\n<!-- generated: nope/" + id + " -->\n<!-- end generated -->\n",
        "docs/results.md:2: generated block nope/" + id + " names the bundle 'nope', but there is no "
        "docs/data/results/nope.json.gz");
  fails("<!-- generated: tiny/nope -->\n<!-- end generated -->\n", "has no table 'nope' (its tables: " + id + ")");
  fails("<!-- generated: tiny/" + id + " | run | bogus -->\n<!-- end generated -->\n", "no column 'bogus'");
  fails("\n\n<!-- generated: tiny/" + id + " -->\n| a |\n", "docs/results.md:3: generated block tiny/" + id +
                                                                " is not closed");
  fails("<!-- end generated -->\n", "docs/results.md:1: <!-- end generated --> without");
  fails("<!-- generated: tiny -->\n<!-- end generated -->\n", "expected <!-- generated: BUNDLE/TABLE -->");
}

/// read_bundle of `bytes` must throw DataError containing `expected`.
void expect_bad_bundle(const fs::path& file, const std::string& bytes, const std::string& expected) {
  write_bytes(file, bytes);
  try {
    read_bundle(file);
    ADD_FAILURE() << "no error for a bundle expected to fail with: " << expected;
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

TEST_F(ResultsBundleTest, CorruptBundlesAreErrorsNamingFileAndField) {
  const std::string gz = slurp(bundle());
  const fs::path bad = tmp_ / "bad.json.gz";
  expect_bad_bundle(bad, gz.substr(0, gz.size() / 2), "truncated");
  expect_bad_bundle(bad, gz + "junk", "expected the file to end after its gzip stream");
  std::string flipped = gz;
  flipped[gz.size() / 2] = static_cast<char>(flipped[gz.size() / 2] ^ 0x55);
  expect_bad_bundle(bad, flipped, "corrupt gzip data");

  // Plain JSON reads too; each field is checked.
  unpack_bundle(read_bundle(bundle()), tmp_ / "u");
  json j = {{"format", kBundleFormat},
            {"format_version", kBundleFormatVersion},
            {"source", "x"},
            {"experiment", json::parse(slurp(tmp_ / "u" / "experiment.json"))},
            {"runs", json::array()}};
  const auto with = [&](const std::function<void(json&)>& edit) {
    json k = j;
    edit(k);
    return k.dump();
  };
  const json run = {{"dir", "sgd/seed-1"},
                    {"config", json::object()},
                    {"result", {{"status", "completed"}}},
                    {"metrics_csv", slurp(tmp_ / "u" / "sgd" / "seed-1" / "metrics.csv")}};
  EXPECT_EQ(read_bundle((write_bytes(bad, with([&](json& k) { k["runs"].push_back(run); })), bad)).runs.size(), 1u);
  expect_bad_bundle(bad, "{", "bad.json.gz");
  expect_bad_bundle(bad, with([](json& k) { k.erase("runs"); }), "missing field \"runs\" (an array)");
  expect_bad_bundle(bad, with([](json& k) { k["format"] = "other"; }), "field \"format\": expected \"sibp-results-bundle\"");
  expect_bad_bundle(bad, with([](json& k) { k["format_version"] = 99; }), "field \"format_version\": expected 1");
  expect_bad_bundle(bad, with([](json& k) { k["experiment"]["kind"] = 3; }), "experiment");
  expect_bad_bundle(bad, with([&](json& k) { k["runs"] = {run, run}; }), "runs[1]: field \"dir\": \"sgd/seed-1\" appears twice");
  expect_bad_bundle(bad, with([&](json& k) {
                      k["runs"] = {run};
                      k["runs"][0]["dir"] = "../../etc";
                    }),
                    "runs[0]: field \"dir\": \"../../etc\" is not a run folder");
  expect_bad_bundle(bad, with([&](json& k) {
                      k["runs"] = {run};
                      k["runs"][0]["result"].erase("status");
                    }),
                    "runs[0].result: missing field \"status\" (a string)");
  expect_bad_bundle(bad, with([&](json& k) {
                      k["runs"] = {run};
                      k["runs"][0].erase("metrics_csv");
                    }),
                    "runs[0]: missing field \"metrics_csv\" (a string)");
  expect_bad_bundle(bad, with([&](json& k) {
                      k["runs"] = {run};
                      k["runs"][0]["metrics_csv"] = "epoch,iteration\n";
                    }),
                    "runs[0].metrics_csv' line 1: unknown header");
}

TEST(GeneratedBlocks, TablesAreNamedByTheirHeading) {
  const auto t = markdown_tables("# Top\n\n## Data: `mnist`\n\n| a |\n|---|\n| 1 |\n\ntext\n\n| b |\n\n"
                                 "### sgd lr (lr)\n| c |\n");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0].id, "data-mnist");
  EXPECT_EQ(t[0].text, "| a |\n|---|\n| 1 |\n");
  EXPECT_EQ(t[1].id, "data-mnist-2");
  EXPECT_EQ(t[2].id, "sgd-lr-lr");
}

TEST(GeneratedBlocks, MarkersInCodeAreExamples) {
  const std::string doc =
      "    <!-- generated: a/b -->\n```\n<!-- generated: a/b -->\n```\n<!-- generated: a/b | x -->\nrow\n"
      "<!-- end generated -->\n";
  const auto blocks = find_generated_blocks(doc, "d.md");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].line, 5);
  EXPECT_EQ(blocks[0].name(), "a/b");
  EXPECT_EQ(blocks[0].columns, std::vector<std::string>{"x"});
  EXPECT_EQ(doc.substr(blocks[0].begin, blocks[0].end - blocks[0].begin), "row\n");
}

TEST(GeneratedBlocks, FirstDifferenceNamesTheLine) {
  EXPECT_FALSE(first_difference("a\nb\n", "a\nb\n"));
  const auto d = first_difference("a\nb\n", "a\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->line, 2);
  EXPECT_EQ(d->committed, "b");
  EXPECT_EQ(d->generated, "(nothing)");
}

TEST(GeneratedBlocks, SelectColumnsKeepsEscapedBars) {
  EXPECT_EQ(select_columns("| a | b | c |\n|---|---|---|\n| 1 | x \\| y | 3 |\n", {"c", "b"}, "w"),
            "| c | b |\n| --- | --- |\n| 3 | x \\| y |\n");
}

}  // namespace
}  // namespace sibp
