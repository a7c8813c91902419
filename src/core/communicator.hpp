#pragma once
/// Collectives of data-parallel training (ALGORITHMS.md §6): every rank holds
/// a shard of each batch, and every sum over samples that an algorithm needs is
/// a sum of per-shard sums. This interface is all the library asks of MPI, so
/// everything above core compiles without it; the MPI implementation
/// (core/mpi/mpi_communicator.cpp) is built only with the CMake option SIBP_MPI.
///
/// Determinism: every implementation delivers the *same bits* to every rank
/// (the MPI one reduces onto rank 0 and broadcasts the result when R > 2), so
/// ranks that compute deterministically on reduced data keep bit-identical
/// parameters without ever broadcasting them.
///
/// Failure: a collective that does not complete within the time-out (a rank
/// died or hangs) throws CommError naming the collective and what it carried,
/// instead of waiting forever.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace sibp {

/// A collective did not complete (time-out, or MPI reported an error).
/// The CLI exits with code 1 and ends the whole job.
class CommError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bytes this rank sent into collectives since the last reset (payload only:
/// what an algorithm asks to reduce or contributes to a gather, not MPI's own
/// traffic, which depends on the reduction tree). Printed by `sibp train` and
/// used by docs/SCALING.md.
struct CommVolume {
  std::uint64_t allreduce_calls = 0, allreduce_bytes = 0;
  std::uint64_t gather_calls = 0, gather_bytes = 0;  ///< bytes of the gathered result
  std::uint64_t broadcast_calls = 0, broadcast_bytes = 0;
  std::uint64_t barrier_calls = 0;
};

/// The processes of one data-parallel job.
class Communicator {
 public:
  virtual ~Communicator() = default;
  /// 0-based index of this process.
  virtual int rank() const = 0;
  /// Number of processes R ≥ 1.
  virtual int size() const = 0;
  /// data[i] ← Σ over ranks of data[i], the same bits on every rank. `what`
  /// names the sum in a time-out message ("sgd gradients").
  virtual void allreduce_sum(double* data, std::size_t n, const char* what) = 0;
  virtual void allreduce_sum(float* data, std::size_t n, const char* what) = 0;
  /// recv ← the concatenation of every rank's `send` block in rank order;
  /// counts[r] = values of rank r (counts[rank()] must be `send`'s length).
  virtual void allgatherv(const double* send, const std::vector<std::size_t>& counts, double* recv,
                          const char* what) = 0;
  virtual void allgatherv(const float* send, const std::vector<std::size_t>& counts, float* recv,
                          const char* what) = 0;
  /// `bytes` bytes of rank `root`'s `data` copied to every rank.
  virtual void broadcast(void* data, std::size_t bytes, int root, const char* what) = 0;
  virtual void barrier(const char* what) = 0;

  /// Marks the failure being thrown as one every rank reached at the same
  /// point, from the same collective result (a disagreement found before
  /// training): no rank is left waiting, so the job can end normally, each
  /// rank printing its message, instead of being aborted (abort_job).
  void mark_failed_on_every_rank() { failed_on_every_rank_ = true; }
  bool failed_on_every_rank() const { return failed_on_every_rank_; }

  const CommVolume& volume() const { return volume_; }
  void reset_volume() { volume_ = {}; }
  bool is_root() const { return rank() == 0; }

 protected:
  CommVolume volume_;
  bool failed_on_every_rank_ = false;
};

/// One process: every collective is the identity (allgatherv copies). Costs nothing.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(double*, std::size_t, const char*) override {}
  void allreduce_sum(float*, std::size_t, const char*) override {}
  void allgatherv(const double* send, const std::vector<std::size_t>& counts, double* recv, const char*) override;
  void allgatherv(const float* send, const std::vector<std::size_t>& counts, float* recv, const char*) override;
  void broadcast(void*, std::size_t, int, const char*) override {}
  void barrier(const char*) override {}
};

/// A process-wide single-process communicator: the default of every object
/// that takes one, so code that never heard of MPI runs as before.
Communicator& single_process();

/// The communicator of this process: MPI's world when the build has SIBP_MPI
/// and the process was started by mpirun/mpiexec (it sees the launcher's
/// environment), else a SingleProcess. The MPI one initialises MPI on
/// construction and finalises it on destruction; create at most one.
/// Time-out of its collectives: $SIBP_MPI_TIMEOUT seconds (default 300).
/// Throws UsageError for a malformed SIBP_MPI_TIMEOUT.
std::unique_ptr<Communicator> make_world_communicator();

/// True when this build can run across processes (SIBP_MPI).
bool mpi_available();

/// Ends every process of the job with `code` after a failure on this one
/// (MPI_Abort); with one process, does nothing. For the CLI only: a library
/// never exits.
void abort_job(Communicator& comm, int code);

/// Columns [begin, end) of rank r's shard of n items split over R ranks:
/// begin = ⌊n r / R⌋ (ALGORITHMS.md §6: the same order on every rank, rank r takes
/// its slice). Shards differ in size by at most one item; some are empty when n < R.
struct Shard {
  Index begin = 0, end = 0;
  Index size() const { return end - begin; }
};
inline Shard shard_of(Index n, int rank, int size) {
  return {n * rank / size, n * (rank + 1) / size};
}

/// Σ over ranks of a (small) integer count, through a double allreduce (exact
/// below 2^53).
inline Index allreduce_count(Communicator& comm, Index local, const char* what) {
  double v = static_cast<double>(local);
  comm.allreduce_sum(&v, 1, what);
  return static_cast<Index>(v);
}

/// Σ over ranks of a double.
inline double allreduce_value(Communicator& comm, double local, const char* what) {
  comm.allreduce_sum(&local, 1, what);
  return local;
}

/// Every matrix of `mats` and vector of `vecs` summed over ranks in ONE
/// allreduce (packed into `buffer`, kept by the caller to avoid allocation):
/// one latency per step instead of one per tensor.
template <typename T>
void allreduce_tensors(Communicator& comm, std::vector<Mat<T>>& mats, std::vector<Vec<T>>& vecs,
                       std::vector<T>& buffer, const char* what) {
  if (comm.size() == 1) return;
  std::size_t n = 0;
  for (const auto& m : mats) n += static_cast<std::size_t>(m.size());
  for (const auto& v : vecs) n += static_cast<std::size_t>(v.size());
  buffer.resize(n);
  std::size_t at = 0;
  for (const auto& m : mats) { std::copy(m.data(), m.data() + m.size(), buffer.data() + at); at += m.size(); }
  for (const auto& v : vecs) { std::copy(v.data(), v.data() + v.size(), buffer.data() + at); at += v.size(); }
  comm.allreduce_sum(buffer.data(), n, what);
  at = 0;
  for (auto& m : mats) { std::copy(buffer.data() + at, buffer.data() + at + m.size(), m.data()); at += m.size(); }
  for (auto& v : vecs) { std::copy(buffer.data() + at, buffer.data() + at + v.size(), v.data()); at += v.size(); }
}

/// Column counts of every rank for a local count `cols` (one small allreduce).
std::vector<Index> allgather_counts(Communicator& comm, Index cols, const char* what);

/// all ← [local_0 local_1 … local_{R-1}]: the columns of every rank's matrix in rank
/// order (column-major storage makes each rank's block contiguous). `cols` are
/// every rank's column counts (allgather_counts). Requires: equal row counts.
template <typename T>
void allgather_columns(Communicator& comm, const Eigen::Ref<const Mat<T>>& local, const std::vector<Index>& cols,
                       Mat<T>& all, const char* what);

}  // namespace sibp
