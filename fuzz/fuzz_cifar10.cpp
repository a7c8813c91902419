// One CIFAR-10 binary batch file (data/cifar10.hpp).
// fuzz-link: sibp_data
#include "data/cifar10.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path path = sibp::fuzz::input_as_file(data, size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    std::vector<std::uint8_t> pixels, labels;
    sibp::read_cifar10_batch(path, pixels, labels);
    if (pixels.size() != labels.size() * sibp::kCifar10PixelBytes) std::abort();
  });
  return 0;
}
