#include "data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <new>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace sibp {

namespace fs = std::filesystem;

namespace {

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

/// Largest payload a header may declare (16 GiB), and so the largest file.
constexpr std::uint64_t kMaxPayload = std::uint64_t{1} << 34;
constexpr std::uint64_t kMaxIdxFileBytes = kMaxPayload + 16;

/// The bytes of an IDX file, inflated when the file is gzip (RFC 1952).
///
/// zlib's gzread was used before; it ignores bytes after the last gzip
/// member, so a .gz with trailing garbage loaded silently. Here every byte
/// of the file is accounted for: after each member comes either the end of
/// the file or another member (concatenated members are accepted, as
/// `gzip -d` accepts them), and anything else is an error.
class IdxByteReader {
 public:
  explicit IdxByteReader(const fs::path& path)
      : file_(path, kMaxIdxFileBytes), in_(std::make_unique_for_overwrite<std::uint8_t[]>(kInputChunk)) {
    ensure_input(2);
    gzip_ = avail_ >= 2 && in_[pos_] == 0x1f && in_[pos_ + 1] == 0x8b;
    if (gzip_ && inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) throw std::bad_alloc();
  }
  ~IdxByteReader() {
    if (gzip_) inflateEnd(&zs_);
  }
  IdxByteReader(const IdxByteReader&) = delete;
  IdxByteReader& operator=(const IdxByteReader&) = delete;

  /// Reads up to n bytes into dst; returns how many were read (< n only at
  /// the end of the data). Corrupt, cut-short gzip data or bytes after the
  /// last gzip member throw.
  std::size_t read(std::uint8_t* dst, std::size_t n) {
    if (!gzip_) {
      const std::size_t buffered = std::min(n, avail_);
      std::copy_n(in_.get() + pos_, buffered, dst);
      pos_ += buffered;
      avail_ -= buffered;
      return buffered + (buffered < n ? file_.read(dst + buffered, n - buffered) : 0);
    }
    std::size_t got = 0;
    while (got < n && !finished_) {
      if (avail_ == 0 && !ensure_input(1))
        throw DataError(where() + ": truncated gzip file: expected a complete gzip stream, found one that ends "
                                  "early (at compressed byte " + std::to_string(consumed()) + ")");
      const std::size_t want = std::min<std::size_t>(n - got, 1u << 30);
      zs_.next_in = in_.get() + pos_;
      zs_.avail_in = static_cast<uInt>(avail_);
      zs_.next_out = dst + got;
      zs_.avail_out = static_cast<uInt>(want);
      const int r = inflate(&zs_, Z_NO_FLUSH);
      got += want - zs_.avail_out;
      pos_ += avail_ - zs_.avail_in;
      avail_ = zs_.avail_in;
      if (r == Z_STREAM_END) {
        end_of_member();
      } else if (r == Z_MEM_ERROR) {
        throw std::bad_alloc();
      } else if (r != Z_OK && r != Z_BUF_ERROR) {
        throw DataError(where() + ": corrupt gzip data: " + (zs_.msg ? zs_.msg : "inflate error " + std::to_string(r)) +
                        " (at compressed byte " + std::to_string(consumed()) + ")");
      }
    }
    return got;
  }

  std::string describe() const { return gzip_ ? " (after gzip decompression)" : ""; }

 private:
  /// After a gzip member: the end of the file, or the next member.
  void end_of_member() {
    if (!ensure_input(2)) {
      if (avail_ == 0) {
        finished_ = true;
        return;
      }
    } else if (in_[pos_] == 0x1f && in_[pos_ + 1] == 0x8b) {
      inflateReset(&zs_);
      return;
    }
    char first[8];
    std::snprintf(first, sizeof first, "0x%02X", in_[pos_]);
    throw DataError(where() + ": expected the file to end after its gzip stream (or another gzip member, magic "
                              "0x1F 0x8B) at byte " + std::to_string(consumed()) + ", found more bytes starting with " +
                    first);
  }

