// IDX image and label files, plain or gzip (data/idx.hpp): the same bytes are
// read as an image file and as a label file; gzip is detected by its magic.
// fuzz-link: sibp_data
#include "data/idx.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path path = sibp::fuzz::input_as_file(data, size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const sibp::IdxImages img = sibp::read_idx_images(path);
    if (img.pixels.size() != static_cast<std::size_t>(img.count * img.rows * img.cols)) std::abort();
  });
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] { (void)sibp::read_idx_labels(path); });
  return 0;
}
