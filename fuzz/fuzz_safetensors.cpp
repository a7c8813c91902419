// safetensors model files (io/safetensors.hpp): header, metadata and data
// area, through every reader: load_network in both precisions, the metadata
// alone, and load_parameters_into a fixed 3-2 network (--init-from).
// fuzz-link: sibp_io
#include "fuzz_common.hpp"
#include "io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path path = sibp::fuzz::input_as_file(data, size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const sibp::Network<float> net = sibp::load_network<float>(path);
    (void)net.all_finite();
  });
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] { (void)sibp::load_network<double>(path); });
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] { (void)sibp::read_safetensors_metadata(path); });
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    sibp::Network<float> target(sibp::NetworkSpec::mlp({3, 2}));
    sibp::load_parameters_into(target, path);
    if (!target.all_finite()) std::abort();  // load_parameters_into must refuse NaN and Inf
  });
  return 0;
}
