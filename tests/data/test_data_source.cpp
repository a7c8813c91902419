#include "data/data_source.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "core/error.hpp"
#include "data_test_util.hpp"
#include "scoped_env.hpp"

namespace sibp {
namespace {

namespace fs = std::filesystem;
using testing::ScopedEnv;
using testing::TempDir;
using testing::error_message;
using testing::expect_mentions;

/// Writes the four MNIST-named IDX files of 2x2 images into dir: train has
/// train_labels.size() samples, test test_labels.size(). gz picks .gz names.
void write_idx_dir(const fs::path& dir, const std::vector<std::uint8_t>& train_labels,
                   const std::vector<std::uint8_t>& test_labels, bool gz) {
  fs::create_directories(dir);
  auto put = [&](const std::string& base, const std::string& bytes) {
    if (gz)
      testing::write_gz(dir / (base + ".gz"), bytes);
    else
      testing::write_bytes(dir / base, bytes);
  };
  auto images = [](std::size_t n, std::uint8_t first) {
    std::vector<std::uint8_t> px(4 * n);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(first + i);
    return testing::idx_images(static_cast<std::uint32_t>(n), 2, 2, px);
  };
  put("train-images-idx3-ubyte", images(train_labels.size(), 0));
  put("train-labels-idx1-ubyte", testing::idx_labels(train_labels));
  put("t10k-images-idx3-ubyte", images(test_labels.size(), 100));
  put("t10k-labels-idx1-ubyte", testing::idx_labels(test_labels));
}

TEST(DataSpec, ParsesEveryForm) {
  DataSpec s = parse_data_spec("mnist");
  EXPECT_EQ(s.kind, DataKind::Mnist);
  EXPECT_FALSE(s.split.has_value());
  EXPECT_EQ(s.text, "mnist");
  s = parse_data_spec("mnist:test");
  EXPECT_EQ(s.kind, DataKind::Mnist);
  EXPECT_EQ(s.split, Split::Test);
  s = parse_data_spec("fashion-mnist:train");
  EXPECT_EQ(s.kind, DataKind::FashionMnist);
  EXPECT_EQ(s.split, Split::Train);
  s = parse_data_spec("cifar10:/x/cifar-10-batches-bin");
  EXPECT_EQ(s.kind, DataKind::Cifar10);
  EXPECT_EQ(s.dir, fs::path("/x/cifar-10-batches-bin"));
  s = parse_data_spec("idx:rel/dir:test");
  EXPECT_EQ(s.kind, DataKind::Idx);
  EXPECT_EQ(s.dir, fs::path("rel/dir"));
  EXPECT_EQ(s.split, Split::Test);
  s = parse_data_spec("csv:a.csv");
  EXPECT_EQ(s.kind, DataKind::Csv);
  EXPECT_EQ(s.train_csv, fs::path("a.csv"));
  EXPECT_TRUE(s.test_csv.empty());
  s = parse_data_spec("csv:a.csv,b/c.csv:train");
  EXPECT_EQ(s.train_csv, fs::path("a.csv"));
  EXPECT_EQ(s.test_csv, fs::path("b/c.csv"));
  EXPECT_EQ(s.split, Split::Train);
}

TEST(DataSpec, RejectsMalformedSpecsNamingOptionTextAndForms) {
  for (const std::string bad : {"", "imagenet", "mnist:foo", "cifar10", "cifar10:", "idx:", "idx:test", "csv:",
                                "csv:,b.csv", "csv:a.csv,", "csv:a,b,c", "MNIST", ":test"}) {
    const auto msg = error_message<UsageError>([&] { parse_data_spec(bad); });
    expect_mentions(msg, {"--data", "found '" + bad + "'", "mnist", "fashion-mnist", "cifar10:DIR", "idx:DIR",
                          "csv:TRAIN.csv[,TEST.csv]", ":train or :test"});
  }
}

TEST(DataDir, ExplicitBeatsEnvironmentBeatsDefault) {
  {
    ScopedEnv env("SIBP_DATA_DIR", nullptr);
    EXPECT_EQ(default_data_dir(), fs::path("data"));
    EXPECT_EQ(DataOptions{}.resolved_data_dir(), fs::path("data"));
  }
  ScopedEnv env("SIBP_DATA_DIR", "/somewhere/else");
  EXPECT_EQ(default_data_dir(), fs::path("/somewhere/else"));
  EXPECT_EQ(DataOptions{}.resolved_data_dir(), fs::path("/somewhere/else"));
  DataOptions explicit_dir;
  explicit_dir.data_dir = "/explicit";
  EXPECT_EQ(explicit_dir.resolved_data_dir(), fs::path("/explicit"));
}

TEST(LoadData, IdxClassesAreMaxLabelOverTrainAndTest) {
  TempDir dir;
  write_idx_dir(dir.path(), {0, 2, 1}, {4, 0}, false);
  const LoadedData d = load_data(parse_data_spec("idx:" + dir.path().string()), DataOptions{});
  EXPECT_EQ(d.train.size(), 3);
  ASSERT_TRUE(d.test.has_value());
  EXPECT_EQ(d.test->size(), 2);
  EXPECT_EQ(d.train.num_features(), 4);
  EXPECT_EQ(d.train.num_classes(), 5);
  EXPECT_EQ(d.test->num_classes(), 5);
  EXPECT_EQ(d.train.name(), "idx-train");
  EXPECT_EQ(d.test->name(), "idx-test");
  EXPECT_EQ(d.test->feature(1, 3), 107 / 255.0);  // test pixel 4*1 + 3, counting from 100

  // One split: the suffix wins over the default; C still counts the other split.
  const Dataset test = load_split(parse_data_spec("idx:" + dir.path().string() + ":test"), {}, Split::Train);
  EXPECT_EQ(test.name(), "idx-test");
  EXPECT_EQ(test.num_classes(), 5);
  const Dataset train = load_split(parse_data_spec("idx:" + dir.path().string()), {}, Split::Train);
  EXPECT_EQ(train.size(), 3);
  EXPECT_EQ(train.num_classes(), 5);
}

TEST(LoadData, IdxReadsGzipAndListsMissingFiles) {
  TempDir dir;
  write_idx_dir(dir.path(), {1}, {0}, true);
  const LoadedData d = load_data(parse_data_spec("idx:" + dir.path().string()), {});
  EXPECT_EQ(d.train.labels(), std::vector<std::uint8_t>{1});
  EXPECT_EQ(d.train.num_classes(), 2);
  fs::remove(dir / "t10k-labels-idx1-ubyte.gz");
  fs::remove(dir / "train-images-idx3-ubyte.gz");
  const auto msg = error_message<DataError>([&] { load_data(parse_data_spec("idx:" + dir.path().string()), {}); });
  expect_mentions(msg, {dir.path().string(), "train-images-idx3-ubyte, t10k-labels-idx1-ubyte", "plain or .gz"});
  // The test split alone needs only its own two files... one of which is gone.
  expect_mentions(
      error_message<DataError>([&] { load_split(parse_data_spec("idx:" + dir.path().string()), {}, Split::Test); }),
      {"missing idx file t10k-labels-idx1-ubyte"});
}

TEST(LoadData, IdxTrainAndTestMustHaveTheSameFeatureCount) {
  TempDir dir;
  write_idx_dir(dir.path(), {0}, {0}, false);
  testing::write_bytes(dir / "t10k-images-idx3-ubyte", testing::idx_images(1, 3, 1, {1, 2, 3}));
  expect_mentions(error_message<DataError>([&] { load_data(parse_data_spec("idx:" + dir.path().string()), {}); }),
                  {(dir / "t10k-images-idx3-ubyte").string(), "expected 4 features", "found 3"});
}

TEST(LoadData, MnistReadsDataDirWithTenClasses) {
  TempDir dir;
  write_idx_dir(dir / "mnist", {3, 1}, {2}, false);
  DataOptions opt;
  opt.data_dir = dir.path();
  const LoadedData d = load_data(parse_data_spec("mnist"), opt);
  EXPECT_EQ(d.train.num_classes(), 10);
  EXPECT_EQ(d.test->num_classes(), 10);
  EXPECT_EQ(d.train.name(), "mnist-train");
  EXPECT_EQ(d.train.labels(), (std::vector<std::uint8_t>{3, 1}));
  const Dataset test = load_split(parse_data_spec("mnist:test"), opt, Split::Train);
  EXPECT_EQ(test.name(), "mnist-test");
  EXPECT_EQ(test.num_classes(), 10);
  // A label outside 0..9 in MNIST is a data error naming the label file.
  testing::write_bytes(dir / "mnist" / "t10k-labels-idx1-ubyte", testing::idx_labels({10}));
  expect_mentions(error_message<DataError>([&] { load_data(parse_data_spec("mnist"), opt); }),
                  {(dir / "mnist" / "t10k-labels-idx1-ubyte").string(), "is 10", "expected 0..9"});
}

TEST(LoadData, MissingMnistSaysToFetch) {
  TempDir dir;
  DataOptions opt;
  opt.data_dir = dir.path();
  for (const std::string spec : {"mnist", "mnist:test"}) {
    const auto msg = error_message<DataError>([&] { load_split(parse_data_spec(spec), opt, Split::Train); });
    expect_mentions(msg, {(dir / "mnist").string(), "sibp data fetch mnist", "-idx"});
  }
  expect_mentions(error_message<DataError>([&] { load_data(parse_data_spec("mnist"), opt); }),
                  {"train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                   "t10k-labels-idx1-ubyte",
                   "sibp data fetch mnist"});
}

TEST(LoadData, FashionMnistPrefersDataDirThenSystemFolder) {
  TempDir data, system;
  DataOptions opt;
  opt.data_dir = data.path();
  opt.fashion_mnist_system_dir = system.path();
  // Neither folder has the files: say how to get them.
  expect_mentions(error_message<DataError>([&] { load_data(parse_data_spec("fashion-mnist"), opt); }),
                  {system.path().string(), "apt-get install dataset-fashion-mnist", "sibp data fetch fashion-mnist"});
  write_idx_dir(system.path(), {9}, {1}, true);
  EXPECT_EQ(load_split(parse_data_spec("fashion-mnist"), opt, Split::Train).labels(), std::vector<std::uint8_t>{9});
  write_idx_dir(data / "fashion-mnist", {4}, {5}, true);
  const LoadedData d = load_data(parse_data_spec("fashion-mnist"), opt);
  EXPECT_EQ(d.train.labels(), std::vector<std::uint8_t>{4});
  EXPECT_EQ(d.train.num_classes(), 10);
  EXPECT_EQ(d.test->name(), "fashion-mnist-test");
}

TEST(LoadData, Cifar10SpecLoadsTheFolder) {
  TempDir dir;
  std::string rec(3073, '\0');
  rec[0] = 7;
  testing::write_bytes(dir / "test_batch.bin", rec + rec);
  const Dataset test = load_split(parse_data_spec("cifar10:" + dir.path().string() + ":test"), {}, Split::Train);
  EXPECT_EQ(test.size(), 2);
  EXPECT_EQ(test.num_classes(), 10);
  expect_mentions(error_message<DataError>([&] { load_data(parse_data_spec("cifar10:" + dir.path().string()), {}); }),
                  {"data_batch_1.bin", "CIFAR-10 binary version"});
}

TEST(LoadData, CsvTrainAndTest) {
  TempDir dir;
  testing::write_bytes(dir / "tr.csv", "y,a,b\n0,1,2\n1,3,4\n");
  testing::write_bytes(dir / "te.csv", "3,5,6\n");
  const std::string both = "csv:" + (dir / "tr.csv").string() + "," + (dir / "te.csv").string();
  const LoadedData d = load_data(parse_data_spec(both), {});
  EXPECT_EQ(d.train.size(), 2);
  EXPECT_EQ(d.train.num_classes(), 4);  // max label 3 is in the test file
  EXPECT_EQ(d.test->num_classes(), 4);
  EXPECT_EQ(d.test->feature(0, 1), 6.0);
  EXPECT_EQ(load_split(parse_data_spec(both + ":test"), {}, Split::Train).size(), 1);
  EXPECT_EQ(load_split(parse_data_spec(both), {}, Split::Train).num_classes(), 4);

  const std::string only = "csv:" + (dir / "tr.csv").string();
  const LoadedData t = load_data(parse_data_spec(only), {});
  EXPECT_FALSE(t.test.has_value());
  EXPECT_EQ(t.train.num_classes(), 2);
  expect_mentions(error_message<UsageError>([&] { load_split(parse_data_spec(only), {}, Split::Test); }),
                  {"--data", "test split needs a test file", only});

  testing::write_bytes(dir / "wide.csv", "0,1,2,3\n");
  const std::string wide = "csv:" + (dir / "tr.csv").string() + "," + (dir / "wide.csv").string();
  expect_mentions(error_message<DataError>([&] { load_data(parse_data_spec(wide), {}); }),
                  {(dir / "wide.csv").string(), "expected 2 features", (dir / "tr.csv").string(), "found 3"});
}

TEST(LoadData, ASplitWithNoSamplesIsADataErrorNamingItsFiles) {
  // IDX allows 0 images; training on them failed later with "the training
  // set is empty", naming no file, and eval printed loss 0, accuracy 0.
  TempDir dir;
  write_idx_dir(dir / "d", {}, {1, 2}, /*gz=*/false);
  const DataSpec spec = parse_data_spec("idx:" + (dir / "d").string());
  expect_mentions(error_message<DataError>([&] { load_data(spec, DataOptions{}); }),
                  {(dir / "d" / "train-images-idx3-ubyte").string(), (dir / "d" / "train-labels-idx1-ubyte").string(),
                   "the train split has 0 samples", "expected at least one"});
  write_idx_dir(dir / "e", {1, 2}, {}, /*gz=*/true);
  const DataSpec test_spec = parse_data_spec("idx:" + (dir / "e").string() + ":test");
  expect_mentions(error_message<DataError>([&] { load_split(test_spec, DataOptions{}, Split::Train); }),
                  {(dir / "e" / "t10k-images-idx3-ubyte.gz").string(), "the test split has 0 samples"});
}

TEST(LoadData, AFolderInPlaceOfAnIdxFileIsNotReportedMissing) {
  TempDir dir;
  write_idx_dir(dir / "d", {1, 2}, {1}, /*gz=*/false);
  std::filesystem::remove(dir / "d" / "t10k-labels-idx1-ubyte");
  std::filesystem::create_directory(dir / "d" / "t10k-labels-idx1-ubyte");
  const std::string msg = error_message<DataError>(
      [&] { load_data(parse_data_spec("idx:" + (dir / "d").string()), DataOptions{}); });
  expect_mentions(msg, {(dir / "d" / "t10k-labels-idx1-ubyte").string(), "is a directory"});
  EXPECT_EQ(msg.find("missing"), std::string::npos) << msg;
}

}  // namespace
}  // namespace sibp
