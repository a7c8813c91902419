// `--data` specs (data/data_source.hpp): any text parses or is a UsageError
// naming --data.
// fuzz-link: sibp_data
#include <string>

#include "data/data_source.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const sibp::DataSpec spec = sibp::parse_data_spec(text);
    // What the loaders rely on: the text is kept, and every form that names
    // a folder or a file has one.
    if (spec.text != text) std::abort();
    if ((spec.kind == sibp::DataKind::Cifar10 || spec.kind == sibp::DataKind::Idx) && spec.dir.empty()) std::abort();
    if (spec.kind == sibp::DataKind::Csv && spec.train_csv.empty()) std::abort();
  });
  return 0;
}
