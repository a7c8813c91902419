// The blocking thread pool of src/core/thread_pool.hpp: ThreadPool::run and
// parallel_for run every index exactly once (also with zero, one and nested
// tasks, and when two threads ask for the pool at once), exceptions of tasks
// reach the caller and leave the pool usable, and the chunked reductions the
// library builds on for_column_chunks give bit-identical sums for 1, 2 and 3
// threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "scoped_threads.hpp"
#include "core/thread_pool.hpp"

namespace sibp {
namespace {

/// Counts per index, to check "each exactly once".
std::vector<int> counts(const std::vector<std::atomic<int>>& hits) {
  std::vector<int> c;
  for (const auto& h : hits) c.push_back(h.load());
  return c;
}

TEST(ThreadPool, RunsEveryTaskExactlyOnceForAnyPoolSize) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    // Many jobs in a row: a worker that wakes late must not run a task of an
    // old job twice or skip one of the new job.
    for (std::int64_t tasks : {0, 1, 2, 3, 7, 64, 1000}) {
      for (int rep = 0; rep < 20; ++rep) {
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(tasks));
        pool.run(tasks, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); });
        EXPECT_EQ(counts(hits), std::vector<int>(static_cast<std::size_t>(tasks), 1))
            << threads << " threads, " << tasks << " tasks";
      }
    }
  }
}

TEST(ThreadPool, WorkersTakePartWhenTasksTakeTime) {
  // Otherwise every thread-count test below would compare one thread with itself.
  // 20 tasks of 2 ms: a worker wakes within ~0.2 ms (REPORT.md), so it runs some.
  ThreadPool pool(3);
  std::mutex m;
  std::set<std::thread::id> ids;
  pool.run(20, [&](std::int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard<std::mutex> lock(m);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_GE(ids.size(), 2u);
}

TEST(ThreadPool, RejectsInvalidSizes) {
  EXPECT_THROW(ThreadPool(0), std::invalid_argument);
  EXPECT_THROW(ThreadPool(-2), std::invalid_argument);
  ThreadPool pool(2);
  EXPECT_THROW(pool.run(ThreadPool::kMaxTasks + 1, [](std::int64_t) {}), std::invalid_argument);
  // The largest job is accepted and still runs every task once.
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(ThreadPool::kMaxTasks));
  pool.run(ThreadPool::kMaxTasks, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); });
  EXPECT_EQ(counts(hits), std::vector<int>(hits.size(), 1));
}

TEST(ThreadPool, AnExceptionOfATaskReachesTheCallerAndThePoolStaysUsable) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (std::int64_t bad : {0, 5, 99}) {
      std::atomic<int> ran{0};
      try {
        pool.run(100, [&](std::int64_t i) {
          if (i == bad) throw std::runtime_error("task " + std::to_string(i));
          ran.fetch_add(1);
        });
        ADD_FAILURE() << "no exception, " << threads << " threads";
      } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "task " + std::to_string(bad));
      }
      // Without workers the loop stops at the throw; with them, the rest still runs.
      if (threads > 1) {
        EXPECT_EQ(ran.load(), 99);
      }
      // The next job runs normally and does not rethrow the old exception.
      std::vector<std::atomic<int>> hits(50);
      EXPECT_NO_THROW(pool.run(50, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); }));
      EXPECT_EQ(counts(hits), std::vector<int>(50, 1));
    }
  }
}

TEST(ParallelFor, RunsEveryIndexExactlyOnceForOneTwoAndThreeThreads) {
  for (int n : {1, 2, 3}) {
    testing::ScopedThreads threads(n);
    EXPECT_EQ(num_threads(), n);
    for (std::int64_t tasks : {-1, 0, 1, 2, 5, 300}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(std::max<std::int64_t>(tasks, 0)));
      parallel_for(tasks, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); });
      EXPECT_EQ(counts(hits), std::vector<int>(hits.size(), 1)) << n << " threads, " << tasks << " tasks";
    }
  }
}

TEST(ParallelFor, MoreTasksThanOneJobOfThePoolHolds) {
  // for_column_chunks makes one task per column of a matrix taller than
  // kChunkElements / 2: more than kMaxTasks for a wide one. It must run with
  // any thread count, not only inline.
  const std::int64_t tasks = 2 * ThreadPool::kMaxTasks + 5;
  for (int n : {1, 2, 3}) {
    testing::ScopedThreads threads(n);
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(tasks));
    parallel_for(tasks, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)]++; });
    EXPECT_EQ(counts(hits), std::vector<int>(hits.size(), 1)) << n << " threads";
  }
  EXPECT_EQ(column_chunks(kChunkElements + 1, 70000).count, 70000);
}

TEST(ParallelFor, NestedCallsRunInlineOnTheOuterTasksThread) {
  testing::ScopedThreads threads(3);
  constexpr int kOuter = 6, kInner = 7;
  std::vector<std::atomic<int>> hits(kOuter * kInner);
  std::atomic<int> foreign{0};
  parallel_for(kOuter, [&](std::int64_t o) {
    EXPECT_TRUE(detail::in_parallel_task());
    const std::thread::id outer = std::this_thread::get_id();
    parallel_for(kInner, [&](std::int64_t i) {
      if (std::this_thread::get_id() != outer) foreign.fetch_add(1);
      hits[static_cast<std::size_t>(o * kInner + i)].fetch_add(1);
    });
    EXPECT_TRUE(detail::in_parallel_task());  // restored to the outer task's mark
  });
  EXPECT_FALSE(detail::in_parallel_task());
  EXPECT_EQ(counts(hits), std::vector<int>(kOuter * kInner, 1));
  EXPECT_EQ(foreign.load(), 0);
}

