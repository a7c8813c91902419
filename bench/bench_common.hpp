#pragma once
/// What the benchmark programs share: one option parser (CLI11, as the sibp
/// command line) with the options every timing program takes, the clocks, the
/// median, the fixed batches every algorithm of a run trains on, and main()'s
/// error handling (exit 2 with the program's name on any error).
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <exception>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace sibp::bench {

/// The check of counts (repeats, threads, batches, samples): 1 or more.
inline const CLI::Range kAtLeastOne(1LL, std::numeric_limits<long long>::max());

/// The options of every timing program.
struct TimingOptions {
  std::string data = "mnist";
  int repeat = 3;
  int threads = 1;
  std::string clock = "wall";
  bool cpu() const { return clock == "cpu"; }
};

/// Adds --data, --repeat, --threads and --clock to `app`, with their checks.
inline void add_timing_options(CLI::App& app, TimingOptions& o) {
  app.add_option("--data", o.data, "the data, as sibp train's --data")->capture_default_str();
  app.add_option("--repeat", o.repeat, "repeats (every algorithm once per repeat)")
      ->check(kAtLeastOne)
      ->capture_default_str();
  app.add_option("--threads", o.threads, "threads")->check(kAtLeastOne)->capture_default_str();
  app.add_option("--clock", o.clock,
                 "wall: the wall clock; cpu: the process CPU time (one thread only: it adds threads up)")
      ->check(CLI::IsMember({"wall", "cpu"}))
      ->capture_default_str();
}

/// Seconds on the process CPU clock (`cpu`) or the steady wall clock.
inline double seconds_now(bool cpu) {
  if (cpu) {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Whether `label` is one of the comma-separated `list`.
inline bool in_list(const std::string& label, const std::string& list) {
  return ("," + list + ",").find("," + label + ",") != std::string::npos;
}

/// The first `count` batches of `m` consecutive training samples, unshuffled,
/// so that every algorithm of a run trains on the same ones.
inline std::vector<Batch<float>> fixed_batches(const Dataset& train, Index m, long long count) {
  std::vector<Batch<float>> fixed(static_cast<std::size_t>(count));
  for (long long k = 0; k < count; ++k) train.make_range_batch(k * m, (k + 1) * m, Normalization{}, fixed[k]);
  return fixed;
}

/// Parses the command line into `app`'s options, then runs `body`: --help
/// prints the options and exits 0; a bad option or any exception of `body`
/// prints a message naming the program and exits 2.
template <typename Body>
int parse_and_run(CLI::App& app, int argc, char** argv, Body&& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << app.get_name() << ": " << e.what() << "\n";
    return 2;
  }
}

}  // namespace sibp::bench
