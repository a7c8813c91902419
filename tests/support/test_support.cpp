#include "test_support.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <stdexcept>

namespace sibp::testing {

const char* sibp_binary() { return SIBP_BINARY; }

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "sibp-test-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path copy_reference_case(const TempDir& tmp, const std::string& case_name) {
  const fs::path src = fs::path(SIBP_FIXTURES_DIR) / "sibp-reference" / case_name;
  const fs::path dst = tmp / "case";
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src))
    if (e.is_regular_file()) {
      fs::copy_file(e.path(), dst / e.path().filename());
      fs::permissions(dst / e.path().filename(), fs::perms::owner_write, fs::perm_options::add);
    }
  return dst;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write fixture " + path.string());
}

bool returns_without_blocking_on_fifo(const fs::path& fifo, const std::function<void()>& f, double seconds) {
  std::future<void> done = std::async(std::launch::async, f);
  const bool in_time = done.wait_for(std::chrono::duration<double>(seconds)) == std::future_status::ready;
  while (done.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  done.get();
  return in_time;
}

CommandResult run_sibp(const std::string& args) {
  TempDir dir;
  const std::string out_file = (dir / "stdout").string();
  const std::string err_file = (dir / "stderr").string();
  const std::string cmd = std::string("'") + SIBP_BINARY + "' " + args + " </dev/null >'" + out_file +
                          "' 2>'" + err_file + "'";
  const int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out_file);
  r.err = slurp(err_file);
  return r;
}

void write_blobs(const fs::path& path, int n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> noise(0.0, 0.35);
  std::ofstream out(path);
  out << "label,a,b,c,d\n";
  for (int i = 0; i < n; ++i) {
    const int label = i % 3;
    out << label;
    for (int k = 0; k < 4; ++k) out << ',' << ((k % 3 == label) ? 1.0 : 0.0) + noise(gen);
    out << '\n';
  }
}

ActivationValue activation_in_double(Activation a, double z) {
  ActivationValue v{z, 1};
  switch (a) {
    case Activation::ReLU: v = {z > 0 ? z : 0, z > 0 ? 1.0 : 0.0}; break;
    case Activation::LeakyReLU: v = {z > 0 ? z : kLeakySlope * z, z > 0 ? 1 : kLeakySlope}; break;
    case Activation::Tanh: v.f = std::tanh(z); v.df = 1 - v.f * v.f; break;
    case Activation::Sigmoid: v.f = 1 / (1 + std::exp(-z)); v.df = v.f * (1 - v.f); break;
    case Activation::Identity: break;
  }
  return v;
}

double relative_step_difference(const Network<double>& a, const Network<double>& b, const Network<double>& start) {
  double diff = 0, ref = 0;
  for (std::size_t l = 0; l < start.num_param_layers(); ++l) {
    diff += (a.params(l).W - b.params(l).W).squaredNorm() + (a.params(l).b - b.params(l).b).squaredNorm();
    ref += (b.params(l).W - start.params(l).W).squaredNorm() + (b.params(l).b - start.params(l).b).squaredNorm();
  }
  return std::sqrt(diff / ref);
}

std::string write_blob_split(const fs::path& dir, int n_train, int n_test) {
  write_blobs(dir / "train.csv", n_train, 1);
  write_blobs(dir / "test.csv", n_test, 2);
  return "csv:" + (dir / "train.csv").string() + "," + (dir / "test.csv").string();
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_png(const fs::path& path) {
  const std::string b = slurp(path);
  return b.size() > 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0 && b.compare(12, 4, "IHDR") == 0;
}

bool is_svg(const fs::path& path) {
  std::string s = slurp(path);
  std::size_t at = 0;
  while ((at = s.find('<', at)) != std::string::npos && (s.compare(at, 2, "<?") == 0 || s.compare(at, 2, "<!") == 0))
    at = s.find('>', at);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return at != std::string::npos && s.compare(at, 4, "<svg") == 0 && s.size() > 6 &&
         s.compare(s.size() - 6, 6, "</svg>") == 0;
}

NetworkSpec spec_of(std::vector<Index> widths, Activation hidden, Loss loss) {
  return NetworkSpec::mlp(widths, hidden, loss);
}

NetworkSpec spec_of(const std::string& arch, const std::string& input, Loss loss) {
  return NetworkSpec::build(Architecture::parse(arch), Shape::parse(input), loss);
}

double mean_loss(const Network<double>& net, const Mat<double>& X, const Mat<double>& Y) {
  Tape<double> work;
  return loss_sum<double>(net.loss(), net.predict(X, work), Y) / static_cast<double>(X.cols());
}

Mat<double> input_gradient(const Network<double>& net, const Mat<double>& X, const Mat<double>& Y) {
  Tape<double> tape;
  net.forward(X, tape);
  const Index m = X.cols();
  Mat<double> D, below, work;
  loss_sum<double>(net.loss(), tape.output(), Y, &D);
  D /= static_cast<double>(m);
  for (std::size_t k = net.num_layers(); k-- > 0;) {
    const Layer<double>& layer = net.layer(k);
    const LayerRecord<double>& rec = tape.layers[k];
    if (layer.params()) multiply_by_derivative<double>(layer.spec().act, rec.G, rec.F, D);
    layer.backward_input(rec, D, m, below, work);
    D.swap(below);
  }
  // D is in the layout of tape.input: vectors, or the image layout when the
  // network converted its input for a first convolution or pooling.
  if (D.rows() == X.rows() && D.cols() == m) return D;
  Mat<double> dX;
  image_to_vectors<double>(D, net.spec().input, m, dX);
  return dX;
}

}  // namespace sibp::testing