TEST(ParallelFor, TwoCallersAtOnceBothFinishEveryIndex) {
  // The second caller finds the pool taken and runs inline (same results).
  testing::ScopedThreads threads(2);
  constexpr int kTasks = 2000;
  std::vector<std::atomic<int>> a(kTasks), b(kTasks);
  auto work = [](std::vector<std::atomic<int>>& hits) {
    for (int rep = 0; rep < 20; ++rep)
      parallel_for(kTasks / 20, [&](std::int64_t i) { hits[static_cast<std::size_t>(rep * (kTasks / 20) + i)]++; });
  };
  std::thread other([&] { work(b); });
  work(a);
  other.join();
  EXPECT_EQ(counts(a), std::vector<int>(kTasks, 1));
  EXPECT_EQ(counts(b), std::vector<int>(kTasks, 1));
}

TEST(ParallelFor, AnExceptionReachesTheCallerAndClearsTheTaskMark) {
  for (int n : {1, 2, 3}) {
    testing::ScopedThreads threads(n);
    EXPECT_THROW(parallel_for(40, [](std::int64_t i) {
                   if (i == 17) throw std::out_of_range("17");
                 }),
                 std::out_of_range);
    // The caller ran tasks too: it must not stay marked as inside one, or every
    // later parallel_for on this thread would silently run on one thread.
    EXPECT_FALSE(detail::in_parallel_task()) << n << " threads";
    std::vector<std::atomic<int>> hits(40);
    parallel_for(40, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)]++; });
    EXPECT_EQ(counts(hits), std::vector<int>(40, 1));
  }
}

TEST(NumThreads, SetterFixesItAndZeroFollowsOpenMp) {
  const int following = num_threads();
  EXPECT_GE(following, 1);
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
  set_num_threads(0);
  EXPECT_EQ(num_threads(), following);
  EXPECT_THROW(set_num_threads(-1), std::invalid_argument);
  EXPECT_EQ(num_threads(), following);
}

TEST(ColumnChunks, CoverTheColumnsInChunksOfAtMostTheChunkSize) {
  for (std::int64_t rows : {std::int64_t(0), std::int64_t(1), std::int64_t(3), std::int64_t(16), std::int64_t(100),
                            std::int64_t(1000), kChunkElements, kChunkElements + 1}) {
    for (std::int64_t cols : {0, 1, 5, 100, 4097, 78400}) {
      const ColumnChunks c = column_chunks(rows, cols);
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
      if (cols == 0) {
        EXPECT_EQ(c.count, 0);
        continue;
      }
      EXPECT_GE(c.size, 1);
      EXPECT_EQ(c.count, (cols + c.size - 1) / c.size);
      // A chunk holds at most kChunkElements entries unless one column is more.
      EXPECT_LE(c.size * std::max<std::int64_t>(rows, 1), std::max(kChunkElements, rows));
      if (rows >= 1 && rows * cols <= kChunkElements) {
        EXPECT_EQ(c.count, 1);
      }
      // for_column_chunks visits exactly these chunks, each column once.
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(cols));
      std::vector<std::atomic<int>> seen(static_cast<std::size_t>(c.count));
      testing::ScopedThreads threads(2);
      for_column_chunks(rows, cols, [&](std::int64_t t, std::int64_t first, std::int64_t n) {
        EXPECT_EQ(first, t * c.size);
        EXPECT_EQ(n, std::min(c.size, cols - first));
        seen[static_cast<std::size_t>(t)]++;
        for (std::int64_t j = first; j < first + n; ++j) hits[static_cast<std::size_t>(j)]++;
      });
      EXPECT_EQ(counts(hits), std::vector<int>(hits.size(), 1));
      EXPECT_EQ(counts(seen), std::vector<int>(seen.size(), 1));
    }
  }
}

/// A float sum of x² over a rows × cols matrix (column-major), per-chunk partials
/// added in chunk order: the pattern of the library's chunked reductions. In
/// float so that any change of the summation order shows in the last bits.
float chunked_sum_of_squares(const std::vector<float>& x, std::int64_t rows, std::int64_t cols) {
  std::vector<float> parts(static_cast<std::size_t>(column_chunks(rows, cols).count));
  for_column_chunks(rows, cols, [&](std::int64_t t, std::int64_t first, std::int64_t n) {
    float s = 0;
    for (std::int64_t k = first * rows; k < (first + n) * rows; ++k) s += x[static_cast<std::size_t>(k)] * x[static_cast<std::size_t>(k)];
    parts[static_cast<std::size_t>(t)] = s;
  });
  float sum = 0;
  for (float p : parts) sum += p;
  return sum;
}

TEST(ColumnChunks, ChunkedReductionIsBitIdenticalForOneTwoAndThreeThreads) {
  const std::int64_t rows = 37, cols = 20000;  // 740 000 entries: 12 chunks
  ASSERT_GT(column_chunks(rows, cols).count, 3);
  std::vector<float> x(static_cast<std::size_t>(rows * cols));
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = std::sin(0.37f * static_cast<float>(k)) * 3.f;
  float sums[3];
  double exact = 0;
  for (float v : x) exact += static_cast<double>(v) * v;
  for (int n : {1, 2, 3}) {
    testing::ScopedThreads threads(n);
    sums[n - 1] = chunked_sum_of_squares(x, rows, cols);
  }
  EXPECT_EQ(std::memcmp(&sums[0], &sums[1], sizeof(float)), 0) << sums[0] << " vs " << sums[1];
  EXPECT_EQ(std::memcmp(&sums[0], &sums[2], sizeof(float)), 0) << sums[0] << " vs " << sums[2];
  // And it is the sum: float rounding over 62 000 terms per chunk, ≤ 62 000·2⁻²⁴ relative.
  EXPECT_NEAR(sums[0], exact, 4e-3 * exact);
}

}  // namespace
}  // namespace sibp