  /// Makes at least k bytes available in in_ from pos_, unless the file
  /// ends first; returns whether k bytes are available.
  bool ensure_input(std::size_t k) {
    if (avail_ >= k) return true;
    std::copy_n(in_.get() + pos_, avail_, in_.get());
    pos_ = 0;
    while (avail_ < k) {
      const std::size_t r = file_.read(in_.get() + avail_, kInputChunk - avail_);
      if (r == 0) break;
      avail_ += r;
      total_in_ += r;
    }
    return avail_ >= k;
  }

  /// Bytes of the file consumed so far.
  std::uint64_t consumed() const { return total_in_ - avail_; }
  std::string where() const { return file_.path().string(); }

  static constexpr std::size_t kInputChunk = std::size_t{1} << 16;
  InputFile file_;
  // Not zero-filled: only the pages a read reaches are touched (a small or
  // malformed file costs no 64 KiB of page faults).
  std::unique_ptr<std::uint8_t[]> in_;
  std::size_t pos_ = 0, avail_ = 0;  ///< unread bytes in in_: [pos_, pos_ + avail_)
  std::uint64_t total_in_ = 0;       ///< bytes read from the file into in_
  bool gzip_ = false;
  bool finished_ = false;            ///< every gzip member inflated and the file ended
  z_stream zs_{};
};

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

/// Reads the magic and `ndims` dimension words, checking the magic.
std::vector<std::uint32_t> read_header(IdxByteReader& in, const fs::path& path, std::uint32_t magic,
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
std::vector<std::uint8_t> read_payload(IdxByteReader& in, const fs::path& path, std::uint64_t expected,
                                       const std::string& declared) {
  // A header can declare any size; refuse absurd ones before allocating.
  if (expected > kMaxPayload)
    throw DataError(path.string() + ": header declares " + declared + " = " + std::to_string(expected) +
                    " bytes, more than the " + std::to_string(kMaxPayload) + " this reader accepts");
  std::vector<std::uint8_t> out;
  // Grow with what has been read (64 KiB, then doubling up to 16 MiB steps)
  // so a header that overstates the size of a short file allocates about as
  // much as the file holds, not the declared amount.
  std::size_t have = 0;
  while (have < expected) {
    const std::size_t step = std::clamp<std::size_t>(have, std::size_t{1} << 16, std::size_t{1} << 24);
    const std::size_t want = std::min<std::size_t>(step, static_cast<std::size_t>(expected) - have);
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
  IdxByteReader in(path);
  const auto dims = read_header(in, path, kIdxImagesMagic, 3, "image");
  if (dims[1] == 0 || dims[2] == 0)
    throw DataError(path.string() + ": expected images of at least 1x1 pixels, found " +
                    std::to_string(dims[1]) + "x" + std::to_string(dims[2]));
  const std::string declared = std::to_string(dims[0]) + " images of " + std::to_string(dims[1]) + "x" +
                               std::to_string(dims[2]);
  // Three 32-bit dimensions can multiply past 2^64 and wrap to a size the
  // file happens to have (2^20 x 2^22 x 2^22 wraps to 0).
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(std::uint64_t{dims[0]}, std::uint64_t{dims[1]}, &bytes) ||
      __builtin_mul_overflow(bytes, std::uint64_t{dims[2]}, &bytes))
    throw DataError(path.string() + ": header declares " + declared + " (dimensions " + std::to_string(dims[0]) +
                    " x " + std::to_string(dims[1]) + " x " + std::to_string(dims[2]) +
                    "), whose byte count overflows 64 bits: corrupt header");
  IdxImages img;
  img.count = static_cast<Index>(dims[0]);
  img.rows = static_cast<Index>(dims[1]);
  img.cols = static_cast<Index>(dims[2]);
  img.pixels = read_payload(in, path, bytes, declared);
  return img;
}

std::vector<std::uint8_t> read_idx_labels(const fs::path& path) {
  IdxByteReader in(path);
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
