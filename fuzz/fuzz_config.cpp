// The JSON of configs (`sibp train --config FILE`, and a run folder's
// config.json read by `--resume`): the text through the bounded JSON reader,
// read_run_options and RunSpec (experiment/run_options.hpp), as
// stored_run_options does. What an accepted config must also do: be written
// back (run_options_json) as text that reads as the same run, which is what
// --resume relies on, and give a network for MNIST-shaped data or a UsageError.
// fuzz-link: sibp_experiment
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/json_read.hpp"
#include "experiment/run_options.hpp"
#include "experiment/training_run.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace sibp;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_config: %s: %s\n", what, detail.c_str());
  std::abort();
}

RunOptions read_config(nlohmann::json j) {
  if (!j.is_object()) throw DataError("config.json: expected a JSON object of run options");
  for (const char* drop : {"software", "data_shape"}) j.erase(drop);
  RunOptions o;
  read_run_options(j, "config.json", o);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const RunOptions options = read_config(parse_json_text(text, "config.json"));
    const RunSpec spec(options);
    // The stored form: what training writes into config.json. It must read
    // back, without an error, as a run that stores the same way.
    const nlohmann::json stored = run_options_json(spec.options());
    const std::string stored_text = stored.dump(2);
    RunOptions again;
    try {
      again = read_config(parse_json_text(stored_text, "config.json (written)"));
      const RunSpec spec_again(again);
      if (run_options_json(spec_again.options()) != stored) fail("config.json does not read back the same", stored_text);
      // Options written as text must keep their values exactly, not only print the same.
      const RunOptions& a = spec.options();
      const RunOptions& b = spec_again.options();
      if (a.init.kind != b.init.kind || a.init.std != b.init.std) fail("the initialiser changed in config.json", stored_text);
      // config.json holds only the options that apply to the algorithm (and
      // not --layers when --arch is given); the others take their defaults.
      if (a.algo == Algo::SIBP && a.lambda != b.lambda) fail("lambda changed", stored_text);
      if (a.arch != b.arch || (!a.arch && a.layers != b.layers)) fail("arch or layers changed", stored_text);
    } catch (const std::exception& e) {
      fail(("the written config.json is refused: " + std::string(e.what())).c_str(), stored_text);
    }
    // The network on MNIST-shaped data, and the memory estimate that refuses
    // runs too big for the machine: finite and positive when the network builds.
    const NetworkSpec net = spec.model().network(Shape{1, 28, 28}, 10, "mnist");
    const double bytes = estimated_training_bytes(net, spec.fit().batch_size, spec.model().dtype);
    if (!std::isfinite(bytes) || !(bytes > 0)) fail("memory estimate not finite and positive", stored_text);
  });
  return 0;
}
