// How to wait for an MPI collective on a loaded machine (core/mpi/mpi_communicator.cpp):
// 200 allreduces of 8, 215,370 (the CNN's parameters) and 397,510 floats (the
// MLP's) between 2 ranks, blocking MPI_Allreduce against MPI_Iallreduce polled
// by MPI_Test in a spin loop, and polled with std::this_thread::yield() after
// 4096 polls (what sibp does). Not built by CMake:
//   mpicxx -O2 -o /tmp/mpi_poll bench/mpi_poll.cpp
//   mpirun --oversubscribe --bind-to none -np 2 /tmp/mpi_poll
// Measured 2 Dec 2026 04:31 UTC, load average 9 on 2 cores (shared machine),
// µs per allreduce: 8 floats 3978 / 5.4 / 0.6; 215,370: 68071 / 39566 / 7083;
// 397,510: 47567 / 24652 / 3462 (blocking / spin / yield).
#include <mpi.h>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank; MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (int n : {8, 215370, 397510}) {
    std::vector<float> v(n, 1.0f);
    for (int mode = 0; mode < 3; ++mode) {
      MPI_Barrier(MPI_COMM_WORLD);
      auto t0 = std::chrono::steady_clock::now();
      const int reps = 200;
      for (int i = 0; i < reps; ++i) {
        if (mode == 0) MPI_Allreduce(MPI_IN_PLACE, v.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        else {
          MPI_Request r; MPI_Iallreduce(MPI_IN_PLACE, v.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r);
          int done = 0; long polls = 0;
          while (!done) { MPI_Test(&r, &done, MPI_STATUS_IGNORE); if (mode == 2 && ++polls > 4096) std::this_thread::yield(); }
        }
      }
      double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
      if (rank == 0) std::printf("n=%d floats mode=%s: %.1f us per allreduce\n", n, mode == 0 ? "blocking" : mode == 1 ? "Iallreduce+spin" : "Iallreduce+yield", dt * 1e6);
    }
  }
  MPI_Finalize();
}
