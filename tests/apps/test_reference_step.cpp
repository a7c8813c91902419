// `sibp reference-step`: the golden cases through the command line, and
// malformed case folders (exit 1 naming the file).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "test_support.hpp"

namespace sibp {
namespace {

namespace fs = std::filesystem;
using testing::run_sibp;
using testing::TempDir;

fs::path case_dir(const std::string& name) { return fs::path(SIBP_FIXTURES_DIR) / "sibp-reference" / name; }

using testing::q;

TEST(ReferenceStepCli, OriginalCaseMatchesWithAuthorsCompat) {
  TempDir out;
  const auto r = run_sibp("reference-step " + q(case_dir("case_b_original")) + " --out " + q(out.path() / "res") +
                          " --compat authors --tol 1e-9");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("W1_after.bin"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;
  for (const char* f : {"W1_after.bin", "b3_after.bin", "manifest.json", "intermediate/F4_target.bin"})
    EXPECT_TRUE(fs::exists(out.path() / "res" / f)) << f;
  EXPECT_EQ(fs::file_size(out.path() / "res" / "W1_after.bin"), fs::file_size(case_dir("case_b_original") / "W1_after.bin"));
}

TEST(ReferenceStepCli, FixedCaseMatchesWithTwoQuirks) {
  TempDir out;
  const auto r = run_sibp("reference-step " + q(case_dir("case_b_fixed")) + " --out " + q(out.path()) +
                          " --quirk armijo-jump --quirk skip-unit-step");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(ReferenceStepCli, WrongQuirksExceedTheTolerance) {
  // The clean solver does not reproduce the authors' step: exit 1, and the
  // table marks the tensors that differ.
  TempDir out;
  const auto r = run_sibp("reference-step " + q(case_dir("case_b_original")) + " --out " + q(out.path()));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("--tol"), std::string::npos) << r.err;
}

TEST(ReferenceStepCli, MissingFileIsExit1NamingIt) {
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  fs::remove(c / "W2_before.bin");
  const auto r = run_sibp("reference-step " + q(c) + " --out " + q(tmp.path() / "out"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("W2_before.bin"), std::string::npos) << r.err;
}

TEST(ReferenceStepCli, WrongSizeIsExit1NamingIt) {
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  testing::write_bytes(c / "b1_before.bin", std::string(24, '\0'));
  const auto r = run_sibp("reference-step " + q(c) + " --out " + q(tmp.path() / "out"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("b1_before.bin"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("512"), std::string::npos) << "expected size in bytes: " << r.err;
}

TEST(ReferenceStepCli, BadManifestFieldIsExit1NamingIt) {
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  std::string m;
  {
    std::ifstream in(c / "manifest.json");
    m.assign(std::istreambuf_iterator<char>(in), {});
  }
  const auto pos = m.find("\"<f8\"");
  ASSERT_NE(pos, std::string::npos);
  m.replace(pos, 5, "\">f4\"");
  testing::write_bytes(c / "manifest.json", m);
  const auto r = run_sibp("reference-step " + q(c) + " --out " + q(tmp.path() / "out"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("dtype"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("X.bin"), std::string::npos) << r.err;
}

TEST(ReferenceStepCli, UnknownQuirkIsUsageError) {
  TempDir tmp;
  const auto r = run_sibp("reference-step " + q(case_dir("case_b_fixed")) + " --out " + q(tmp.path()) +
                          " --quirk faster");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("faster"), std::string::npos) << r.err;
}

/// Overwrites element k of a raw float64 file with `value`.
void poke_f64(const fs::path& file, std::size_t k, double value) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(8 * k));
  f.write(reinterpret_cast<const char*>(&value), sizeof value);
}

TEST(ReferenceStepCli, ANonFiniteReferenceValueFailsNamingTheTensor) {
  // Every comparison with NaN is false, so a NaN passed any tolerance (and
  // Eigen's maxCoeff may skip it): the step "matched" a broken reference.
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  poke_f64(c / "W1_after.bin", 5, std::nan(""));
  auto r = run_sibp("reference-step " + q(c) + " --out " + q(tmp.path() / "out") +
                    " --quirk armijo-jump --quirk skip-unit-step");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("W1_after.bin"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reference NaN at (5, 0)"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("FAIL"), std::string::npos) << r.out;

  TempDir tmp2;
  const fs::path d = testing::copy_reference_case(tmp2);
  poke_f64(d / "b2_after.bin", 0, -std::numeric_limits<double>::infinity());
  r = run_sibp("reference-step " + q(d) + " --out " + q(tmp.path() / "out2") +
               " --quirk armijo-jump --quirk skip-unit-step --tol 1e300");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("b2_after.bin"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reference Inf at (0, 0)"), std::string::npos) << r.err;
}

TEST(ReferenceStepCli, ADeeplyNestedManifestIsExit1) {
  TempDir tmp;
  const fs::path c = testing::copy_reference_case(tmp);
  testing::write_bytes(c / "manifest.json", std::string(100000, '[') + std::string(100000, ']'));
  const auto r = run_sibp("reference-step " + q(c) + " --out " + q(tmp.path() / "out"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("manifest.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nested too deeply"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sibp
