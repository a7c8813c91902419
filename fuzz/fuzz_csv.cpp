// Labelled CSV data (data/csv.hpp).
// fuzz-link: sibp_data
#include "data/csv.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path path = sibp::fuzz::input_as_file(data, size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const sibp::Dataset ds = sibp::read_csv(path, "fuzz");
    // Every sample must be readable as a batch.
    sibp::Batch<float> batch;
    ds.make_range_batch<float>(0, ds.size(), sibp::Normalization{}, batch);
  });
  return 0;
}
