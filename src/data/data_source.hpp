#pragma once
/// `--data` specs and loading a data set from one, the same for every CLI
/// command; plus the validation hold-out of `--val-split`.
///
/// Accepted forms (each optionally followed by `:train` or `:test`, which
/// picks the split where a command needs one, e.g. `mnist:test`):
///   mnist                      DATA_DIR/mnist/ (fetched by `sibp data fetch mnist`)
///   fashion-mnist              DATA_DIR/fashion-mnist/ if present, else
///                              /usr/share/datasets/fashion-mnist/ (Debian dataset-fashion-mnist)
///   cifar10:DIR                extracted cifar-10-batches-bin/ folder
///   idx:DIR                    DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
///   csv:TRAIN.csv[,TEST.csv]   label,feature,... rows
/// DATA_DIR is DataOptions::data_dir, else $SIBP_DATA_DIR, else ./data.
#include <filesystem>
#include <optional>
#include <string>

#include "data/dataset.hpp"

namespace sibp {

enum class DataKind { Mnist, FashionMnist, Cifar10, Idx, Csv };

/// A parsed `--data` value.
struct DataSpec {
  DataKind kind = DataKind::Mnist;
  std::filesystem::path dir;        ///< cifar10:DIR and idx:DIR; empty otherwise
  std::filesystem::path train_csv;  ///< csv: the training file
  std::filesystem::path test_csv;   ///< csv: the test file, empty when not given
  std::optional<Split> split;       ///< the `:train` / `:test` suffix, if any
  std::string text;                 ///< the spec as given, for messages
};

/// One line per accepted form, for `--help` texts and error messages.
std::string data_spec_forms();

/// Parses a `--data` value.
/// Throws UsageError naming `--data`, the text and the accepted forms when
/// the text matches none of them (unknown kind, missing or extra DIR/file).
/// A folder literally named `train` or `test` must be written `./train`.
DataSpec parse_data_spec(const std::string& text);

/// Where the built-in data sets live on this machine.
struct DataOptions {
  /// Empty: default_data_dir().
  std::filesystem::path data_dir;
  /// Read-only fallback for fashion-mnist (the Debian package's folder);
  /// tests point it elsewhere.
  std::filesystem::path fashion_mnist_system_dir = "/usr/share/datasets/fashion-mnist";

  /// data_dir if set, else default_data_dir().
  std::filesystem::path resolved_data_dir() const;
};

/// $SIBP_DATA_DIR if set and non-empty, else `data` (relative to the
/// working directory).
std::filesystem::path default_data_dir();

/// A training set and, where the source has one, a test set with the same
/// number of features and classes.
struct LoadedData {
  Dataset train;
  std::optional<Dataset> test;
};

/// Loads both splits (a spec's `:train`/`:test` suffix is ignored here).
/// Classes: 10 for mnist, fashion-mnist and cifar10; max label + 1 over
/// train and test for idx and csv. Datasets are named "<kind>-train" and
/// "<kind>-test" (kind as in the spec: mnist, fashion-mnist, cifar10, idx, csv).
/// Ensures: test, if present, has train's num_features() and num_classes();
/// every split loaded has at least one sample.
/// Throws DataError for missing files (for mnist: saying to run
/// `sibp data fetch mnist`), malformed files, a split with no samples
/// (naming its files), or train and test files whose feature counts differ.
LoadedData load_data(const DataSpec& spec, const DataOptions& options);

/// Loads one split: the spec's suffix if it has one, else default_split.
/// The number of classes is the one load_data would give (for idx it also
/// reads the other split's labels when present; for csv the other file).
/// Throws as load_data, and UsageError naming `--data` when the test split
/// of a csv spec without TEST.csv is asked for.
Dataset load_split(const DataSpec& spec, const DataOptions& options, Split default_split);

/// Holds out the LAST n samples of train as a validation set and removes
/// them from train. The set is named train's name with "-train" replaced by
/// "-val" (or "-val" appended). n == 0 gives an empty validation set.
/// Throws UsageError naming `--val-split` if n < 0 or n >= train.size().
Dataset split_validation(Dataset& train, Index n);

}  // namespace sibp
