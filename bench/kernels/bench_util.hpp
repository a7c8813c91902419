#pragma once
/// Timing helpers shared by the kernel benchmarks: median of several trials,
/// each trial long enough (>= ~20 ms) that clock granularity does not count.
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <ctime>
#include <string>
#include <vector>

namespace sibp::kernels::bench {

using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;

inline MatF random_mat(Eigen::Index r, Eigen::Index c, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  MatF A(r, c);
  for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = nd(gen);
  return A;
}

/// Which clock median_seconds reads. Wall time is what a user waits; the
/// process's CPU time is the same for a single-threaded kernel on an idle
/// core, and stays meaningful when other processes share the machine (this
/// one is shared with compilers): single-threaded runs use it.
enum class TimeBase { Wall, ProcessCpu };
inline TimeBase& time_base() {
  static TimeBase b = TimeBase::Wall;
  return b;
}

inline double now_seconds() {
  if (time_base() == TimeBase::Wall)
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Median seconds per call of f over `trials` trials (after a warm-up).
template <class F>
double median_seconds(F&& f, int trials = 7, double min_trial_seconds = 0.02) {
  f();
  const double t0 = now_seconds();
  f();
  const double once = std::max(1e-7, now_seconds() - t0);
  const int calls = std::max(1, static_cast<int>(min_trial_seconds / once));
  std::vector<double> v;
  for (int t = 0; t < trials; ++t) {
    const double a = now_seconds();
    for (int c = 0; c < calls; ++c) f();
    v.push_back((now_seconds() - a) / calls);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Reads "--name value" from argv, or `def`.
inline std::string arg(int argc, char** argv, const char* name, const std::string& def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

inline bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

}  // namespace sibp::kernels::bench
