#include "io/reference_case.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_read.hpp"

namespace sibp {
namespace fs = std::filesystem;
using nlohmann::json;

static_assert(std::endian::native == std::endian::little,
              "reference cases are little-endian float64; this reader copies bytes as they are");

namespace {

std::string manifest_path(const fs::path& dir) { return (dir / "manifest.json").string(); }

[[noreturn]] void bad_field(const fs::path& dir, const std::string& field, const std::string& what) {
  throw DataError(manifest_path(dir) + ": field '" + field + "': " + what);
}

const json& require(const fs::path& dir, const json& obj, const std::string& key, const std::string& where) {
  if (!obj.is_object() || !obj.contains(key)) bad_field(dir, where + key, "missing");
  return obj.at(key);
}

double require_positive(const fs::path& dir, const json& v, const std::string& field) {
  if (!v.is_number()) bad_field(dir, field, "expected a number, found " + json_excerpt(v));
  const double x = v.get<double>();
  if (!(x > 0)) bad_field(dir, field, "expected a number > 0, found " + json_excerpt(v));
  return x;
}

std::string W_name(std::size_t l, const char* when) { return "W" + std::to_string(l) + "_" + when + ".bin"; }
std::string b_name(std::size_t l, const char* when) { return "b" + std::to_string(l) + "_" + when + ".bin"; }

void put_raw_f64(std::string& bytes, const double* data, Index n) {
  const std::size_t off = bytes.size();
  bytes.resize(off + static_cast<std::size_t>(n) * sizeof(double));
  std::memcpy(bytes.data() + off, data, static_cast<std::size_t>(n) * sizeof(double));
}

json file_entry(const std::string& name, Index rows, Index cols, const std::string& description) {
  return {{"name", name}, {"shape", {rows, cols}}, {"order", "F"}, {"dtype", "<f8"}, {"description", description}};
}

}  // namespace

Mat<double> read_raw_f64(const fs::path& path, Index rows, Index cols) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DataError("missing file '" + path.string() + "' (listed in the manifest)");
  std::uint64_t expected = 0;
  if (rows < 0 || cols < 0 ||
      __builtin_mul_overflow(static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(cols), &expected) ||
      __builtin_mul_overflow(expected, std::uint64_t{8}, &expected) || expected > kMaxRawBytes)
    throw DataError("'" + path.string() + "': a " + std::to_string(rows) + "x" + std::to_string(cols) +
                    " float64 array is more than the " + std::to_string(kMaxRawBytes) + " bytes this reader accepts");
  // Refuses a folder, FIFO or device, and a file far larger than expected,
  // before reading anything.
  InputFile in(path, kMaxRawBytes);
  if (in.size() != expected)
    throw DataError("'" + path.string() + "': expected " + std::to_string(expected) + " bytes (" +
                    std::to_string(rows) + "x" + std::to_string(cols) + " float64), found " + std::to_string(in.size()));
  Mat<double> out(rows, cols);
  if (in.read(out.data(), static_cast<std::size_t>(expected)) != expected)
    throw DataError("cannot read '" + path.string() + "': short read");
  return out;
}

bool ReferenceCase::has_after() const {
  for (std::size_t l = 1; l <= num_layers(); ++l)
    if (!has_file(W_name(l, "after")) || !has_file(b_name(l, "after"))) return false;
  return true;
}

Mat<double> ReferenceCase::load(const std::string& name) const {
  const auto it = files.find(name);
  if (it == files.end())
    throw DataError(manifest_path(dir) + ": field 'files': no entry named '" + name + "'");
  return read_raw_f64(dir / name, it->second.rows, it->second.cols);
}

ReferenceCase parse_reference_manifest(const fs::path& dir, json manifest) {
  ReferenceCase c;
  c.dir = dir;
  c.manifest = std::move(manifest);
  const json& m = c.manifest;
  if (!m.is_object())
    throw DataError(manifest_path(dir) + ": expected a JSON object, found " + json_excerpt(m));
  const json& layers = require(dir, m, "layers", "");
  if (!layers.is_array() || layers.size() < 2) bad_field(dir, "layers", "expected at least two widths, found " + json_excerpt(layers));
  for (const auto& w : layers) {
    if (!w.is_number_integer() || w.get<long long>() < 1)
      bad_field(dir, "layers", "expected positive integers, found " + json_excerpt(layers));
    c.layers.push_back(static_cast<Index>(w.get<long long>()));
  }
  const std::size_t L = c.num_layers();
  c.eta = require_positive(dir, require(dir, m, "eta", ""), "eta");
  const json& lambda = require(dir, m, "lambda", "");
  if (lambda.is_array()) {
    if (lambda.size() != L && lambda.size() != 1)
      bad_field(dir, "lambda", "expected 1 or " + std::to_string(L) + " values, found " + json_excerpt(lambda));
    for (const auto& v : lambda) c.lambda.push_back(require_positive(dir, v, "lambda"));
  } else {
    c.lambda.push_back(require_positive(dir, lambda, "lambda"));
  }

  const json& files = require(dir, m, "files", "");
  if (!files.is_array()) bad_field(dir, "files", "expected an array");
  for (std::size_t i = 0; i < files.size(); ++i) {
    const json& f = files[i];
    const std::string where = "files[" + std::to_string(i) + "].";
    const json& name = require(dir, f, "name", where);
    if (!name.is_string()) bad_field(dir, where + "name", "expected a string");
    const std::string n = name.get<std::string>();
    const std::string at = where + "(" + n + ").";
    const json& shape = require(dir, f, "shape", where);
    if (!shape.is_array() || shape.size() != 2 || !shape[0].is_number_integer() || !shape[1].is_number_integer() ||
        shape[0].get<long long>() < 0 || shape[1].get<long long>() < 0)
      bad_field(dir, at + "shape", "expected [rows, cols], found " + json_excerpt(shape));
    const json& dtype = require(dir, f, "dtype", where);
    if (dtype != "<f8") bad_field(dir, at + "dtype", "expected \"<f8\" (little-endian float64), found " + json_excerpt(dtype));
    const json& order = require(dir, f, "order", where);
    if (order != "F") bad_field(dir, at + "order", "expected \"F\" (column-major), found " + json_excerpt(order));
    c.files[n] = {n, static_cast<Index>(shape[0].get<long long>()), static_cast<Index>(shape[1].get<long long>())};
  }
  return c;
}

