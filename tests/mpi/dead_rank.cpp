// A rank that fails its peers, for tests/mpi/failures.sh. Started by mpirun in
// place of `sibp` on one rank (MPMD: `mpirun -np 1 sibp ... : -np 1 mpi_dead_rank MODE`),
// it joins MPI_COMM_WORLD and then
//   hang — never enters a collective (sleeps far past SIBP_MPI_TIMEOUT): the
//          other ranks must give up with a time-out naming their collective;
//   exit — ends at once without MPI_Finalize, as a crashed process does:
//          the launcher must end the job, with a non-zero status.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/communicator.hpp"

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "hang") != 0 && std::strcmp(argv[1], "exit") != 0)) {
    std::fprintf(stderr, "usage: mpi_dead_rank hang|exit\n");
    return 2;
  }
  const auto comm = sibp::make_world_communicator();
  if (std::strcmp(argv[1], "exit") == 0) std::_Exit(7);
  std::this_thread::sleep_for(std::chrono::seconds(120));
  return 0;
}
