// The `sibp` command line: parses argv, runs one subcommand, maps errors to
// exit codes (2 bad usage, 1 bad data or I/O, 3 diverged training).
#include <malloc.h>

#include <cstdlib>
#include <iostream>

#include "commands.hpp"
#include "core/error.hpp"

#include <Eigen/Core>

namespace {
sibp::Communicator* g_comm = nullptr;
}  // namespace

sibp::Communicator& sibp::cli::communicator() { return g_comm ? *g_comm : sibp::single_process(); }

namespace {
int run_cli(int argc, char** argv, const std::string& who);
}  // namespace

int main(int argc, char** argv) {
  // Under mpirun: MPI's world, initialised before anything else runs and
  // finalised when main returns; without it one process, as before.
  std::unique_ptr<sibp::Communicator> comm;
  try {
    comm = sibp::make_world_communicator();
  } catch (const std::exception& e) {
    std::cerr << "sibp: error: " << e.what() << "\n";
    return 2;
  }
  g_comm = comm.get();
  const std::string who = comm->size() > 1 ? "sibp (rank " + std::to_string(comm->rank()) + "): " : "sibp: ";
  const int code = run_cli(argc, argv, who);
  // A failure on one rank must not leave the others waiting in a collective:
  // end the whole job with this rank's code (its message is printed above).
  // A failure every rank reached together (they disagree on the run) ends
  // each of them normally instead, so every rank's message is printed.
  if (code != 0 && comm->size() > 1 && !comm->failed_on_every_rank()) {
    std::cerr.flush();
    sibp::abort_job(*comm, code);
  }
  g_comm = nullptr;
  return code;
}

namespace {
int run_cli(int argc, char** argv, const std::string& who) {
  // Eigen's GEMM allocates its packing buffers on every product. Above
  // glibc's mmap threshold each of those is a fresh mmap and a burst of page
  // faults (measured: ~20% of a Gauss-Newton solve); keeping them on the heap
  // makes the per-batch loop allocation-free in practice.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  // One thread unless a command asks for more (sibp train --threads): see RunOptions::threads.
  Eigen::setNbThreads(1);
  CLI::App app{"sibp: train neural networks with Semi-Implicit Back Propagation (Liu & Zhang 2020)\n"
               "and compare it with SGD, Adam and Proximal Backpropagation."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sibp ") + SIBP_VERSION);
  sibp::cli::register_train(app);
  sibp::cli::register_eval(app);
  sibp::cli::register_data(app);
  sibp::cli::register_reference_step(app);
  sibp::cli::register_compare(app);
  sibp::cli::register_sweep(app);
  sibp::cli::register_plot(app);
  sibp::cli::register_options(app);
  sibp::cli::register_results(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const sibp::cli::Exit& e) {
    return e.code;
  } catch (const sibp::UsageError& e) {
    std::cerr << (who + "error: " + e.what() + "\n");
    return 2;
  } catch (const sibp::DataError& e) {
    std::cerr << (who + "error: " + e.what() + "\n");
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << (who + "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::cerr << (who + "error: " + e.what() + "\n");
    return 1;
  }
  return 0;
}
}  // namespace
