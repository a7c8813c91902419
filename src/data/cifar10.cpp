#include "data/cifar10.hpp"

#include <memory>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace sibp {

namespace fs = std::filesystem;

std::vector<std::string> cifar10_batch_files(Split split) {
  if (split == Split::Test) return {"test_batch.bin"};
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
          "data_batch_5.bin"};
}

namespace {

/// Opens a batch file and checks its size: a positive multiple of the
/// record size, at most kCifar10MaxBatchBytes.
std::unique_ptr<InputFile> open_batch(const fs::path& path) {
  auto in = std::make_unique<InputFile>(path, kCifar10MaxBatchBytes);
  const std::uint64_t size = in->size();
  if (size == 0 || size % kCifar10RecordBytes != 0)
    throw DataError(path.string() + ": size " + std::to_string(size) + " bytes is not a positive multiple of the " +
                    "CIFAR-10 record size " + std::to_string(kCifar10RecordBytes) + " (1 label byte + " +
                    std::to_string(kCifar10PixelBytes) + " pixel bytes); the file is " +
                    (size == 0 ? "empty" : "truncated or not a CIFAR-10 binary batch"));
  return in;
}

/// Appends the records of an opened batch file.
void read_records(InputFile& in, std::vector<std::uint8_t>& pixels, std::vector<std::uint8_t>& labels) {
  const fs::path& path = in.path();
  const std::string raw = in.read_rest();
  if (raw.size() != in.size())
    throw DataError(path.string() + ": expected " + std::to_string(in.size()) + " bytes, read " +
                    std::to_string(raw.size()) + " (the file changed while it was read)");
  const std::size_t n = raw.size() / kCifar10RecordBytes;
  labels.reserve(labels.size() + n);
  pixels.reserve(pixels.size() + n * kCifar10PixelBytes);
  for (std::size_t i = 0; i < n; ++i) {
    const auto* rec = reinterpret_cast<const std::uint8_t*>(raw.data()) + i * kCifar10RecordBytes;
    if (rec[0] >= kCifar10Classes)
      throw DataError(path.string() + ": record " + std::to_string(i) + " (byte offset " +
                      std::to_string(i * kCifar10RecordBytes) + ") has label " + std::to_string(rec[0]) +
                      ", expected 0..9");
    labels.push_back(rec[0]);
    pixels.insert(pixels.end(), rec + 1, rec + kCifar10RecordBytes);
  }
}

}  // namespace

void read_cifar10_batch(const fs::path& path, std::vector<std::uint8_t>& pixels,
                        std::vector<std::uint8_t>& labels) {
  read_records(*open_batch(path), pixels, labels);
}

Dataset load_cifar10(const fs::path& dir, Split split) {
  const std::vector<std::string> names = cifar10_batch_files(split);
  std::vector<std::string> missing;
  std::error_code ec;
  // Only a name that does not exist is missing: a folder, FIFO or device in
  // its place is reported as such when it is opened.
  for (const auto& name : names)
    if (!fs::exists(dir / name, ec)) missing.push_back(name);
  if (!missing.empty()) {
    std::string list;
    for (const auto& name : missing) list += (list.empty() ? "" : ", ") + name;
    throw DataError(dir.string() + ": missing CIFAR-10 " + split_name(split) + " file" +
                    (missing.size() > 1 ? "s " : " ") + list + ". These come from the CIFAR-10 binary " +
                    "version (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html); " +
                    "extract it and pass its cifar-10-batches-bin/ folder as --data cifar10:DIR");
  }
  // Open (and check) every batch first, then reserve for all of them at
  // once: reserving per batch would copy the growing buffer once per file.
  std::vector<std::unique_ptr<InputFile>> files;
  std::uint64_t records = 0;
  for (const auto& name : names) {
    files.push_back(open_batch(dir / name));
    records += files.back()->size() / kCifar10RecordBytes;
  }
  std::vector<std::uint8_t> pixels, labels;
  labels.reserve(static_cast<std::size_t>(records));
  pixels.reserve(static_cast<std::size_t>(records * kCifar10PixelBytes));
  for (const auto& file : files) read_records(*file, pixels, labels);
  Dataset ds = Dataset::from_bytes(std::move(pixels), std::move(labels), kCifar10PixelBytes, kCifar10Classes,
                                   std::string("cifar10-") + split_name(split));
  ds.set_sample_shape({3, 32, 32});  // each record stores its red, green, blue planes in turn
  return ds;
}

}  // namespace sibp
