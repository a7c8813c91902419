#include "data/cifar10.hpp"

#include <fstream>

#include "core/error.hpp"

namespace sibp {

namespace fs = std::filesystem;

std::vector<std::string> cifar10_batch_files(Split split) {
  if (split == Split::Test) return {"test_batch.bin"};
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
          "data_batch_5.bin"};
}

void read_cifar10_batch(const fs::path& path, std::vector<std::uint8_t>& pixels,
                        std::vector<std::uint8_t>& labels) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw DataError(path.string() + ": cannot read: " + ec.message());
  if (size % kCifar10RecordBytes != 0)
    throw DataError(path.string() + ": size " + std::to_string(size) +
                    " bytes is not a multiple of the CIFAR-10 record size " +
                    std::to_string(kCifar10RecordBytes) + " (1 label byte + " +
                    std::to_string(kCifar10PixelBytes) + " pixel bytes); the file is truncated or not " +
                    "a CIFAR-10 binary batch");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string() + ": cannot open for reading");
  const std::size_t n = static_cast<std::size_t>(size / kCifar10RecordBytes);
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
  if (in.gcount() != static_cast<std::streamsize>(raw.size()))
    throw DataError(path.string() + ": expected " + std::to_string(size) + " bytes, read only " +
                    std::to_string(in.gcount()));
  const std::size_t first = labels.size();
  labels.reserve(first + n);
  pixels.reserve(pixels.size() + n * kCifar10PixelBytes);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* rec = raw.data() + i * kCifar10RecordBytes;
    if (rec[0] >= kCifar10Classes)
      throw DataError(path.string() + ": record " + std::to_string(i) + " (byte offset " +
                      std::to_string(i * kCifar10RecordBytes) + ") has label " + std::to_string(rec[0]) +
                      ", expected 0..9");
    labels.push_back(rec[0]);
    pixels.insert(pixels.end(), rec + 1, rec + kCifar10RecordBytes);
  }
}

Dataset load_cifar10(const fs::path& dir, Split split) {
  const std::vector<std::string> names = cifar10_batch_files(split);
  std::vector<std::string> missing;
  std::error_code ec;
  for (const auto& name : names)
    if (!fs::is_regular_file(dir / name, ec)) missing.push_back(name);
  if (!missing.empty()) {
    std::string list;
    for (const auto& name : missing) list += (list.empty() ? "" : ", ") + name;
    throw DataError(dir.string() + ": missing CIFAR-10 " + split_name(split) + " file" +
                    (missing.size() > 1 ? "s " : " ") + list + ". These come from the CIFAR-10 binary " +
                    "version (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html); " +
                    "extract it and pass its cifar-10-batches-bin/ folder as --data cifar10:DIR");
  }
  std::vector<std::uint8_t> pixels, labels;
  // Reserve for all batches at once: reserving per batch would copy the
  // growing buffer once per file.
  std::uintmax_t total = 0;
  for (const auto& name : names) total += fs::file_size(dir / name, ec) / kCifar10RecordBytes;
  if (!ec) {
    labels.reserve(static_cast<std::size_t>(total));
    pixels.reserve(static_cast<std::size_t>(total * kCifar10PixelBytes));
  }
  for (const auto& name : names) read_cifar10_batch(dir / name, pixels, labels);
  Dataset ds = Dataset::from_bytes(std::move(pixels), std::move(labels), kCifar10PixelBytes, kCifar10Classes,
                                   std::string("cifar10-") + split_name(split));
  ds.set_sample_shape({3, 32, 32});  // each record stores its red, green, blue planes in turn
  return ds;
}

}  // namespace sibp
