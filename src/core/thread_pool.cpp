#include "core/thread_pool.hpp"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SIBP_CPU_RELAX() _mm_pause()
#else
#define SIBP_CPU_RELAX() ((void)0)
#endif

namespace sibp {

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

void ThreadPool::run_one(TaskFn fn, void* ctx, std::int64_t i) {
  try {
    fn(ctx, i);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::finish_one(std::int64_t tasks) {
  // Release: the task's writes happen-before the caller's return. `tasks` was
  // read before this increment: after it the caller may be on its next job.
  if (completed_.fetch_add(1, std::memory_order_acq_rel) + 1 == tasks) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (caller_sleeping_) done_.notify_one();
  }
}

void ThreadPool::run_erased(std::int64_t tasks, TaskFn fn, void* ctx) {
  if (tasks > kMaxTasks)
    throw std::invalid_argument("ThreadPool::run: at most 65535 tasks, got " + std::to_string(tasks));
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
    run_one(fn, ctx, i);
    completed_.fetch_add(1, std::memory_order_acq_rel);
  }
  // Every task is claimed; wait for those still running on workers.
  auto all_done = [&] { return completed_.load(std::memory_order_acquire) == tasks; };
  if (!spin_until(all_done, spin_)) {
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_ = true;
    done_.wait(lock, all_done);
    caller_sleeping_ = false;
  }
  // Every task has finished; their writes to error_ happen-before the acquire
  // load that saw completed_ == tasks, and no worker writes it until the next job.
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
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
      // The caller keeps this job (fn_, ctx_, tasks_) alive and unchanged
      // until the claimed task completes.
      const TaskFn fn = fn_;
      void* const ctx = ctx_;
      const std::int64_t tasks = tasks_;
      run_one(fn, ctx, i);
      finish_one(tasks);
    }
    seen = gen;
  }
}

// ---------------------------------------------------------------- the process pool

namespace {
std::atomic<int> g_fixed_threads{0};  // 0: follow OpenMP
std::mutex g_pool_mutex;              // held by the PoolLease that uses the pool
std::unique_ptr<ThreadPool> g_pool;   // guarded by g_pool_mutex
}  // namespace

int num_threads() {
  const int fixed = g_fixed_threads.load(std::memory_order_relaxed);
  return fixed > 0 ? fixed : std::max(1, omp_get_max_threads());
}

void set_num_threads(int n) {
  if (n < 0) throw std::invalid_argument("set_num_threads: expected n >= 0 (0: follow OpenMP), got " + std::to_string(n));
  g_fixed_threads.store(n, std::memory_order_relaxed);
}

namespace detail {

bool& in_parallel_task() {
  thread_local bool flag = false;
  return flag;
}

PoolLease::PoolLease() {
  if (in_parallel_task()) return;  // a task of an outer parallel_for: run inline
  const int n = num_threads();
  if (n <= 1) return;
  // Another thread of the program is using the pool: its caller would have to
  // wait for ours, so run inline instead (same results).
  if (!g_pool_mutex.try_lock()) return;
  if (!g_pool || g_pool->threads() != n) {
    g_pool.reset();  // joins the old workers before new ones start
    g_pool = std::make_unique<ThreadPool>(n);
  }
  pool_ = g_pool.get();
}

PoolLease::~PoolLease() {
  if (pool_) g_pool_mutex.unlock();
}

}  // namespace detail

ColumnChunks column_chunks(std::int64_t rows, std::int64_t cols) {
  ColumnChunks c;
  if (cols <= 0) return c;
  c.size = std::clamp<std::int64_t>(kChunkElements / std::max<std::int64_t>(rows, 1), 1, cols);
  c.count = (cols + c.size - 1) / c.size;
  return c;
}

}  // namespace sibp
