#pragma once
/// Fixes num_threads() for the life of a test scope, then returns it to the
/// default (0: all cores), so one test's thread count never leaks into the next.
#include "core/thread_pool.hpp"

namespace sibp::testing {

class ScopedThreads {
 public:
  explicit ScopedThreads(int n) { set_num_threads(n); }
  ~ScopedThreads() { set_num_threads(0); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;
};

}  // namespace sibp::testing
