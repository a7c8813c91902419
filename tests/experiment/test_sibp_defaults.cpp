// SIBP's default solvers per layer type are what the README says they are
// (chosen by measurement: docs/results.md, "CNN: SIBP's solvers on
// convolutions"), for the library's SibpOptions and for `sibp train`'s
// resolved options alike.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <variant>

#include "test_support.hpp"

#include "experiment/run_options.hpp"
#include "train/prox_fast.hpp"
#include "train/sibp.hpp"

namespace sibp {
namespace {

using testing::spec_of;

/// The text between `open` and the next `close` after the first `open` in
/// README.md ("" if absent).
std::string readme_between(const std::string& open, const std::string& close) {
  const std::string readme = testing::slurp(std::filesystem::path(SIBP_SOURCE_DIR) / "README.md");
  const std::size_t a = readme.find(open);
  if (a == std::string::npos) return "";
  const std::size_t b = readme.find(close, a + open.size());
  return b == std::string::npos ? "" : readme.substr(a + open.size(), b - a - open.size());
}

TEST(SibpDefaults, SolverSpecIsTheOneTheReadmeNames) {
  const std::string documented = readme_between("**The default is `", "`**");
  ASSERT_FALSE(documented.empty()) << "README.md: no '**The default is `...`**' sentence in the SIBP section";
  EXPECT_EQ(SolverSpec{}.to_string(), documented);
  // `sibp train` without --solver resolves to the same.
  RunOptions o;
  o.algo = Algo::SIBP;
  const RunSpec spec(o);
  EXPECT_EQ(spec.algorithm().get<SibpOptions>().solver.to_string(), documented);
}

TEST(SibpDefaults, ConvolutionsTakeTheDocumentedSolverAndIterations) {
  // README: "On a convolution ... the default runs `gn-cg` with N iterations".
  const std::string iters = readme_between("convolution layers, the default runs `gn-cg` with ", " ");
  ASSERT_FALSE(iters.empty()) << "README.md: no sentence giving the default's iterations on convolution layers";
  const SibpOptions options;
  EXPECT_EQ(std::to_string(options.solver_options(LayerKind::Conv2d).iters), iters);
  RunOptions o;
  o.algo = Algo::SIBP;
  EXPECT_EQ(std::to_string(RunSpec(o).algorithm().get<SibpOptions>().solver_options(LayerKind::Conv2d).iters),
            iters);

  // On the reference CNN every convolution and the hidden dense layer get the
  // Gauss-Newton CG solver, the linear output layer the exact one.
  const NetworkSpec net =
      spec_of("conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) dense(128) relu dense(10)",
              "1x28x28");
  Sibp<float> sibp(options, net);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_NE(dynamic_cast<GaussNewtonCgSolver<float>*>(&sibp.solver(i)), nullptr) << "layer " << i;
  EXPECT_NE(dynamic_cast<ExactLinearSolver<float>*>(&sibp.solver(3)), nullptr);
}

}  // namespace
}  // namespace sibp
