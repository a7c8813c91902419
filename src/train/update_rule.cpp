#include "train/update_rule.hpp"

#include <cmath>

#include "core/error.hpp"
#include "core/format.hpp"

namespace sibp {

void UpdateOptions::validate() const {
  auto bad = [](const char* key, const std::string& what, double got) {
    throw OptionError(key, what + ", got " + format_number(got));
  };
  if (!(lr > 0) || !std::isfinite(lr)) bad("lr", "expected a finite number > 0", lr);
  if (!(momentum >= 0 && momentum < 1)) bad("momentum", "expected a number in [0, 1)", momentum);
  if (nesterov && momentum == 0) throw OptionError("nesterov", "requires momentum > 0 (--momentum)");
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
    bad("weight_decay", "expected a finite number >= 0", weight_decay);
  if (!(beta1 >= 0 && beta1 < 1)) bad("beta1", "expected a number in [0, 1)", beta1);
  if (!(beta2 >= 0 && beta2 < 1)) bad("beta2", "expected a number in [0, 1)", beta2);
  if (!(eps > 0) || !std::isfinite(eps)) bad("eps", "expected a finite number > 0", eps);
}

template <typename T>
UpdateRule<T>::UpdateRule(const UpdateOptions& options) : options_(options) {
  options_.validate();
}

template <typename T>
template <typename P>
void UpdateRule<T>::update_param(P& p, const P& g_in, P& buf1, P& buf2) {
  const T lr = static_cast<T>(options_.lr);
  const T wd = static_cast<T>(options_.weight_decay);
  // PyTorch adds weight decay to the gradient before anything else.
  const bool decay = options_.weight_decay != 0;
  if (options_.kind == UpdateKind::SGD) {
    const T mu = static_cast<T>(options_.momentum);
    if (options_.momentum == 0) {
      if (decay)
        p.array() -= lr * (g_in.array() + wd * p.array());
      else
        p.noalias() -= lr * g_in;
      return;
    }
    // torch.optim.SGD: buf = g on the first step, else mu*buf + g (no dampening).
    if (buf1.size() != p.size()) {
      buf1 = decay ? P(g_in + wd * p) : g_in;
    } else if (decay) {
      buf1 = mu * buf1 + g_in + wd * p;
    } else {
      buf1 = mu * buf1 + g_in;
    }
    if (options_.nesterov) {
      if (decay)
        p.array() -= lr * (g_in.array() + wd * p.array() + mu * buf1.array());
      else
        p.array() -= lr * (g_in.array() + mu * buf1.array());
    } else {
      p.noalias() -= lr * buf1;
    }
    return;
  }
  // torch.optim.Adam (coupled weight decay), bias correction from the shared step count.
  const T b1 = static_cast<T>(options_.beta1), b2 = static_cast<T>(options_.beta2);
  const T eps = static_cast<T>(options_.eps);
  if (buf1.size() != p.size()) {
    buf1 = P::Zero(p.rows(), p.cols());
    buf2 = P::Zero(p.rows(), p.cols());
  }
  const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t_));
  const T step_size = static_cast<T>(options_.lr / bc1);
  const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
  if (decay) {
    buf1.array() = b1 * buf1.array() + (T(1) - b1) * (g_in.array() + wd * p.array());
    buf2.array() = b2 * buf2.array() + (T(1) - b2) * (g_in.array() + wd * p.array()).square();
  } else {
    buf1.array() = b1 * buf1.array() + (T(1) - b1) * g_in.array();
    buf2.array() = b2 * buf2.array() + (T(1) - b2) * g_in.array().square();
  }
  p.array() -= step_size * buf1.array() / (buf2.array().sqrt() * inv_sqrt_bc2 + eps);
}

template <typename T>
void UpdateRule<T>::step(Network<T>& net, const Gradients<T>& grads) {
  const std::size_t L = net.num_param_layers();
  if (grads.dW.size() != L || grads.db.size() != L)
    throw std::invalid_argument("UpdateRule::step: gradients do not match the network's layers");
  W1_.resize(L);
  W2_.resize(L);
  b1_.resize(L);
  b2_.resize(L);
  ++t_;
  for (std::size_t l = 0; l < L; ++l) {
    update_param(net.params(l).W, grads.dW[l], W1_[l], W2_[l]);
    update_param(net.params(l).b, grads.db[l], b1_[l], b2_[l]);
  }
}

template <typename T>
AlgorithmState<T> UpdateRule<T>::state() const {
  AlgorithmState<T> s;
  s.step = t_;
  const auto put = [&](const char* name, const auto& bufs) {
    for (std::size_t i = 0; i < bufs.size(); ++i)
      if (bufs[i].size() > 0) s.tensors[std::string(name) + "." + std::to_string(i)] = bufs[i];
  };
  put("W1", W1_);
  put("W2", W2_);
  put("b1", b1_);
  put("b2", b2_);
  return s;
}

template <typename T>
void UpdateRule<T>::restore(const AlgorithmState<T>& s, const Network<T>& net) {
  if (s.step < 0) throw DataError("optimizer state: negative step counter " + std::to_string(s.step));
  const std::size_t L = net.num_param_layers();
  std::vector<Mat<T>> W1(L), W2(L);
  std::vector<Vec<T>> b1(L), b2(L);
  for (const auto& [name, value] : s.tensors) {
    const std::size_t dot = name.find('.');
    const std::string kind = name.substr(0, dot);
    std::size_t i = L;
    if (dot != std::string::npos && dot + 1 < name.size() &&
        name.find_first_not_of("0123456789", dot + 1) == std::string::npos && name.size() - dot < 8)
      i = std::stoul(name.substr(dot + 1));
    const bool weight = kind == "W1" || kind == "W2", bias = kind == "b1" || kind == "b2";
    if (i >= L || !(weight || bias)) throw DataError("optimizer state: unexpected tensor '" + name + "'");
    const Index rows = weight ? net.params(i).W.rows() : net.params(i).b.size();
    const Index cols = weight ? net.params(i).W.cols() : 1;
    if (value.rows() != rows || value.cols() != cols)
      throw DataError("optimizer state: tensor '" + name + "' is " + std::to_string(value.rows()) + "x" +
                      std::to_string(value.cols()) + ", expected " + std::to_string(rows) + "x" + std::to_string(cols));
    if (kind == "W1") W1[i] = value;
    if (kind == "W2") W2[i] = value;
    if (kind == "b1") b1[i] = value;
    if (kind == "b2") b2[i] = value;
  }
  t_ = s.step;
  W1_ = std::move(W1);
  W2_ = std::move(W2);
  b1_ = std::move(b1);
  b2_ = std::move(b2);
}

template class UpdateRule<float>;
template class UpdateRule<double>;

}  // namespace sibp
