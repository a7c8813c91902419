#include "thread_pool.hpp"

#include <stdexcept>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SIBP_CPU_RELAX() _mm_pause()
#else
#define SIBP_CPU_RELAX() ((void)0)
#endif

namespace sibp::kernels {

namespace {
using Clock = std::chrono::steady_clock;

// Polls `ready` until it returns true or `spin` has passed; true if ready.
template <class Pred>
bool spin_until(Pred ready, std::chrono::nanoseconds spin) {
  if (spin.count() <= 0) return ready();
  const auto deadline = Clock::now() + spin;
  for (;;) {
    for (int k = 0; k < 64; ++k) {
      if (ready()) return true;
      SIBP_CPU_RELAX();
    }
    if (Clock::now() >= deadline) return ready();
  }
}
}  // namespace

ThreadPool::ThreadPool(int threads, std::chrono::nanoseconds spin) : spin_(spin) {
  if (threads < 1) throw std::invalid_argument("ThreadPool: threads must be >= 1, got " + std::to_string(threads));
  workers_.reserve(static_cast<std::size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

bool ThreadPool::try_claim(std::uint64_t gen, std::int64_t& index) {
  std::uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    if (gen_of(w) != gen || next_of(w) >= tasks_of(w)) return false;
    if (word_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      index = static_cast<std::int64_t>(next_of(w));
      return true;
    }
  }
}

void ThreadPool::finish_one(std::int64_t tasks) {
  // Release: the task's writes happen-before the caller's return. `tasks` is
  // read before this increment: after it the caller may already be on its
  // next job.
  if (completed_.fetch_add(1, std::memory_order_acq_rel) + 1 == tasks) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (caller_sleeping_) done_.notify_one();
  }
}

void ThreadPool::run_erased(std::int64_t tasks, TaskFn fn, void* ctx) {
  if (tasks > kMaxTasks) throw std::invalid_argument("ThreadPool::run: at most 65535 tasks, got " + std::to_string(tasks));
  fn_ = fn;
  ctx_ = ctx;
  tasks_ = tasks;
  completed_.store(0, std::memory_order_relaxed);
  const std::uint64_t gen = gen_of(word_.load(std::memory_order_relaxed)) + 1;
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    word_.store((gen << 32) | (static_cast<std::uint64_t>(tasks) << 16), std::memory_order_release);
    wake = sleepers_ > 0;
  }
  if (wake) wake_.notify_all();
  std::int64_t i;
  while (try_claim(gen, i)) {
    fn(ctx, i);
    completed_.fetch_add(1, std::memory_order_acq_rel);
  }
  // Every task is claimed; wait for those still running on workers.
  auto all_done = [&] { return completed_.load(std::memory_order_acquire) == tasks; };
  if (spin_until(all_done, spin_)) return;
  std::unique_lock<std::mutex> lock(mutex_);
  caller_sleeping_ = true;
  done_.wait(lock, all_done);
  caller_sleeping_ = false;
}

void ThreadPool::worker_loop() {
  std::uint64_t seen = 0;  // the last generation this worker took part in
  for (;;) {
    auto fresh = [&] { return gen_of(word_.load(std::memory_order_acquire)) != seen; };
    if (!spin_until(fresh, spin_)) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++sleepers_;
      wake_.wait(lock, [&] { return stop_ || fresh(); });
      --sleepers_;
      if (stop_) return;
    }
    const std::uint64_t gen = gen_of(word_.load(std::memory_order_acquire));
    std::int64_t i;
    while (try_claim(gen, i)) {
      // Safe: the caller keeps this job (fn_, ctx_, tasks_) alive and
      // unchanged until the claimed task completes.
      const TaskFn fn = fn_;
      void* const ctx = ctx_;
      const std::int64_t tasks = tasks_;
      fn(ctx, i);
      finish_one(tasks);
    }
    seen = gen;
  }
}

}  // namespace sibp::kernels
