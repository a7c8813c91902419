#pragma once
/// The library's threads: one small blocking pool, shared by every parallel
/// kernel (fixed-chunk GEMMs, convolutions on fixed sub-batches), and the
/// setting that sizes it (`sibp train --threads`).
///
/// Why not OpenMP or Eigen's threads: on a machine whose other cores are busy,
/// Eigen's parallel GEMM spins on its partner thread at every depth block, and
/// OpenMP teams wait for their slowest member at every barrier; both measured
/// 1.3–2.8× *slower* than one thread with the other core busy
/// (docs/kernels-report.md, question 4). Here no thread polls for more than a
/// few microseconds before it sleeps, and the caller waits only for tasks a
/// worker has actually claimed.
///
/// Reproducibility: work is always cut into tasks whose boundaries depend on
/// the problem's shape only, never on the thread count, and each task's result
/// depends on its index only; so results are bit-identical for any number of
/// threads.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace sibp {

/// A blocking thread pool: run(n, f) calls f(0) … f(n-1), each exactly once,
/// on the calling thread and the workers (tasks claimed one at a time), and
/// returns when all have finished.
///
/// Tasks are claimed with one compare-and-swap on a (generation, count, next)
/// word, so a worker that wakes late sees a new generation or no task left and
/// goes back to sleep without touching the job: the caller never waits for a
/// worker that has not been scheduled. Idle threads poll for at most `spin`,
/// then block on a condition variable.
class ThreadPool {
 public:
  /// A pool of `threads` threads in all, the caller included (threads − 1
  /// workers are started). Requires: threads ≥ 1 (else std::invalid_argument).
  explicit ThreadPool(int threads, std::chrono::nanoseconds spin = std::chrono::microseconds(5));
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Threads that run tasks, the caller included.
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs f(i) for every i in [0, tasks) and returns when all have finished.
  /// Requires: 0 ≤ tasks ≤ kMaxTasks (else std::invalid_argument); f does not
  /// call run() on this pool; one thread calls run() at a time. If f throws,
  /// the first exception caught is rethrown on the caller once every task
  /// claimed has finished (with workers, the other tasks still run; without,
  /// the loop stops at the throw).
  template <class F>
  void run(std::int64_t tasks, F&& f) {
    if (tasks <= 0) return;
    if (tasks == 1 || workers_.empty()) {
      for (std::int64_t i = 0; i < tasks; ++i) f(i);
      return;
    }
    using Fn = std::remove_reference_t<F>;
    run_erased(tasks, [](void* ctx, std::int64_t i) { (*static_cast<Fn*>(ctx))(i); },
               const_cast<void*>(static_cast<const void*>(&f)));
  }

  static constexpr std::int64_t kMaxTasks = 0xFFFF;

 private:
  using TaskFn = void (*)(void*, std::int64_t);
  // The shared word: generation (32 bits) | task count (16) | next task (16).
  static constexpr std::uint64_t gen_of(std::uint64_t w) { return w >> 32; }
  static constexpr std::uint64_t tasks_of(std::uint64_t w) { return (w >> 16) & 0xFFFF; }
  static constexpr std::uint64_t next_of(std::uint64_t w) { return w & 0xFFFF; }

  void run_erased(std::int64_t tasks, TaskFn fn, void* ctx);
  /// fn(ctx, i), its exception (if any) kept in error_.
  void run_one(TaskFn fn, void* ctx, std::int64_t i);
  bool try_claim(std::uint64_t gen, std::int64_t& index);
  void finish_one(std::int64_t tasks);
  void worker_loop();

  std::vector<std::thread> workers_;
  std::chrono::nanoseconds spin_;
  alignas(64) std::atomic<std::uint64_t> word_{0};
  alignas(64) std::atomic<std::int64_t> completed_{0};
  // The current job: written by the caller before it publishes a generation,
  // read by a worker only after it claimed a task of that generation.
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::int64_t tasks_ = 0;
  // The first exception a task of the current job threw (guarded by mutex_):
  // an exception escaping a worker's thread function would std::terminate,
  // and one escaping the caller's loop would return while workers still run
  // tasks that refer to the caller's frame; so tasks' exceptions are caught,
  // the job finishes, and run() rethrows this one.
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable wake_;  // workers sleep here
  std::condition_variable done_;  // the caller sleeps here
  int sleepers_ = 0;              // guarded by mutex_
  bool caller_sleeping_ = false;  // guarded by mutex_
  bool stop_ = false;             // guarded by mutex_
};

