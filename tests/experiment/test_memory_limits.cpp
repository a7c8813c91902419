// Issue 21: the memory estimate honours the process's address-space limit
// (RLIMIT_AS, `ulimit -v`), not only the machine's physical memory.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "experiment/training_run.hpp"

namespace sibp {
namespace {

/// The process's current virtual size in bytes (VmSize of /proc/self/status), 0 if unknown.
double virtual_size_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmSize:", 0) == 0) return std::stod(line.substr(7)) * 1024.0;
  return 0.0;
}

double physical_bytes() {
  return static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
}

TEST(MemoryCheck, AnAddressSpaceLimitBelowTheEstimateIsRefusedNamingIt) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: no limit can be set under it";
#else
  const double used = virtual_size_bytes();
  ASSERT_GT(used, 0.0);
  const double limit = used + 256e6;
  // A network whose estimate lies 1 GB above the limit (dense d -> d -> 2, f32,
  // eight copies of its parameters): fits this machine, not the limit.
  const Index d = static_cast<Index>(std::sqrt((limit + 1e9) / 32.0));
  const NetworkSpec spec = NetworkSpec::mlp({d, d, 2});
  const double need = estimated_training_bytes(spec, 10, DType::F32);
  if (need >= physical_bytes()) GTEST_SKIP() << "the machine has too little memory for this test";
  if (address_space_limit_bytes() > 0) GTEST_SKIP() << "the test process runs under an address-space limit already";
  EXPECT_NO_THROW(check_training_memory(spec, 10, DType::F32));

  // The limit is set in a child: it would hold for the rest of the test run.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct rlimit r {};
    r.rlim_cur = r.rlim_max = static_cast<rlim_t>(limit);
    if (::setrlimit(RLIMIT_AS, &r) != 0) ::_exit(3);
    try {
      check_training_memory(spec, 10, DType::F32);
    } catch (const UsageError& e) {
      const std::string msg = e.what();
      const bool names_both = msg.find("the run needs about") != std::string::npos &&
                              msg.find("address-space limit") != std::string::npos &&
                              msg.find("RLIMIT_AS") != std::string::npos;
      ::_exit(names_both ? 0 : 2);
    }
    ::_exit(1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: accepted; 2: the message does not name the limit; 3: setrlimit failed";
#endif
}

}  // namespace
}  // namespace sibp
