#pragma once
/// What the oneDNN users of nn (conv_kernels.cpp, bf16.cpp) share: the engine,
/// a stream per thread, per-thread scratch buffers, and the guard that keeps
/// oneDNN on one OpenMP thread. Internal to nn: includes oneDNN.
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <cstddef>

namespace sibp::dnnl_util {

/// oneDNN's OpenMP runtime sizes its parallel regions by the calling thread's
/// OpenMP thread count: one for the duration of a call into oneDNN, so a
/// primitive never starts a team of its own (and is created for one thread,
/// which fixes its work split, hence its results).
class OneOmpThread {
 public:
  OneOmpThread() : before_(omp_get_max_threads()) {
    if (before_ != 1) omp_set_num_threads(1);
  }
  ~OneOmpThread() {
    if (before_ != 1) omp_set_num_threads(before_);
  }
  OneOmpThread(const OneOmpThread&) = delete;
  OneOmpThread& operator=(const OneOmpThread&) = delete;

 private:
  int before_;
};

/// The process's CPU engine.
dnnl::engine& cpu_engine();
/// This thread's stream: tasks of one call run concurrently, and a stream is
/// not meant to be shared between threads.
dnnl::stream& cpu_stream();

/// Scratch kinds of thread_scratch(): each a separate buffer per thread.
enum Scratch : int { kPrimitive = 0, kDiffWeights = 1, kBf16A = 2, kBf16B = 3, kScratchKinds = 4 };
/// This thread's buffer of `kind`, grown to at least `bytes` and kept, so the
/// per-batch loop does not allocate.
void* thread_scratch(int kind, std::size_t bytes);

}  // namespace sibp::dnnl_util