ReferenceCase read_reference_case(const fs::path& dir) {
  const fs::path mpath = dir / "manifest.json";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw DataError("reference case '" + dir.string() + "': not a folder");
  if (!fs::exists(mpath, ec)) throw DataError("missing file '" + mpath.string() + "'");
  ReferenceCase c = parse_reference_manifest(dir, read_json_file(mpath));
  const std::size_t L = c.num_layers();

  auto load_checked = [&](const std::string& name, Index rows, Index cols) {
    const auto it = c.files.find(name);
    if (it == c.files.end()) bad_field(dir, "files", "no entry for required file '" + name + "'");
    const ReferenceFileEntry& e = it->second;
    if (e.rows != rows || (cols >= 0 && e.cols != cols))
      bad_field(dir, "files(" + name + ").shape",
                "expected [" + std::to_string(rows) + ", " + (cols >= 0 ? std::to_string(cols) : "m") +
                    "] from 'layers', found [" + std::to_string(e.rows) + ", " + std::to_string(e.cols) + "]");
    return c.load(name);
  };
  c.X = load_checked("X.bin", c.layers.front(), -1);
  c.Y = load_checked("Y.bin", c.layers.back(), c.X.cols());
  for (std::size_t l = 1; l <= L; ++l) {
    c.W_before.push_back(load_checked(W_name(l, "before"), c.layers[l], c.layers[l - 1]));
    c.b_before.push_back(load_checked(b_name(l, "before"), c.layers[l], 1).col(0));
  }
  return c;
}

void write_reference_result(const fs::path& out_dir, const ReferenceCase& input,
                            const std::vector<Mat<double>>& W_after, const std::vector<Vec<double>>& b_after,
                            const std::vector<Mat<double>>& targets, const json& extra) {
  const std::size_t L = input.num_layers();
  if (W_after.size() != L || b_after.size() != L)
    throw std::invalid_argument("write_reference_result: expected one W and one b per layer");
  ensure_writable_dir(out_dir);
  json files = json::array();
  auto write_array = [&](const std::string& name, const double* data, Index rows, Index cols,
                         const std::string& description) {
    std::string bytes;
    put_raw_f64(bytes, data, rows * cols);
    write_file_atomic(out_dir / name, bytes);
    files.push_back(file_entry(name, rows, cols, description));
  };
  for (std::size_t l = 1; l <= L; ++l) {
    const Mat<double>& W = W_after[l - 1];
    const Vec<double>& b = b_after[l - 1];
    write_array(W_name(l, "after"), W.data(), W.rows(), W.cols(), "W_" + std::to_string(l) + " after one SIBP step");
    write_array(b_name(l, "after"), b.data(), b.size(), 1, "b_" + std::to_string(l) + " after one SIBP step");
  }
  if (!targets.empty()) {
    ensure_writable_dir(out_dir / "intermediate");
    // targets[i] is T of layer l = i + 1; the authors number neurons from
    // F{1} = X, so T_l is their F{l+1}.
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const Mat<double>& T = targets[i];
      const std::size_t l = i + 1;
      if (T.size() == 0) continue;
      write_array("intermediate/F" + std::to_string(l + 1) + "_target.bin", T.data(), T.rows(), T.cols(),
                  "target T_" + std::to_string(l) + " used to fit layer " + std::to_string(l));
    }
  }
  json manifest = {{"layers", input.layers},
                   {"eta", input.eta},
                   {"lambda", input.lambda.size() == 1 ? json(input.lambda[0]) : json(input.lambda)},
                   {"batch_size", input.X.cols()},
                   {"source_case", input.dir.string()},
                   {"files", files}};
  for (auto it = extra.begin(); it != extra.end(); ++it) manifest[it.key()] = it.value();
  write_file_atomic(out_dir / "manifest.json", manifest.dump(1) + "\n");
}

}  // namespace sibp
