#pragma once
/// A small blocking thread pool for a shared 2-core machine: no thread ever
/// spins for more than `spin` (a few microseconds) before it sleeps on a
/// condition variable, so a busy core costs us its share and nothing more.
///
/// Work is a count of independent tasks 0..n-1, claimed one at a time by the
/// calling thread and the workers (dynamic assignment). The caller waits only
/// for tasks that were claimed: a worker that has not been scheduled yet is
/// never waited for, it finds nothing left to do when it wakes. This is what
/// keeps a descheduled worker from stalling the step (Eigen's OpenMP GEMM
/// spins on its partner thread at every depth block; REPORT.md, question 4).
///
/// Results are the same for any thread count as long as each task's result
/// depends on its index only (see parallel_gemm.hpp).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace sibp::kernels {

class ThreadPool {
 public:
  /// A pool of `threads` threads in all, the caller included (threads - 1
  /// workers are started). `spin` bounds how long an idle thread polls
  /// before it blocks. Requires: threads >= 1.
  explicit ThreadPool(int threads, std::chrono::nanoseconds spin = std::chrono::microseconds(5));
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Threads that run tasks, the caller included.
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs f(i) for every i in [0, tasks) and returns when all have finished.
  /// Requires: 0 <= tasks <= kMaxTasks; f must not call run() on this pool;
  /// run() is called by one thread at a time. An exception escaping f is a
  /// programming error (std::terminate).
  template <class F>
  void run(std::int64_t tasks, F&& f) {
    if (tasks <= 0) return;
    if (tasks == 1 || workers_.empty()) {
      for (std::int64_t i = 0; i < tasks; ++i) f(i);
      return;
    }
    run_erased(tasks, [](void* ctx, std::int64_t i) { (*static_cast<std::remove_reference_t<F>*>(ctx))(i); },
               const_cast<void*>(static_cast<const void*>(&f)));
  }

  static constexpr std::int64_t kMaxTasks = 0xFFFF;

 private:
  using TaskFn = void (*)(void*, std::int64_t);
  // The shared word: generation (32 bits) | task count (16) | next task (16).
  // A worker claims a task with one CAS on it, so a worker that wakes late and
  // sees an old generation (or no task left) leaves without touching the job.
  static constexpr std::uint64_t gen_of(std::uint64_t w) { return w >> 32; }
  static constexpr std::uint64_t tasks_of(std::uint64_t w) { return (w >> 16) & 0xFFFF; }
  static constexpr std::uint64_t next_of(std::uint64_t w) { return w & 0xFFFF; }

  void run_erased(std::int64_t tasks, TaskFn fn, void* ctx);
  bool try_claim(std::uint64_t gen, std::int64_t& index);
  void finish_one(std::int64_t tasks);
  void worker_loop();

  std::vector<std::thread> workers_;
  std::chrono::nanoseconds spin_;
  alignas(64) std::atomic<std::uint64_t> word_{0};
  alignas(64) std::atomic<std::int64_t> completed_{0};
  // The current job; written by the caller before it publishes a generation,
  // read by a worker only after it claimed a task of that generation.
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::int64_t tasks_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;      // workers sleep here
  std::condition_variable done_;      // the caller sleeps here
  int sleepers_ = 0;                  // guarded by mutex_
  bool caller_sleeping_ = false;      // guarded by mutex_
  bool stop_ = false;                 // guarded by mutex_
};

}  // namespace sibp::kernels
