#pragma once
/// Helpers shared by the test executables.
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/rng.hpp"
#include "nn/network.hpp"

namespace sibp::testing {

/// Path of the sibp binary the CLI tests run.
const char* sibp_binary();


/// A fresh empty folder under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// A writable copy of the files (not the subfolders) of the reference case
/// tests/fixtures/sibp-reference/`case_name`, in tmp/case; returns that folder.
std::filesystem::path copy_reference_case(const TempDir& tmp, const std::string& case_name = "case_b_fixed");

/// Writes bytes to a file (not atomically: tests make fixtures with it).
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

/// Runs `f` on another thread and says whether it returned (or threw) within
/// `seconds`. If it did not, it is taken to be blocked on the FIFO `fifo`:
/// a writer opens and closes the FIFO until `f` returns (that ends a blocked
/// open or read), so a reader that hangs on a FIFO fails its test instead of
/// hanging the suite. An exception of `f` is rethrown.
bool returns_without_blocking_on_fifo(const std::filesystem::path& fifo, const std::function<void()>& f,
                                      double seconds = 5);

/// Result of running a command line.
struct CommandResult {
  int exit_code = -1;
  std::string out;  ///< stdout
  std::string err;  ///< stderr
};

/// Runs the sibp binary with `args` (a shell-quoted string), capturing output.
CommandResult run_sibp(const std::string& args);

/// `p` in single quotes, for the shell-quoted arguments of run_sibp (paths made by
/// the tests hold no quote).
inline std::string q(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

/// An r×c matrix of independent N(0, scale²) entries drawn from `gen`, column by column.
template <typename T = double>
Mat<T> random_normal(Index r, Index c, std::mt19937& gen, double scale = 1.0) {
  std::normal_distribution<double> n(0.0, scale);
  Mat<T> M(r, c);
  for (Index j = 0; j < c; ++j)
    for (Index i = 0; i < r; ++i) M(i, j) = static_cast<T>(n(gen));
  return M;
}

/// The same from a fresh std::mt19937 seeded with `seed`.
template <typename T = double>
Mat<T> random_normal(Index r, Index c, unsigned seed, double scale = 1.0) {
  std::mt19937 gen(seed);
  return random_normal<T>(r, c, gen, scale);
}

/// An r×c matrix of `scale` times the library's Rng::normal() draws, column by
/// column (each draw rounded to T after scaling).
template <typename T = double>
Mat<T> random_normal(Index r, Index c, Rng& rng, double scale = 1.0) {
  Mat<T> M(r, c);
  for (Index i = 0; i < M.size(); ++i) M.data()[i] = static_cast<T>(scale * rng.normal());
  return M;
}

}  // namespace sibp::testing

namespace sibp::testing {

/// Three Gaussian blobs in 4 dimensions as a CSV with a header (label first):
/// separable enough that a small network reaches high accuracy in a few epochs.
void write_blobs(const std::filesystem::path& path, int n, unsigned seed);
/// write_blobs files `dir`/train.csv (`n_train` samples, seed 1) and
/// `dir`/test.csv (`n_test`, seed 2); returns their --data spec "csv:TRAIN,TEST".
std::string write_blob_split(const std::filesystem::path& dir, int n_train, int n_test);
inline std::string write_blob_split(const TempDir& dir, int n_train, int n_test) {
  return write_blob_split(dir.path(), n_train, n_test);
}

/// σ(z) and σ'(z) from their definitions (ALGORITHMS.md §1), in double: what the
/// vectorised float activations are checked against.
struct ActivationValue {
  double f = 0;   ///< σ(z)
  double df = 0;  ///< σ'(z)
};
ActivationValue activation_in_double(Activation a, double z);

/// Relative distance between the parameter changes of two networks from
/// `start`: ‖(a − start) − (b − start)‖ / ‖b − start‖ over every W and b.
double relative_step_difference(const Network<double>& a, const Network<double>& b, const Network<double>& start);

/// The whole content of a text file ("" if it cannot be read).
std::string slurp(const std::filesystem::path& path);

/// A PNG file: the signature, then the IHDR chunk.
bool is_png(const std::filesystem::path& path);
/// An SVG document: its first element (after an XML declaration or comments) is
/// <svg, and it ends with </svg>.
bool is_svg(const std::filesystem::path& path);

}  // namespace sibp::testing

namespace sibp::testing {

/// A network architecture with the given widths, hidden activation and loss
/// (identity output).
NetworkSpec spec_of(std::vector<Index> widths, Activation hidden, Loss loss);

/// `arch` (the --arch syntax) resolved on samples of `input` ("CxHxW" or "d").
NetworkSpec spec_of(const std::string& arch, const std::string& input, Loss loss = Loss::SoftmaxCrossEntropy);

/// The batch-mean loss of `net` on (X, Y).
double mean_loss(const Network<double>& net, const Mat<double>& X, const Mat<double>& Y);

/// ∂(mean loss)/∂X in X's layout (C·H·W, m), by walking every layer's adjoint
/// (Layer::backward_input) from the loss down to the input: the test's own walk,
/// not backprop_gradients (which stops at the lowest parametrised layer).
Mat<double> input_gradient(const Network<double>& net, const Mat<double>& X, const Mat<double>& Y);

}  // namespace sibp::testing

#include "train/backprop.hpp"
#include "train/sibp.hpp"
#include "train/update_rule.hpp"

namespace sibp::testing {

/// SIBP options from the texts of the command line (tests write them compactly):
/// `quirks` names single quirks, `compat` is "" or "authors". Validated.
/// Inline, so that the test executables of the modules below train do not link it.
inline SibpOptions sibp_options(double eta, const std::string& lambda, const std::string& solver, int solver_iters,
                                const std::string& update, const std::vector<std::string>& quirks = {},
                                const std::string& compat = "") {
  SibpOptions o;
  o.eta = eta;
  o.lambda = parse_lambda_list(lambda);
  o.solver = parse_solver_spec(solver);
  o.solver_iters = solver_iters;
  o.mode = parse_update_mode(update);
  if (compat == "authors") o.quirks = ReferenceQuirks::authors();
  for (const std::string& q : quirks) o.quirks.enable(q);
  o.validate();
  return o;
}

/// `start` after one step of SGD with lr α on `batch`'s summed loss (lr α·m on the
/// mean of its m samples): what one SIBP step tends to as λ → ∞ with η fixed (§3.1).
inline Network<double> sgd_step_on_summed_loss(const Network<double>& start, const Batch<double>& batch,
                                               double alpha) {
  Network<double> net = start;
  UpdateOptions sgd;
  sgd.lr = alpha * static_cast<double>(batch.X.cols());  // the summed loss's gradient is m × the mean's
  BackProp<double> bp(sgd);
  bp.step(net, batch);
  return net;
}

}  // namespace sibp::testing

/// The names that test files use unqualified, listed once: a test file says
/// `using namespace testing::names;` in its anonymous namespace (inside
/// namespace sibp) instead of repeating the using-declarations.
namespace sibp::testing::names {
namespace fs = std::filesystem;
using nlohmann::json;
using testing::is_png;
using testing::is_svg;
using testing::q;
using testing::run_sibp;
using testing::slurp;
using testing::TempDir;
using testing::write_blob_split;
using testing::write_blobs;
using testing::write_bytes;
}  // namespace sibp::testing::names
