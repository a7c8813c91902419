// Experiment files (`sibp compare` / `sibp sweep`, experiment/experiment_file.hpp):
// the JSON text through the bounded reader and parse_experiment, then the plan
// of runs. What callers rely on for an accepted file: every planned run's
// options resolve (RunSpec), and every run gets its own folder strictly inside
// the output folder (no "..", no absolute path, no two runs in one folder).
// fuzz-link: sibp_experiment
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "core/json_read.hpp"
#include "experiment/experiment_file.hpp"
#include "fuzz_common.hpp"

namespace {

using namespace sibp;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_experiment: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sibp::fuzz::expect_sibp_errors_only(data, size, [&] {
    const ExperimentFile e = parse_experiment(parse_json_text(text, "x.json"), "x.json");
    if (e.name.empty() || e.seeds.empty() || e.seeds.size() > kMaxSeeds) fail("name or seeds out of bounds", e.name);
    std::size_t planned = e.runs.size() * e.seeds.size();
    for (const SweepSpec& s : e.sweeps) {
      if (s.values.empty()) fail("a sweep without values", s.label);
      for (std::size_t i = 1; i < s.values.size(); ++i)
        if (!(s.values[i] > s.values[i - 1])) fail("sweep values not increasing", s.label);
      planned += s.values.size() * e.seeds.size();
    }
    if (planned > kMaxPlannedRuns) fail("more runs than kMaxPlannedRuns", std::to_string(planned));
    // Planning resolves every run again; keep an input's time bounded.
    if (planned > 2000) return;
    const std::vector<PlannedRun> plan = plan_runs(e);
    if (plan.size() != planned) fail("plan_runs planned a different number of runs", std::to_string(plan.size()));
    std::set<std::string> folders;
    for (const PlannedRun& p : plan) {
      if (p.subdir.empty() || p.subdir.is_absolute()) fail("a run folder that is empty or absolute", p.subdir.string());
      for (const auto& part : p.subdir)
        if (part == ".." || part == "." || part.empty()) fail("a run folder with '.', '..' or an empty part", p.subdir.string());
      if (!folders.insert(p.subdir.lexically_normal().string()).second)
        fail("two runs share a folder", p.subdir.string());
      (void)RunSpec(p.config);
    }
  });
  return 0;
}
