#include "data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/error.hpp"

namespace sibp {

namespace fs = std::filesystem;

namespace {

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

/// gzFile owner. gzread passes uncompressed files through unchanged, so the
/// same reader serves `train-images-idx3-ubyte` and `...-ubyte.gz`.
class GzReader {
 public:
  explicit GzReader(const fs::path& path) : path_(path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      throw DataError(path.string() + ": cannot open: " +
                      (fs::exists(path, ec) ? "not a regular file" : "no such file"));
    f_ = gzopen(path.c_str(), "rb");
    if (!f_) throw DataError(path.string() + ": cannot open for reading");
    gzbuffer(f_, 1 << 17);
  }
  ~GzReader() {
    if (f_) gzclose(f_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  /// Reads up to n bytes into dst; returns how many were read (< n only at
  /// the end of the data). A zlib error (corrupt or cut-short gzip) throws.
  std::size_t read(std::uint8_t* dst, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const unsigned want = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
      const int r = gzread(f_, dst + got, want);
      if (r < 0) throw_zlib_error(got);
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    // gzread hands back the bytes decoded before a fault and reports the fault
    // only through gzerror, so check it even after a full read.
    int errnum = Z_OK;
    gzerror(f_, &errnum);
    if (errnum != Z_OK) throw_zlib_error(got);
    return got;
  }

  bool compressed() const { return gzdirect(f_) == 0; }
  std::string describe() const { return compressed() ? " (after gzip decompression)" : ""; }

 private:
  [[noreturn]] void throw_zlib_error(std::size_t got) {
    int errnum = Z_OK;
    const char* msg = gzerror(f_, &errnum);
    std::string what = msg ? msg : "unknown zlib error";
    // gzerror prefixes the path, which the message already starts with.
    const std::string prefix = path_.string() + ": ";
    if (what.starts_with(prefix)) what.erase(0, prefix.size());
    if (errnum == Z_BUF_ERROR)
      throw DataError(path_.string() + ": truncated gzip file: expected a complete gzip stream, found " +
                      "one that ends early (" + what + ")");
    if (errnum == Z_ERRNO)
      throw DataError(path_.string() + ": read error: " + what);
    throw DataError(path_.string() + ": corrupt gzip data: " + what);
  }

  fs::path path_;
  gzFile f_ = nullptr;
};

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

/// Reads the magic and `ndims` dimension words, checking the magic.
std::vector<std::uint32_t> read_header(GzReader& in, const fs::path& path, std::uint32_t magic,
                                       int ndims, const char* kind) {
  const std::size_t header_bytes = 4 * static_cast<std::size_t>(1 + ndims);
  std::uint8_t buf[16];
  const std::size_t got = in.read(buf, 4);
  if (got < 4)
    throw DataError(path.string() + ": truncated: expected a " + std::to_string(header_bytes) +
                    "-byte IDX " + kind + " header, found " + std::to_string(got) + " bytes" +
                    in.describe());
  const std::uint32_t found = be32(buf);
  if (found != magic) {
    std::string hint;
    if (found == kIdxImagesMagic) hint = " (an IDX image file)";
    if (found == kIdxLabelsMagic) hint = " (an IDX label file)";
    throw DataError(path.string() + ": expected IDX " + kind + " magic " + hex32(magic) + ", found " +
                    hex32(found) + hint);
  }
  const std::size_t rest = 4 * static_cast<std::size_t>(ndims);
  const std::size_t got_dims = in.read(buf + 4, rest);
  if (got_dims < rest)
    throw DataError(path.string() + ": truncated: expected a " + std::to_string(header_bytes) +
                    "-byte IDX " + kind + " header, found " + std::to_string(4 + got_dims) + " bytes" +
                    in.describe());
  std::vector<std::uint32_t> dims(static_cast<std::size_t>(ndims));
  for (int i = 0; i < ndims; ++i) dims[static_cast<std::size_t>(i)] = be32(buf + 4 + 4 * i);
  return dims;
}

/// Reads exactly `expected` payload bytes and checks that nothing follows.
std::vector<std::uint8_t> read_payload(GzReader& in, const fs::path& path, std::uint64_t expected,
                                       const std::string& declared) {
  // A header can declare any size; refuse absurd ones before allocating.
  constexpr std::uint64_t kMaxPayload = std::uint64_t{1} << 34;
  if (expected > kMaxPayload)
    throw DataError(path.string() + ": header declares " + declared + " = " + std::to_string(expected) +
                    " bytes, more than the " + std::to_string(kMaxPayload) + " this reader accepts");
  std::vector<std::uint8_t> out;
  // Grow in chunks so a header that overstates the size of a short file does
  // not allocate the whole declared amount up front.
  constexpr std::size_t kChunk = std::size_t{1} << 24;
  std::size_t have = 0;
  while (have < expected) {
    const std::size_t want = std::min<std::size_t>(kChunk, static_cast<std::size_t>(expected) - have);
    out.resize(have + want);
    const std::size_t got = in.read(out.data() + have, want);
    have += got;
    if (got < want) break;
  }
  if (have < expected)
    throw DataError(path.string() + ": truncated: header declares " + declared + " = " +
                    std::to_string(expected) + " payload bytes, found only " + std::to_string(have) +
                    in.describe());
  std::uint8_t extra = 0;
  if (in.read(&extra, 1) != 0)
    throw DataError(path.string() + ": expected the file to end after the " + std::to_string(expected) +
                    " payload bytes the header declares (" + declared + "), found more bytes" +
                    in.describe());
  return out;
}

}  // namespace

IdxImages read_idx_images(const fs::path& path) {
  GzReader in(path);
  const auto dims = read_header(in, path, kIdxImagesMagic, 3, "image");
  if (dims[1] == 0 || dims[2] == 0)
    throw DataError(path.string() + ": expected images of at least 1x1 pixels, found " +
                    std::to_string(dims[1]) + "x" + std::to_string(dims[2]));
  IdxImages img;
  img.count = static_cast<Index>(dims[0]);
  img.rows = static_cast<Index>(dims[1]);
  img.cols = static_cast<Index>(dims[2]);
  const std::uint64_t bytes = std::uint64_t{dims[0]} * dims[1] * dims[2];
  const std::string declared = std::to_string(dims[0]) + " images of " + std::to_string(dims[1]) + "x" +
                               std::to_string(dims[2]);
  img.pixels = read_payload(in, path, bytes, declared);
  return img;
}

std::vector<std::uint8_t> read_idx_labels(const fs::path& path) {
  GzReader in(path);
  const auto dims = read_header(in, path, kIdxLabelsMagic, 1, "label");
  return read_payload(in, path, dims[0], std::to_string(dims[0]) + " labels");
}

Dataset load_idx_dataset(const fs::path& images, const fs::path& labels, std::optional<int> num_classes,
                         std::string name) {
  IdxImages img = read_idx_images(images);
  std::vector<std::uint8_t> lab = read_idx_labels(labels);
  if (static_cast<std::size_t>(img.count) != lab.size())
    throw DataError(images.string() + " and " + labels.string() + ": expected one label per image, found " +
                    std::to_string(img.count) + " images and " + std::to_string(lab.size()) + " labels");
  int max_label = -1;
  for (std::uint8_t y : lab) max_label = std::max<int>(max_label, y);
  const int C = num_classes ? *num_classes : max_label + 1;
  if (max_label >= C) {
    const auto at = std::find_if(lab.begin(), lab.end(), [&](std::uint8_t y) { return y >= C; });
    throw DataError(labels.string() + ": label of sample " + std::to_string(at - lab.begin()) + " is " +
                    std::to_string(*at) + ", expected 0.." + std::to_string(C - 1) + " (" +
                    std::to_string(C) + " classes)");
  }
  Dataset ds = Dataset::from_bytes(std::move(img.pixels), std::move(lab), img.rows * img.cols, std::max(C, 1),
                                   std::move(name));
  ds.set_sample_shape({1, img.rows, img.cols});
  return ds;
}

}  // namespace sibp
