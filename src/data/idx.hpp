#pragma once
/// Readers for the IDX format of MNIST and Fashion-MNIST, plain or gzip.
///
/// Format (big-endian 32-bit words): magic, then one word per dimension,
/// then the uint8 payload. Images: magic 0x00000803, dims (n, rows, cols);
/// labels: magic 0x00000801, dims (n). A file may be gzip-compressed (it
/// then starts with the gzip magic 1F 8B, whatever its name). Concatenated
/// gzip members are one stream, as `gzip -d` reads them; any other byte
/// after the last member is an error, as is any byte after the payload.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"
#include "data/dataset.hpp"

namespace sibp {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;

/// The contents of an IDX image file, samples contiguous in file order.
struct IdxImages {
  Index count = 0;
  Index rows = 0;
  Index cols = 0;
  std::vector<std::uint8_t> pixels;  // count * rows * cols bytes
};

/// Reads an IDX image file (plain or .gz).
/// Ensures: pixels.size() == count * rows * cols.
/// Throws DataError naming the path if it cannot be opened or is not a
/// regular file (a folder, FIFO or device), its magic is not 0x00000803, a
/// dimension is zero, the dimensions' product overflows 64 bits or exceeds
/// 16 GiB, it is truncated (plain or gzip), gzip data is corrupt, or bytes
/// follow the declared payload or the gzip stream.
IdxImages read_idx_images(const std::filesystem::path& path);

/// Reads an IDX label file (plain or .gz); one byte per sample.
/// Throws DataError as read_idx_images, with magic 0x00000801.
std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path);

/// Loads an image file and its label file as one uint8 data set with
/// d = rows * cols features in IDX byte order (row-major pixels).
/// num_classes: every label must be below it; nullopt means max label + 1.
/// Throws DataError naming the files if the counts differ, or naming the
/// label file, the sample and the label if a label is >= num_classes.
Dataset load_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         std::optional<int> num_classes, std::string name);

}  // namespace sibp
