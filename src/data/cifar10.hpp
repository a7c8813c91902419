#pragma once
/// Reader for the CIFAR-10 binary version (cifar-10-binary.tar.gz).
///
/// Each batch file is a run of 3073-byte records: 1 label byte (0..9), then
/// 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each row-major 32x32).
/// The pixels are kept in that order as the d = 3072 features.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace sibp {

inline constexpr Index kCifar10PixelBytes = 3072;
inline constexpr Index kCifar10RecordBytes = 1 + kCifar10PixelBytes;
inline constexpr int kCifar10Classes = 10;
/// Largest batch file accepted (1 GiB; the real ones are 30 730 000 bytes).
inline constexpr std::uint64_t kCifar10MaxBatchBytes = std::uint64_t{1} << 30;

/// The batch files of a split, in the order they are concatenated:
/// data_batch_1.bin .. data_batch_5.bin for Train, test_batch.bin for Test.
std::vector<std::string> cifar10_batch_files(Split split);

/// Appends the records of one batch file to pixels and labels.
/// Throws DataError naming the path if it cannot be read, is not a regular
/// file (a folder, FIFO or device), is larger than kCifar10MaxBatchBytes, its
/// size is not a positive multiple of 3073 (saying the size and the record
/// size), or a label is > 9.
void read_cifar10_batch(const std::filesystem::path& path, std::vector<std::uint8_t>& pixels,
                        std::vector<std::uint8_t>& labels);

/// Loads a split from the extracted `cifar-10-batches-bin/` folder as a
/// uint8 data set with 3072 features and 10 classes, named "cifar10-train"
/// or "cifar10-test".
/// Ensures: at least one sample (every batch holds at least one record).
/// Throws DataError listing exactly which batch files do not exist and where
/// the CIFAR-10 binary version comes from, or as read_cifar10_batch.
Dataset load_cifar10(const std::filesystem::path& dir, Split split);

}  // namespace sibp
