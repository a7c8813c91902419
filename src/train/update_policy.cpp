#include "train/update_policy.hpp"

#include <cmath>

#include "core/error.hpp"
#include "core/format.hpp"

namespace sibp {

namespace {

[[noreturn]] void bad(const char* key, const std::string& what, double got) {
  throw OptionError(key, what + ", got " + format_number(got));
}

}  // namespace

void require_positive(const char* key, double value) {
  if (!(value > 0) || !std::isfinite(value)) bad(key, "expected a finite number > 0", value);
}

void require_nonnegative(const char* key, double value) {
  if (!(value >= 0) || !std::isfinite(value)) bad(key, "expected a finite number >= 0", value);
}

void require_unit_interval(const char* key, double value) {
  if (!(value >= 0 && value < 1)) bad(key, "expected a number in [0, 1)", value);
}

template <typename T>
void UpdatePolicy<T>::step(Network<T>& net, const Gradients<T>& grads) {
  const std::size_t L = net.num_param_layers();
  if (grads.dW.size() != L || grads.db.size() != L)
    throw std::invalid_argument("UpdateRule::step: gradients do not match the network's layers");
  W_.resize(L, Buffers(buffers_));
  b_.resize(L, Buffers(buffers_));
  ++t_;
  for (std::size_t l = 0; l < L; ++l) {
    Mat<T>& W = net.params(l).W;
    Vec<T>& b = net.params(l).b;
    update(Param(W.data(), W.rows(), W.cols()), Grad(grads.dW[l].data(), grads.dW[l].rows(), grads.dW[l].cols()),
           W_[l]);
    update(Param(b.data(), b.size(), 1), Grad(grads.db[l].data(), grads.db[l].size(), 1), b_[l]);
  }
}

template <typename T>
AlgorithmState<T> UpdatePolicy<T>::state() const {
  AlgorithmState<T> s;
  s.step = t_;
  const auto put = [&](const char* param, const std::vector<Buffers>& bufs) {
    for (std::size_t i = 0; i < bufs.size(); ++i)
      for (std::size_t k = 0; k < bufs[i].size(); ++k)
        if (bufs[i][k].size() > 0)
          s.tensors[param + std::to_string(k + 1) + "." + std::to_string(i)] = bufs[i][k];
  };
  put("W", W_);
  put("b", b_);
  return s;
}

template <typename T>
void UpdatePolicy<T>::restore(const AlgorithmState<T>& s, const Network<T>& net) {
  if (s.step < 0) throw DataError("optimizer state: negative step counter " + std::to_string(s.step));
  const std::size_t L = net.num_param_layers();
  std::vector<Buffers> W(L, Buffers(buffers_)), b(L, Buffers(buffers_));
  for (const auto& [name, value] : s.tensors) {
    // "W<k>.<i>" or "b<k>.<i>", k = 1..buffers_, i < L.
    const std::size_t dot = name.find('.');
    // A lambda may not capture a structured binding before C++20 (clang 14 refuses it).
    const std::string& key = name;
    const auto digits = [&key](std::size_t from, std::size_t to) {
      return to > from && to - from < 7 && key.find_first_not_of("0123456789", from) >= to;
    };
    std::size_t i = L, k = 0;
    const bool weight = !name.empty() && name[0] == 'W', bias = !name.empty() && name[0] == 'b';
    if (dot != std::string::npos && digits(1, dot) && digits(dot + 1, name.size())) {
      k = std::stoul(name.substr(1, dot - 1));
      i = std::stoul(name.substr(dot + 1));
    }
    if (i >= L || !(weight || bias) || k < 1 || k > static_cast<std::size_t>(buffers_))
      throw DataError("optimizer state: unexpected tensor '" + name + "'");
    const Index rows = weight ? net.params(i).W.rows() : net.params(i).b.size();
    const Index cols = weight ? net.params(i).W.cols() : 1;
    if (value.rows() != rows || value.cols() != cols)
      throw DataError("optimizer state: tensor '" + name + "' is " + std::to_string(value.rows()) + "x" +
                      std::to_string(value.cols()) + ", expected " + std::to_string(rows) + "x" + std::to_string(cols));
    (weight ? W : b)[i][k - 1] = value;
  }
  t_ = s.step;
  W_ = std::move(W);
  b_ = std::move(b);
}

template class UpdatePolicy<float>;
template class UpdatePolicy<double>;

}  // namespace sibp