/// Threads the library's parallel kernels use, the caller included (≥ 1).
/// set_num_threads(n ≥ 1) fixes it; until then, or after set_num_threads(0),
/// it follows OpenMP's thread count on the calling thread
/// (omp_set_num_threads, OMP_NUM_THREADS), which is what the training run sets
/// from `--threads` and what oneDNN and the benchmarks read as well.
int num_threads();
/// Fixes num_threads() to n (n ≥ 1), or returns it to following OpenMP (n = 0).
/// Throws std::invalid_argument for n < 0.
void set_num_threads(int n);

namespace detail {
/// The process pool sized num_threads() (rebuilt when that changes), locked for
/// this call; or null when the call must run inline: one thread, already inside
/// a task (no nesting), or another thread is using the pool.
class PoolLease {
 public:
  PoolLease();
  ~PoolLease();
  PoolLease(const PoolLease&) = delete;
  PoolLease& operator=(const PoolLease&) = delete;
  ThreadPool* get() const { return pool_; }

 private:
  ThreadPool* pool_ = nullptr;
};
/// True on a thread while it runs a task of parallel_for.
bool& in_parallel_task();
}  // namespace detail

/// Runs f(i) for every i in [0, tasks) on the process pool, or in order on this
/// thread when the pool is not available (see detail::PoolLease). Results are
/// the same either way when f(i) depends on i only, which every caller in the
/// library guarantees by cutting work into shape-determined chunks. An
/// exception of f reaches the caller (see ThreadPool::run).
template <class F>
void parallel_for(std::int64_t tasks, F&& f) {
  if (tasks <= 0) return;
  if (tasks > 1) {
    detail::PoolLease lease;
    if (ThreadPool* pool = lease.get()) {
      // In jobs of at most kMaxTasks: the pool's limit must not make a call fail
      // with two threads that succeeds with one (for_column_chunks cuts a matrix
      // of more than 32 768 rows into one task per column).
      for (std::int64_t base = 0; base < tasks; base += ThreadPool::kMaxTasks) {
        pool->run(std::min(ThreadPool::kMaxTasks, tasks - base), [&](std::int64_t j) {
          const std::int64_t i = base + j;
          // Restored on unwinding too: a throwing task must not leave the thread
          // marked as inside a task (its later parallel_for calls would run inline).
          struct Mark {
            bool& flag = detail::in_parallel_task();
            const bool outer = flag;
            Mark() { flag = true; }
            ~Mark() { flag = outer; }
          } mark;
          f(i);
        });
      }
      return;
    }
  }
  for (std::int64_t i = 0; i < tasks; ++i) f(i);
}

/// Entries per chunk of for_column_chunks: 64 Ki (256 KB of floats), small enough
/// that the few arrays an element-wise step reads and writes stay in a core's L2
/// between its passes, large enough (≈ 50–100 µs a pass) to be worth a task.
inline constexpr std::int64_t kChunkElements = std::int64_t(1) << 16;

/// How for_column_chunks cuts a rows × cols matrix: `count` chunks of `size`
/// columns (the last one shorter). A function of the shape only; one chunk when
/// the matrix has at most kChunkElements entries.
struct ColumnChunks {
  std::int64_t size = 1;
  std::int64_t count = 0;
};
ColumnChunks column_chunks(std::int64_t rows, std::int64_t cols);

/// Runs fn(chunk, first_col, cols_in_chunk) for every chunk of column_chunks(rows,
/// cols), on the pool (parallel_for). Element-wise work gives the same result
/// however it is cut; a reduction that sums per-chunk partials in chunk order
/// gives the same result for any thread count, and for a matrix of one chunk
/// the result of the whole-matrix code.
template <class F>
void for_column_chunks(std::int64_t rows, std::int64_t cols, F&& fn) {
  const ColumnChunks c = column_chunks(rows, cols);
  parallel_for(c.count, [&](std::int64_t t) {
    const std::int64_t first = t * c.size;
    fn(t, first, std::min(c.size, cols - first));
  });
}

}  // namespace sibp
