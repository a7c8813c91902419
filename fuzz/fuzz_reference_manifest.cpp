// SIBP reference-case manifests (io/reference_case.hpp): the JSON text of a
// manifest.json, through the bounded JSON reader and the manifest checks.
// fuzz-link: sibp_io
#include <string_view>

#include "core/json_read.hpp"
#include "fuzz_common.hpp"
#include "io/reference_case.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const sibp::ReferenceCase c =
        sibp::parse_reference_manifest("fuzz-case", sibp::parse_json_text(text, "fuzz-case/manifest.json"));
    (void)c.has_after();
  });
  return 0;
}
