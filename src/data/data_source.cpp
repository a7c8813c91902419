#include "data/data_source.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/error.hpp"
#include "data/cifar10.hpp"
#include "data/csv.hpp"
#include "data/idx.hpp"

namespace sibp {

namespace fs = std::filesystem;

namespace {

constexpr int kFixedClasses = 10;  // mnist, fashion-mnist, cifar10

const char* kind_name(DataKind kind) {
  switch (kind) {
    case DataKind::Mnist: return "mnist";
    case DataKind::FashionMnist: return "fashion-mnist";
    case DataKind::Cifar10: return "cifar10";
    case DataKind::Idx: return "idx";
    case DataKind::Csv: return "csv";
  }
  return "?";
}

std::string set_name(DataKind kind, Split split) {
  return std::string(kind_name(kind)) + "-" + split_name(split);
}

[[noreturn]] void bad_spec(const std::string& text, const std::string& why) {
  throw UsageError("--data: " + why + ", found '" + text + "'; accepted forms:\n" + data_spec_forms());
}

/// The IDX base names of a split, in the MNIST distribution's naming.
struct IdxNames {
  std::string images, labels;
};
IdxNames idx_names(Split split) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  return {prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"};
}

/// dir/base if it exists, else dir/base.gz if that exists. A folder, FIFO
/// or device of that name counts as there: the reader then says what it is,
/// rather than calling it missing.
std::optional<fs::path> find_idx_file(const fs::path& dir, const std::string& base) {
  std::error_code ec;
  if (fs::exists(dir / base, ec)) return dir / base;
  if (fs::exists(dir / (base + ".gz"), ec)) return dir / (base + ".gz");
  return std::nullopt;
}

/// Which of the named IDX files (each plain or .gz) dir lacks.
std::vector<std::string> missing_idx_files(const fs::path& dir, const std::vector<Split>& splits) {
  std::vector<std::string> missing;
  for (Split s : splits) {
    const IdxNames n = idx_names(s);
    for (const auto& base : {n.images, n.labels})
      if (!find_idx_file(dir, base)) missing.push_back(base);
  }
  return missing;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

/// The folder of an IDX-backed spec, after checking that the files of
/// `splits` are there (with the fetch hint that fits the spec).
fs::path idx_dir_for(const DataSpec& spec, const DataOptions& options, const std::vector<Split>& splits) {
  fs::path dir;
  std::string hint;
  switch (spec.kind) {
    case DataKind::Mnist:
      dir = options.resolved_data_dir() / "mnist";
      hint = "; run `sibp data fetch mnist` to download MNIST into " + dir.string() +
             " (the data folder is --data-dir, else $SIBP_DATA_DIR, else ./data)";
      break;
    case DataKind::FashionMnist: {
      const fs::path own = options.resolved_data_dir() / "fashion-mnist";
      std::error_code ec;
      dir = fs::is_directory(own, ec) ? own : options.fashion_mnist_system_dir;
      hint = "; install the Debian package (apt-get install dataset-fashion-mnist), which puts them in " +
             options.fashion_mnist_system_dir.string() + ", or run `sibp data fetch fashion-mnist` to copy " +
             "them into " + own.string();
      break;
    }
    default:
      dir = spec.dir;
      hint = "; idx:DIR expects train-images-idx3-ubyte, train-labels-idx1-ubyte, "
             "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally gzipped (.gz)";
  }
  const auto missing = missing_idx_files(dir, splits);
  if (!missing.empty())
    throw DataError(dir.string() + ": missing " + kind_name(spec.kind) + " file" +
                    (missing.size() > 1 ? "s " : " ") + join(missing) + " (plain or .gz)" + hint);
  return dir;
}

Dataset load_idx_split(const fs::path& dir, Split split, std::optional<int> num_classes, DataKind kind) {
  const IdxNames n = idx_names(split);
  const fs::path images = *find_idx_file(dir, n.images), labels = *find_idx_file(dir, n.labels);
  Dataset ds = load_idx_dataset(images, labels, num_classes, set_name(kind, split));
  // The IDX format allows 0 samples; training or evaluating on none would
  // report a loss of 0 (or fail far from the cause).
  if (ds.size() == 0)
    throw DataError(images.string() + " and " + labels.string() + ": the " + split_name(split) +
                    " split has 0 samples; expected at least one");
  return ds;
}

void check_same_features(const Dataset& train, const Dataset& test, const std::string& train_file,
                         const std::string& test_file) {
  if (train.num_features() != test.num_features())
    throw DataError(test_file + ": expected " + std::to_string(train.num_features()) +
                    " features per sample (as in " + train_file + "), found " +
                    std::to_string(test.num_features()));
}

/// Gives both sets C = max label + 1 over the two.
void unify_classes(Dataset& train, Dataset& test) {
  const int C = std::max(train.num_classes(), test.num_classes());
  train.set_num_classes(C);
  test.set_num_classes(C);
}

}  // namespace

std::string data_spec_forms() {
  return "  mnist                     MNIST from DATA_DIR/mnist/ (get it with `sibp data fetch mnist`)\n"
         "  fashion-mnist             Fashion-MNIST from DATA_DIR/fashion-mnist/ or "
         "/usr/share/datasets/fashion-mnist/\n"
         "  cifar10:DIR               CIFAR-10 binary version, DIR = extracted cifar-10-batches-bin/\n"
         "  idx:DIR                   DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]\n"
         "  csv:TRAIN.csv[,TEST.csv]  rows of label,feature,...\n"
         "  any of these followed by :train or :test picks the split (e.g. mnist:test)";
}

DataSpec parse_data_spec(const std::string& text) {
  DataSpec spec;
  spec.text = text;
  std::string rest = text;
  for (Split s : {Split::Train, Split::Test}) {
    const std::string suffix = std::string(":") + split_name(s);
    if (rest.size() > suffix.size() && rest.ends_with(suffix)) {
      spec.split = s;
      rest.resize(rest.size() - suffix.size());
      break;
    }
  }
  const auto colon = rest.find(':');
  const std::string kind = rest.substr(0, colon);
  const bool has_arg = colon != std::string::npos;
  const std::string arg = has_arg ? rest.substr(colon + 1) : "";
  if (kind == "mnist" || kind == "fashion-mnist") {
    spec.kind = kind == "mnist" ? DataKind::Mnist : DataKind::FashionMnist;
    if (has_arg)
      bad_spec(text, "expected '" + kind + "' with no folder (optionally :train or :test; its folder comes " +
                         "from the data folder)");
    return spec;
  }
  if (kind == "cifar10" || kind == "idx") {
    spec.kind = kind == "cifar10" ? DataKind::Cifar10 : DataKind::Idx;
    if (arg.empty()) bad_spec(text, "expected " + kind + ":DIR with a folder");
    spec.dir = arg;
    return spec;
  }
  if (kind == "csv") {
    spec.kind = DataKind::Csv;
    if (arg.empty()) bad_spec(text, "expected csv:TRAIN.csv[,TEST.csv] with at least one file");
    const auto comma = arg.find(',');
    spec.train_csv = arg.substr(0, comma);
    if (comma != std::string::npos) {
      const std::string test = arg.substr(comma + 1);
      if (test.empty() || test.find(',') != std::string::npos || spec.train_csv.empty())
        bad_spec(text, "expected csv:TRAIN.csv or csv:TRAIN.csv,TEST.csv (two non-empty file names at most)");
      spec.test_csv = test;
    }
    return spec;
  }
  bad_spec(text, kind == text ? std::string("unknown data source") : "unknown data source '" + kind + "'");
}

fs::path DataOptions::resolved_data_dir() const { return data_dir.empty() ? default_data_dir() : data_dir; }

fs::path default_data_dir() {
  const char* env = std::getenv("SIBP_DATA_DIR");
  if (env && *env) return fs::path(env);
  return fs::path("data");
}

LoadedData load_data(const DataSpec& spec, const DataOptions& options) {
  switch (spec.kind) {
    case DataKind::Mnist:
    case DataKind::FashionMnist: {
      const fs::path dir = idx_dir_for(spec, options, {Split::Train, Split::Test});
      return {load_idx_split(dir, Split::Train, kFixedClasses, spec.kind),
              load_idx_split(dir, Split::Test, kFixedClasses, spec.kind)};
    }
    case DataKind::Idx: {
      const fs::path dir = idx_dir_for(spec, options, {Split::Train, Split::Test});
      Dataset train = load_idx_split(dir, Split::Train, std::nullopt, spec.kind);
      Dataset test = load_idx_split(dir, Split::Test, std::nullopt, spec.kind);
      check_same_features(train, test, (dir / idx_names(Split::Train).images).string(),
                          (dir / idx_names(Split::Test).images).string());
      unify_classes(train, test);
      return {std::move(train), std::move(test)};
    }
    case DataKind::Cifar10: {
      Dataset train = load_cifar10(spec.dir, Split::Train);
      return {std::move(train), load_cifar10(spec.dir, Split::Test)};
    }
    case DataKind::Csv: {
      LoadedData out{read_csv(spec.train_csv, set_name(spec.kind, Split::Train)), std::nullopt};
      if (!spec.test_csv.empty()) {
        Dataset test = read_csv(spec.test_csv, set_name(spec.kind, Split::Test));
        check_same_features(out.train, test, spec.train_csv.string(), spec.test_csv.string());
        unify_classes(out.train, test);
        out.test = std::move(test);
      }
      return out;
    }
  }
  throw UsageError("--data: unhandled data source in '" + spec.text + "'");
}

Dataset load_split(const DataSpec& spec, const DataOptions& options, Split default_split) {
  const Split split = spec.split.value_or(default_split);
  switch (spec.kind) {
    case DataKind::Mnist:
    case DataKind::FashionMnist:
      return load_idx_split(idx_dir_for(spec, options, {split}), split, kFixedClasses, spec.kind);
    case DataKind::Cifar10:
      return load_cifar10(spec.dir, split);
    case DataKind::Idx: {
      const fs::path dir = idx_dir_for(spec, options, {split});
      Dataset ds = load_idx_split(dir, split, std::nullopt, spec.kind);
      // The other split's labels (if there) fix C, so a model trained on one
      // split has as many outputs as the classes of the other.
      const Split other = split == Split::Train ? Split::Test : Split::Train;
      if (const auto other_labels = find_idx_file(dir, idx_names(other).labels)) {
        const auto labels = read_idx_labels(*other_labels);
        int max_label = -1;
        for (std::uint8_t y : labels) max_label = std::max<int>(max_label, y);
        if (max_label + 1 > ds.num_classes()) ds.set_num_classes(max_label + 1);
      }
      return ds;
    }
    case DataKind::Csv: {
      if (split == Split::Test && spec.test_csv.empty())
        throw UsageError("--data: the test split needs a test file (csv:TRAIN.csv,TEST.csv), found '" +
                         spec.text + "'");
      LoadedData both = load_data(spec, options);
      return split == Split::Train ? std::move(both.train) : std::move(*both.test);
    }
  }
  throw UsageError("--data: unhandled data source in '" + spec.text + "'");
}

Dataset split_validation(Dataset& train, Index n) {
  const Index size = train.size();
  if (n < 0 || n >= size)
    throw UsageError("--val-split: expected a number of samples from 0 to " + std::to_string(size - 1) +
                     " (fewer than the " + std::to_string(size) + " training samples of " + train.name() +
                     "), found " + std::to_string(n));
  std::string val_name = train.name();
  if (val_name.ends_with("-train"))
    val_name.replace(val_name.size() - 6, 6, "-val");
  else
    val_name += "-val";
  Dataset val = train.slice(size - n, size, std::move(val_name));
  train = train.slice(0, size - n, train.name());
  return val;
}

}  // namespace sibp
