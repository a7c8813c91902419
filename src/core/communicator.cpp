#include "core/communicator.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.hpp"

namespace sibp {

namespace {
template <typename T>
void copy_own_block(const T* send, const std::vector<std::size_t>& counts, T* recv) {
  if (!counts.empty() && counts[0] > 0) std::memcpy(recv, send, counts[0] * sizeof(T));
}
}  // namespace

void SingleProcess::allgatherv(const double* send, const std::vector<std::size_t>& counts, double* recv,
                               const char*) {
  copy_own_block(send, counts, recv);
}
void SingleProcess::allgatherv(const float* send, const std::vector<std::size_t>& counts, float* recv,
                               const char*) {
  copy_own_block(send, counts, recv);
}

Communicator& single_process() {
  static SingleProcess one;
  return one;
}

std::vector<Index> allgather_counts(Communicator& comm, Index cols, const char* what) {
  std::vector<double> v(static_cast<std::size_t>(comm.size()), 0.0);
  v[static_cast<std::size_t>(comm.rank())] = static_cast<double>(cols);
  comm.allreduce_sum(v.data(), v.size(), what);
  std::vector<Index> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](double x) { return static_cast<Index>(x); });
  return out;
}

template <typename T>
void allgather_columns(Communicator& comm, const Eigen::Ref<const Mat<T>>& local, const std::vector<Index>& cols,
                       Mat<T>& all, const char* what) {
  const Index rows = local.rows();
  const Index total = std::accumulate(cols.begin(), cols.end(), Index(0));
  if (cols.size() != static_cast<std::size_t>(comm.size()) || cols[static_cast<std::size_t>(comm.rank())] != local.cols())
    throw std::invalid_argument(std::string("allgather_columns (") + what + "): the column counts do not match");
  all.resize(rows, total);
  std::vector<std::size_t> counts(cols.size());
  for (std::size_t r = 0; r < cols.size(); ++r) counts[r] = static_cast<std::size_t>(cols[r] * rows);
  // A strided view (a block of a larger matrix) is packed first: the collective
  // sends one contiguous block per rank.
  if (local.outerStride() == rows || local.cols() <= 1) {
    comm.allgatherv(local.data(), counts, all.data(), what);
  } else {
    const Mat<T> packed = local;
    comm.allgatherv(packed.data(), counts, all.data(), what);
  }
}

template void allgather_columns<float>(Communicator&, const Eigen::Ref<const Mat<float>>&, const std::vector<Index>&,
                                       Mat<float>&, const char*);
template void allgather_columns<double>(Communicator&, const Eigen::Ref<const Mat<double>>&,
                                        const std::vector<Index>&, Mat<double>&, const char*);

#ifndef SIBP_HAVE_MPI
std::unique_ptr<Communicator> make_world_communicator() { return std::make_unique<SingleProcess>(); }
bool mpi_available() { return false; }
void abort_job(Communicator&, int) {}
#endif

}  // namespace sibp
